use super::*;

use zedge_core::wire::frame::FrameHead;

/// A spool directory of its own, removed at the end.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!(
            "zedge-spool-{tag}-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        Dir(d)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Message `n` as ZMTP frames: a topic frame and a body frame naming it, `pad` bytes more.
fn msg(n: u64, pad: usize) -> Vec<u8> {
    let topic = b"sensor/1";
    let mut body = format!("{n}").into_bytes();
    body.resize(body.len() + pad, b'.');
    let mut m = FrameHead::data(topic.len() as u64, true)
        .encode()
        .as_slice()
        .to_vec();
    m.extend_from_slice(topic);
    m.extend_from_slice(
        FrameHead::data(body.len() as u64, false)
            .encode()
            .as_slice(),
    );
    m.extend_from_slice(&body);
    m
}

/// The number message `m` carries.
fn number(m: &[u8]) -> u64 {
    let (topic, used) = FrameHead::decode(m).unwrap().unwrap();
    let rest = &m[used + topic.len as usize..];
    let (_, used) = FrameHead::decode(rest).unwrap().unwrap();
    let body = &rest[used..];
    let digits: Vec<u8> = body
        .iter()
        .copied()
        .take_while(u8::is_ascii_digit)
        .collect();
    String::from_utf8(digits).unwrap().parse().unwrap()
}

fn small(dir: &Dir) -> SpoolConfig {
    SpoolConfig {
        dir: dir.0.clone(),
        max_bytes: 1 << 30,
        segment_bytes: 4096,
        block_bytes: 512,
        max_block: 64 << 10,
        readers: vec![String::new()],
    }
}

/// Take up to `most` messages out, in order, and say they were delivered.
fn drain(s: &mut Spool, most: usize) -> Vec<u64> {
    drain_reader(s, 0, most)
}

/// [`drain`] for reader `r`.
fn drain_reader(s: &mut Spool, r: ReaderId, most: usize) -> Vec<u64> {
    let out = take_out_reader(s, r, most);
    let mark = s.mark(r);
    s.delivered(r, mark).unwrap();
    out
}

/// Take up to `most` messages out, in order, not yet delivered.
fn take_out(s: &mut Spool, most: usize) -> Vec<u64> {
    take_out_reader(s, 0, most)
}

/// [`take_out`] for reader `r`.
fn take_out_reader(s: &mut Spool, r: ReaderId, most: usize) -> Vec<u64> {
    let mut out = Vec::new();
    while out.len() < most {
        let Some(m) = s.peek(r).unwrap() else { break };
        out.push(number(m));
        s.take(r).unwrap();
    }
    out
}

#[test]
fn crc32c_is_castagnoli() {
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    assert_eq!(crc32c(b""), 0);
}

#[test]
fn messages_come_out_in_order_across_blocks_and_segments() {
    let dir = Dir::new("order");
    let (mut s, rec) = Spool::open(small(&dir)).unwrap();
    assert_eq!(rec, Recovery::default());
    for n in 0..1000 {
        s.append(&msg(n, 20)).unwrap();
    }
    assert_eq!(s.messages(), 1000);
    assert!(s.segments.len() > 5, "{} segments", s.segments.len());
    assert_eq!(drain(&mut s, 400), (0..400).collect::<Vec<_>>());
    for n in 1000..1100 {
        s.append(&msg(n, 20)).unwrap();
    }
    assert_eq!(drain(&mut s, usize::MAX), (400..1100).collect::<Vec<_>>());
    assert!(s.is_empty());
    // Read through and delivered, the segments are gone, the newest too (attacker round 27,
    // G3: it was kept, and a small disk stayed full).
    assert_eq!(s.segments.len(), 0);
    let segs = fs::read_dir(&dir.0)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "seg")
        })
        .count();
    assert_eq!(segs, 0);
    // The next one is numbered past it.
    s.append(&msg(1100, 20)).unwrap();
    s.sync().unwrap();
    assert!(s.segments.len() == 1 && s.segments[0].seq > 1);
    assert_eq!(drain(&mut s, usize::MAX), vec![1100]);
}

#[test]
fn a_restart_resumes_where_sending_stood_at_the_last_sync_and_sends_none_twice() {
    let dir = Dir::new("restart");
    {
        let (mut s, _) = Spool::open(small(&dir)).unwrap();
        for n in 0..500 {
            s.append(&msg(n, 10)).unwrap();
        }
        assert_eq!(drain(&mut s, 123), (0..123).collect::<Vec<_>>());
        s.sync().unwrap();
    }
    let (mut s, rec) = Spool::open(small(&dir)).unwrap();
    assert!(!rec.cursor_lost);
    assert_eq!((rec.messages, s.messages()), (377, 377));
    assert_eq!(drain(&mut s, usize::MAX), (123..500).collect::<Vec<_>>());
}

#[test]
fn what_was_synced_survives_and_what_was_gathered_after_may_not() {
    let dir = Dir::new("unsynced");
    {
        let (mut s, _) = Spool::open(small(&dir)).unwrap();
        for n in 0..100 {
            s.append(&msg(n, 10)).unwrap();
        }
        s.sync().unwrap();
        // Gathered, less than a block: not written before the "crash".
        for n in 100..103 {
            s.append(&msg(n, 10)).unwrap();
        }
    }
    let (mut s, _) = Spool::open(small(&dir)).unwrap();
    assert_eq!(drain(&mut s, usize::MAX), (0..100).collect::<Vec<_>>());
}

#[test]
fn a_segment_cut_in_the_middle_of_a_message_loses_only_that_message() {
    let dir = Dir::new("torn");
    let path;
    {
        let (mut s, _) = Spool::open(small(&dir)).unwrap();
        for n in 0..50 {
            s.append(&msg(n, 10)).unwrap();
        }
        s.sync().unwrap();
        path = dir.0.join(segment_name(s.segments.back().unwrap().seq));
    }
    // Cut the last block in the middle of its last message.
    let len = fs::metadata(&path).unwrap().len();
    let last = msg(49, 10).len() as u64;
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - last / 2)
        .unwrap();
    let (mut s, rec) = Spool::open(small(&dir)).unwrap();
    assert_eq!(rec.torn.len(), 1, "{rec:?}");
    assert_eq!(
        rec.torn[0].2,
        last - last / 2,
        "the bytes of the cut message"
    );
    assert!(rec.corrupt.is_empty());
    assert_eq!(drain(&mut s, usize::MAX), (0..49).collect::<Vec<_>>());
    // The file was repaired: appending and reopening finds everything in order.
    s.append(&msg(50, 10)).unwrap();
    s.sync().unwrap();
    drop(s);
    let (mut s, rec) = Spool::open(small(&dir)).unwrap();
    assert_eq!((rec.torn.len(), rec.corrupt.len()), (0, 0), "{rec:?}");
    assert_eq!(drain(&mut s, usize::MAX), vec![50]);
}

#[test]
fn a_header_cut_short_loses_no_message() {
    let dir = Dir::new("torn-head");
    {
        let (mut s, _) = Spool::open(small(&dir)).unwrap();
        for n in 0..20 {
            s.append(&msg(n, 10)).unwrap();
        }
        s.sync().unwrap();
    }
    let path = dir.0.join(segment_name(1));
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&[7; BLOCK_HEAD - 3]).unwrap();
    drop(f);
    let (mut s, rec) = Spool::open(small(&dir)).unwrap();
    assert_eq!(rec.torn, vec![(1, rec.torn[0].1, (BLOCK_HEAD - 3) as u64)]);
    assert_eq!(drain(&mut s, usize::MAX), (0..20).collect::<Vec<_>>());
}

#[test]
fn a_block_that_fails_its_checksum_is_dropped_with_the_rest_of_its_segment() {
    let dir = Dir::new("corrupt");
    {
        let (mut s, _) = Spool::open(small(&dir)).unwrap();
        for n in 0..200 {
            s.append(&msg(n, 10)).unwrap();
        }
        s.sync().unwrap();
        assert!(s.segments.len() >= 2);
    }
    // Flip a byte in the second block of the first segment.
    let path = dir.0.join(segment_name(1));
    let mut bytes = fs::read(&path).unwrap();
    let first = BLOCK_HEAD + u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
    bytes[first + BLOCK_HEAD + 5] ^= 0x40;
    fs::write(&path, &bytes).unwrap();
    let (mut s, rec) = Spool::open(small(&dir)).unwrap();
    assert_eq!(rec.corrupt.len(), 1, "{rec:?}");
    assert_eq!(rec.corrupt[0].1, first as u64);
    let got = drain(&mut s, usize::MAX);
    // The first block, then the second segment on: in order, none twice.
    let mut sorted = got.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted, got);
    assert_eq!(got[0], 0);
    assert_eq!(*got.last().unwrap(), 199);
    assert!(got.len() < 200);
}

#[test]
fn past_max_bytes_the_oldest_segment_goes_counted() {
    let dir = Dir::new("max");
    let cfg = SpoolConfig {
        max_bytes: 16 << 10,
        ..small(&dir)
    };
    let (mut s, _) = Spool::open(cfg).unwrap();
    for n in 0..2000 {
        s.append(&msg(n, 10)).unwrap();
    }
    s.sync().unwrap();
    assert!(s.bytes() <= (16 << 10) + 4096 + 512, "{}", s.bytes());
    let st = s.stats();
    assert!(st.dropped > 0 && st.dropped_segments > 0, "{st:?}");
    let got = drain(&mut s, usize::MAX);
    assert_eq!(got.len() as u64 + st.dropped, 2000);
    // What is left is the newest, in order.
    assert_eq!(*got.last().unwrap(), 1999);
    assert!(got.windows(2).all(|w| w[1] == w[0] + 1));
}

#[test]
fn write_amplification_of_small_messages_is_under_1_01() {
    let dir = Dir::new("amp");
    let (mut s, _) = Spool::open(SpoolConfig::new(dir.0.clone(), 256 << 20, 64 << 20)).unwrap();
    for n in 0..100_000 {
        s.append(&msg(n, 0)).unwrap();
        if n % 10_000 == 0 {
            s.sync().unwrap();
        }
    }
    s.sync().unwrap();
    let st = s.stats();
    let amp = st.written as f64 / st.appended_bytes as f64;
    assert!(amp < 1.01, "{amp}: {st:?}");
    assert_eq!(drain(&mut s, usize::MAX).len(), 100_000);
}

#[test]
fn messages_the_disk_had_nothing_older_than_are_sent_from_memory_and_never_written() {
    let dir = Dir::new("memory");
    let (mut s, _) = Spool::open(small(&dir)).unwrap();
    for n in 0..10 {
        s.append(&msg(n, 20)).unwrap();
    }
    assert_eq!(drain(&mut s, 4), (0..4).collect::<Vec<_>>());
    assert_eq!(s.messages(), 6);
    s.sync().unwrap();
    // Only the six unsent went to disk.
    let written = s.stats().written;
    assert_eq!(written, (BLOCK_HEAD + 6 * msg(0, 20).len()) as u64);
    drop(s);
    let (mut s, rec) = Spool::open(small(&dir)).unwrap();
    assert_eq!(rec.messages, 6);
    assert_eq!(drain(&mut s, usize::MAX), (4..10).collect::<Vec<_>>());
}

#[test]
fn a_directory_is_opened_by_one_spool_at_a_time() {
    let dir = Dir::new("lock");
    let (first, _) = Spool::open(small(&dir)).unwrap();
    let e = Spool::open(small(&dir)).unwrap_err();
    assert!(e.to_string().contains("in use"), "{e}");
    drop(first);
    assert!(Spool::open(small(&dir)).is_ok());
}

/// Attacker round 19, F1 and F6: a block read to send is checked. One whose bytes changed on
/// disk since it was written (or a length running past its segment) drops the rest of its
/// segment, counted; the next segments are sent; no garbage reaches the device.
#[test]
fn a_block_that_fails_its_check_when_read_drops_the_rest_of_its_segment_only() {
    let dir = Dir::new("readcheck");
    let (mut s, _) = Spool::open(small(&dir)).unwrap();
    for n in 0..400 {
        s.append(&msg(n, 20)).unwrap();
    }
    s.sync().unwrap();
    assert!(s.segments.len() >= 3, "{} segments", s.segments.len());
    let first = s.segments[0].seq;
    let first_msgs = s.segments[0].messages;
    // A byte of the first segment's second block, flipped on disk.
    let path = dir.0.join(segment_name(first));
    let mut bytes = fs::read(&path).unwrap();
    let len0 = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
    let at = BLOCK_HEAD + len0 + BLOCK_HEAD + 5;
    bytes[at] ^= 0x40;
    fs::write(&path, &bytes).unwrap();
    let got = drain(&mut s, usize::MAX);
    let stats = s.stats();
    assert_eq!(stats.corrupt, 1);
    // The first block's messages, then the next segments' from their first.
    let in_first_block = count_messages(&bytes[BLOCK_HEAD..BLOCK_HEAD + len0]);
    assert_eq!(
        &got[..in_first_block as usize],
        &(0..in_first_block).collect::<Vec<_>>()[..]
    );
    assert_eq!(got[in_first_block as usize], first_msgs);
    assert!(got.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(*got.last().unwrap(), 399);
    assert_eq!(stats.dropped, first_msgs - in_first_block);
    assert!(s.is_empty());
}

/// A message the device refused is taken out without counting as sent.
#[test]
fn a_skipped_message_counts_apart_from_the_sent() {
    let dir = Dir::new("skip");
    let (mut s, _) = Spool::open(small(&dir)).unwrap();
    for n in 0..3 {
        s.append(&msg(n, 0)).unwrap();
    }
    s.skip(0).unwrap();
    assert_eq!(drain(&mut s, usize::MAX), [1, 2]);
    assert_eq!((s.stats().taken, s.stats().skipped), (2, 1));
}

/// Attacker round 19, F6: a segment name that is a symlink is not the spool's: left alone,
/// and what it points to is not repaired (truncated).
#[test]
fn a_segment_that_is_a_symlink_is_left_alone() {
    let dir = Dir::new("symlink");
    fs::create_dir_all(&dir.0).unwrap();
    let target = dir.0.join("precious");
    fs::write(&target, b"not a spool segment").unwrap();
    std::os::unix::fs::symlink(&target, dir.0.join(segment_name(1))).unwrap();
    let (mut s, rec) = Spool::open(small(&dir)).unwrap();
    assert_eq!((rec.segments, rec.messages), (0, 0));
    assert!(s.is_empty());
    // New segments are numbered past it, and nothing is written through it.
    for n in 0..100 {
        s.append(&msg(n, 20)).unwrap();
    }
    s.sync().unwrap();
    assert_eq!(drain(&mut s, usize::MAX), (0..100).collect::<Vec<_>>());
    assert_eq!(fs::read(&target).unwrap(), b"not a spool segment");
}

/// Attacker round 19, F5: a block already sent whose bytes changed on disk is passed over at
/// a restart; the unsent messages after it in its segment are kept.
#[test]
fn a_bad_block_already_sent_costs_nothing_at_a_restart() {
    let dir = Dir::new("sentrot");
    let first_msgs;
    {
        let (mut s, _) = Spool::open(small(&dir)).unwrap();
        for n in 0..100 {
            s.append(&msg(n, 20)).unwrap();
        }
        s.sync().unwrap();
        first_msgs = s.segments[0].messages;
        // Past the first block of the first segment.
        let path = dir.0.join(segment_name(s.segments[0].seq));
        let bytes = fs::read(&path).unwrap();
        let len0 = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
        let in_first = count_messages(&bytes[BLOCK_HEAD..BLOCK_HEAD + len0]);
        assert_eq!(
            drain(&mut s, in_first as usize),
            (0..in_first).collect::<Vec<_>>()
        );
        // Into the second block, so that the cursor is past the first.
        drain(&mut s, 1);
        s.sync().unwrap();
        let mut bytes = bytes;
        bytes[BLOCK_HEAD + 3] ^= 0x40;
        fs::write(&path, &bytes).unwrap();
    }
    let (mut s, rec) = Spool::open(small(&dir)).unwrap();
    assert_eq!(rec.passed.len(), 1, "{rec:?}");
    assert!(rec.corrupt.is_empty(), "{rec:?}");
    let got = drain(&mut s, usize::MAX);
    assert_eq!(got.len() as u64, s.stats().taken);
    assert_eq!(*got.last().unwrap(), 99);
    assert!(got.windows(2).all(|w| w[1] == w[0] + 1), "{got:?}");
    assert!(got[0] < first_msgs, "{got:?}");
}

/// Attacker round 19, F6: a segment of garbage is not read whole at start: a header that says
/// more than any block of the spool can be ends it, and it is repaired (truncated).
#[test]
fn a_garbage_segment_is_not_read_whole() {
    let dir = Dir::new("garbage");
    fs::create_dir_all(&dir.0).unwrap();
    let path = dir.0.join(segment_name(1));
    // A header saying 4 GiB - 1, then a megabyte of noise.
    let mut junk = vec![0xffu8; 16];
    junk.extend((0..1u32 << 20).map(|i| (i * 7) as u8));
    fs::write(&path, &junk).unwrap();
    let (s, rec) = Spool::open(small(&dir)).unwrap();
    assert_eq!(rec.corrupt.len(), 1, "{rec:?}");
    assert!(s.is_empty());
    assert_eq!(fs::metadata(&path).map_or(0, |m| m.len()), 0);
}

/// Round 19, F4: a message of a block's worth or more, with nothing gathered before it, is
/// written as a block of its own from where it lies (not copied into the gathered bytes
/// first), and the gathered bytes' buffer is let go once a large message has left it.
#[test]
fn a_large_message_goes_to_disk_without_being_gathered_and_in_its_place() {
    let dir = Dir::new("large");
    let (mut s, _) = Spool::open(small(&dir)).unwrap();
    s.append(&msg(0, 20)).unwrap();
    let big = msg(1, 5000);
    // Behind a gathered one: gathered too, in order, and the block goes at once.
    s.append(&big).unwrap();
    assert!(s.pending.is_empty());
    assert!(s.pending.capacity() <= 2 * 512, "{}", s.pending.capacity());
    let written = s.stats().written;
    // Alone: written at once, never gathered.
    s.append(&msg(2, 5000)).unwrap();
    assert_eq!(s.stats().written, written + (BLOCK_HEAD + big.len()) as u64);
    assert_eq!(s.pending.capacity(), 0);
    s.append(&msg(3, 20)).unwrap();
    s.sync().unwrap();
    drop(s);
    // From disk after a restart, in order.
    let (mut s, _) = Spool::open(small(&dir)).unwrap();
    assert_eq!(drain(&mut s, usize::MAX), [0, 1, 2, 3]);
}

/// Attacker round 20, F1: messages taken out and not delivered when the spool stops (or the
/// process dies after a sync) are sent again, from disk, after a restart.
#[test]
fn messages_taken_out_and_not_delivered_are_sent_again_after_a_restart() {
    let dir = Dir::new("undelivered");
    {
        let (mut s, _) = Spool::open(small(&dir)).unwrap();
        for n in 0..300 {
            s.append(&msg(n, 20)).unwrap();
        }
        s.sync().unwrap();
        assert_eq!(drain(&mut s, 100), (0..100).collect::<Vec<_>>());
        // Handed on, their queue not written yet.
        assert_eq!(take_out(&mut s, 150), (100..250).collect::<Vec<_>>());
        assert_eq!(s.messages(), 50);
        s.sync().unwrap();
    }
    let (mut s, rec) = Spool::open(small(&dir)).unwrap();
    assert_eq!(rec.messages, 200);
    assert_eq!(drain(&mut s, usize::MAX), (100..300).collect::<Vec<_>>());
}

/// Marks are delivered in order: the cursor stands at the newest one delivered, and the
/// segments before it go only then.
#[test]
fn the_cursor_moves_to_the_newest_mark_delivered_and_segments_wait_for_it() {
    let dir = Dir::new("marks");
    let (mut s, _) = Spool::open(small(&dir)).unwrap();
    for n in 0..1000 {
        s.append(&msg(n, 20)).unwrap();
    }
    let segs = s.segments.len();
    assert!(segs > 5);
    take_out(&mut s, 400);
    let a = s.mark(0);
    take_out(&mut s, 400);
    s.mark(0);
    assert_eq!(s.marks(0), 2);
    // Read through several segments, none delivered: all kept.
    assert_eq!(s.segments.len(), segs);
    s.delivered(0, a).unwrap();
    assert_eq!(s.marks(0), 1);
    let kept = s.segments.len();
    assert!(kept < segs && kept > 1, "{kept} of {segs}");
    s.sync().unwrap();
    drop(s);
    let (mut s, rec) = Spool::open(small(&dir)).unwrap();
    assert_eq!(rec.messages, 600);
    assert_eq!(take_out(&mut s, 1), vec![400]);
}

/// Messages taken out of those gathered (the disk held nothing older) and not delivered when
/// the block is written go to disk with it, behind the cursor: a restart sends them again.
#[test]
fn gathered_messages_taken_out_and_not_delivered_are_written_with_the_block() {
    let dir = Dir::new("gathered");
    {
        let (mut s, _) = Spool::open(small(&dir)).unwrap();
        for n in 0..10 {
            s.append(&msg(n, 20)).unwrap();
        }
        assert_eq!(drain(&mut s, 3), vec![0, 1, 2]);
        let a = s.mark(0);
        assert_eq!(take_out(&mut s, 4), vec![3, 4, 5, 6]);
        // Placed, never delivered: 3 to 6 stay to send.
        s.mark(0);
        s.delivered(0, a).unwrap();
        s.sync().unwrap();
        // 3 to 9 written: 3 to 6 taken, 7 to 9 not.
        assert_eq!(s.messages(), 3);
        let written = s.stats().written;
        assert_eq!(written, (BLOCK_HEAD + 7 * msg(0, 20).len()) as u64);
        // Taking out goes on from the block.
        assert_eq!(take_out(&mut s, 1), vec![7]);
        s.sync().unwrap();
    }
    let (mut s, rec) = Spool::open(small(&dir)).unwrap();
    assert_eq!(rec.messages, 7);
    assert_eq!(drain(&mut s, usize::MAX), (3..10).collect::<Vec<_>>());
}

/// A mark placed among gathered messages and delivered after they were written stands in
/// the block: the restart begins right after it.
#[test]
fn a_mark_among_gathered_messages_follows_them_to_disk() {
    let dir = Dir::new("gmark");
    {
        let (mut s, _) = Spool::open(small(&dir)).unwrap();
        for n in 0..10 {
            s.append(&msg(n, 20)).unwrap();
        }
        take_out(&mut s, 5);
        let a = s.mark(0);
        s.sync().unwrap();
        assert_eq!(take_out(&mut s, 2), vec![5, 6]);
        s.delivered(0, a).unwrap();
        s.sync().unwrap();
    }
    let (mut s, rec) = Spool::open(small(&dir)).unwrap();
    assert_eq!(rec.messages, 5);
    assert_eq!(drain(&mut s, usize::MAX), (5..10).collect::<Vec<_>>());
}

/// What a run of appends, takes, marks, deliveries, syncs and restarts must keep, for each of
/// `readers` readers going at their own pace: after a restart, the messages come out in
/// order, from no later than the first the reader had not had delivered (earlier ones again,
/// if delivered since the last sync), through every one synced (after a crash) or appended
/// (after a clean stop); none is lost.
fn restarts_lose_nothing(seed: u64, readers: usize) {
    let dir = Dir::new(&format!("model{seed}-{readers}"));
    let mut rng = fastrand::Rng::with_seed(seed);
    let names: Vec<String> = (0..readers).map(|r| format!("tcp://up{r}:5561")).collect();
    let cfg = || SpoolConfig {
        readers: names.clone(),
        ..small(&dir)
    };
    let (mut s, _) = Spool::open(cfg()).unwrap();
    // The model: messages appended (numbered from 0) and the count appended at the last
    // sync; for each reader, those it took out, the taken count at each of its marks, and
    // the count delivered.
    let (mut appended, mut synced) = (0u64, 0u64);
    let mut taken = vec![0u64; readers];
    let mut delivered = vec![0u64; readers];
    let mut marks: Vec<VecDeque<(u64, u64)>> = vec![VecDeque::new(); readers];
    // The first message of this life (those before were checked at the restart).
    let mut base = 0u64;
    let trace = std::env::var_os("SPOOL_TRACE").is_some();
    for step in 0..400 {
        let r = rng.usize(..readers);
        if trace {
            let rd = &s.readers[r];
            eprintln!(
                "step {step} reader {r}: appended {appended} taken {taken:?} delivered {delivered:?} synced {synced} marks {marks:?} pending {} sent {} durable {:?} cursor {:?}",
                s.pending_msgs, rd.pending_sent_msgs, rd.delivered, rd.cursor
            );
        }
        match rng.u8(..100) {
            0..=34 => {
                for _ in 0..rng.usize(1..6) {
                    s.append(&msg(appended, rng.usize(0..300))).unwrap();
                    appended += 1;
                }
            }
            35..=59 => {
                for _ in 0..rng.usize(1..8) {
                    let Some(m) = s.peek(r).unwrap() else { break };
                    assert_eq!(number(m), taken[r], "seed {seed} step {step}: in order");
                    s.take(r).unwrap();
                    taken[r] += 1;
                }
            }
            60..=71 => marks[r].push_back((s.mark(r), taken[r])),
            72..=83 if !marks[r].is_empty() => {
                let (id, at) = marks[r][rng.usize(..marks[r].len())];
                s.delivered(r, id).unwrap();
                while marks[r].front().is_some_and(|m| m.0 <= id) {
                    marks[r].pop_front();
                }
                delivered[r] = delivered[r].max(at);
            }
            84..=93 => {
                s.sync().unwrap();
                synced = appended;
            }
            _ => {
                let clean = rng.bool();
                if clean {
                    s.sync().unwrap();
                    synced = appended;
                }
                drop(s);
                let (mut again, rec) = Spool::open(cfg()).unwrap();
                assert!(rec.readers_new.is_empty() && rec.readers_gone.is_empty());
                let mut next = appended;
                for (r, &done) in delivered.iter().enumerate() {
                    let got = drain_reader(&mut again, r, usize::MAX);
                    assert!(
                        got.windows(2).all(|w| w[1] > w[0]),
                        "seed {seed} step {step} reader {r}: in order: {got:?}"
                    );
                    // Some delivered since the last sync may come again, with gaps (those
                    // sent from memory and delivered before a block was written never
                    // were); from the first not delivered on, none is skipped, through
                    // every one that must be there.
                    let must = if clean { appended } else { synced };
                    let lo = done.max(base);
                    let needed: Vec<u64> = got.iter().copied().filter(|&n| n >= lo).collect();
                    if must > lo {
                        assert_eq!(
                            needed.first(),
                            Some(&lo),
                            "seed {seed} step {step} reader {r}: starts at the first not \
                             delivered: {got:?}"
                        );
                        assert!(
                            needed.windows(2).all(|w| w[1] == w[0] + 1),
                            "seed {seed} step {step} reader {r}: none missing: {got:?}"
                        );
                    }
                    let last = needed.last().map_or(lo, |l| l + 1);
                    assert!(
                        last >= must,
                        "seed {seed} step {step} reader {r}: ends at {last}, {must} must be \
                         there (delivered to {lo}, clean {clean}): {got:?}"
                    );
                    next = next.max(last);
                }
                // Everything out and delivered: the next life starts after it.
                s = again;
                base = next;
                appended = base;
                synced = base;
                taken.fill(base);
                delivered.fill(base);
                marks.iter_mut().for_each(VecDeque::clear);
                // Numbers go on from `base`: what the spool still holds is nothing.
                assert!(s.is_empty());
            }
        }
    }
}

#[test]
fn no_run_of_takes_marks_deliveries_syncs_and_restarts_loses_a_message() {
    for seed in 0..40 {
        restarts_lose_nothing(seed, 1);
    }
}

#[test]
fn readers_at_their_own_pace_each_lose_nothing_across_restarts() {
    for seed in 0..40 {
        restarts_lose_nothing(seed, 3);
    }
}

/// A spool with readers named `names`, in `dir`.
fn with_readers(dir: &Dir, names: &[&str]) -> SpoolConfig {
    SpoolConfig {
        readers: names.iter().map(|n| n.to_string()).collect(),
        ..small(dir)
    }
}

#[test]
fn each_reader_takes_every_message_and_a_segment_goes_once_both_had_it_delivered() {
    let dir = Dir::new("two");
    let (mut s, _) = Spool::open(with_readers(&dir, &["tcp://a:1", "tcp://b:1"])).unwrap();
    let (a, b) = (
        s.reader("tcp://a:1").unwrap(),
        s.reader("tcp://b:1").unwrap(),
    );
    for n in 0..300 {
        s.append(&msg(n, 20)).unwrap();
    }
    s.sync().unwrap();
    let segments = s.segments.len();
    assert!(segments >= 3, "{segments} segments");
    assert_eq!(
        drain_reader(&mut s, a, usize::MAX),
        (0..300).collect::<Vec<_>>()
    );
    assert_eq!((s.left(a), s.left(b)), (0, 300));
    assert_eq!(s.messages(), 300, "the reader furthest behind's");
    // b has had nothing delivered: every segment stays.
    assert_eq!(s.segments.len(), segments);
    assert_eq!(drain_reader(&mut s, b, 200), (0..200).collect::<Vec<_>>());
    assert!(s.segments.len() < segments && s.segments.len() > 1);
    assert_eq!(
        drain_reader(&mut s, b, usize::MAX),
        (200..300).collect::<Vec<_>>()
    );
    assert_eq!(s.segments.len(), 0, "the newest goes too");
    assert!(s.is_empty());
    assert_eq!(s.stats().taken, 600);
}

#[test]
fn each_reader_resumes_where_its_own_delivered_stood_at_the_last_sync() {
    let dir = Dir::new("resume2");
    let names = ["tcp://a:1", "tcp://b:1", "ipc:///run/c"];
    {
        let (mut s, _) = Spool::open(with_readers(&dir, &names)).unwrap();
        for n in 0..200 {
            s.append(&msg(n, 20)).unwrap();
        }
        drain_reader(&mut s, 0, 150);
        drain_reader(&mut s, 1, 30);
        // Taken and not delivered: sent again.
        take_out_reader(&mut s, 2, 80);
        s.sync().unwrap();
    }
    let text = fs::read_to_string(dir.0.join("cursor")).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(
        text.lines().all(|l| l.split_whitespace().count() == 4),
        "{text}"
    );
    // In another order, as a configuration may list them.
    let (mut s, rec) = Spool::open(with_readers(
        &dir,
        &["ipc:///run/c", "tcp://b:1", "tcp://a:1"],
    ))
    .unwrap();
    assert!(rec.readers_new.is_empty() && rec.readers_gone.is_empty() && !rec.cursor_lost);
    let got = |s: &mut Spool, name| {
        let r = s.reader(name).unwrap();
        drain_reader(s, r, usize::MAX)
    };
    assert_eq!(got(&mut s, "tcp://a:1"), (150..200).collect::<Vec<_>>());
    assert_eq!(got(&mut s, "tcp://b:1"), (30..200).collect::<Vec<_>>());
    assert_eq!(got(&mut s, "ipc:///run/c"), (0..200).collect::<Vec<_>>());
}

#[test]
fn a_cursor_file_of_one_reader_stands_for_every_reader_and_a_new_name_starts_at_the_earliest() {
    let dir = Dir::new("legacy");
    {
        // A spool of one reader, as zedge before readers wrote it: one line, no name.
        let (mut s, _) = Spool::open(small(&dir)).unwrap();
        for n in 0..100 {
            s.append(&msg(n, 20)).unwrap();
        }
        drain(&mut s, 40);
        s.sync().unwrap();
    }
    let text = fs::read_to_string(dir.0.join("cursor")).unwrap();
    assert_eq!(text.split_whitespace().count(), 3, "{text}");
    {
        let (mut s, rec) = Spool::open(with_readers(&dir, &["tcp://a:1", "tcp://b:1"])).unwrap();
        assert!(rec.readers_new.is_empty(), "{rec:?}");
        assert_eq!(drain_reader(&mut s, 0, 20), (40..60).collect::<Vec<_>>());
        assert_eq!(drain_reader(&mut s, 1, 10), (40..50).collect::<Vec<_>>());
        s.sync().unwrap();
    }
    // b renamed (its endpoint changed): the new name starts where the earliest reader stood,
    // and the old name's line is gone.
    let (mut s, rec) = Spool::open(with_readers(&dir, &["tcp://a:1", "tcp://b2:1"])).unwrap();
    assert_eq!(rec.readers_new, vec!["tcp://b2:1".to_string()]);
    assert_eq!(rec.readers_gone, vec!["tcp://b:1".to_string()]);
    assert_eq!(
        drain_reader(&mut s, 0, usize::MAX),
        (60..100).collect::<Vec<_>>()
    );
    assert_eq!(
        drain_reader(&mut s, 1, usize::MAX),
        (50..100).collect::<Vec<_>>()
    );
}

#[test]
fn readers_need_names_of_their_own() {
    let dir = Dir::new("names");
    for names in [&["a", "a"][..], &["tcp://a b"][..]] {
        let e = Spool::open(with_readers(&dir, names)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{names:?}");
    }
}

/// A block found bad by one reader is passed over by the other, the loss counted once; the
/// reader that read it before it went bad is not set back.
#[test]
fn a_block_found_bad_by_one_reader_is_passed_over_by_the_others_counted_once() {
    let dir = Dir::new("badtwo");
    let (mut s, _) = Spool::open(with_readers(&dir, &["a", "b", "c"])).unwrap();
    for n in 0..400 {
        s.append(&msg(n, 20)).unwrap();
    }
    s.sync().unwrap();
    let first = s.segments[0].seq;
    let (first_msgs, later) = (s.segments[0].messages, 400 - s.segments[0].messages);
    // c reads the whole first segment before it goes bad.
    let c_first = take_out_reader(&mut s, 2, first_msgs as usize);
    assert_eq!(c_first, (0..first_msgs).collect::<Vec<_>>());
    let path = dir.0.join(segment_name(first));
    let mut bytes = fs::read(&path).unwrap();
    let len0 = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
    bytes[BLOCK_HEAD + len0 + BLOCK_HEAD + 5] ^= 0x40;
    fs::write(&path, &bytes).unwrap();
    let in_first_block = count_messages(&bytes[BLOCK_HEAD..BLOCK_HEAD + len0]);
    let a = drain_reader(&mut s, 0, usize::MAX);
    let b = drain_reader(&mut s, 1, usize::MAX);
    let c = drain_reader(&mut s, 2, usize::MAX);
    let expect: Vec<u64> = (0..in_first_block).chain(first_msgs..400).collect();
    assert_eq!(a, expect);
    assert_eq!(b, expect);
    assert_eq!(c, (first_msgs..400).collect::<Vec<_>>());
    let st = s.stats();
    assert_eq!(st.corrupt, 1);
    assert_eq!(st.dropped, first_msgs - in_first_block);
    assert_eq!((s.left(0), s.left(1), s.left(2)), (0, 0, 0));
    assert_eq!(later + in_first_block, a.len() as u64);
}

/// Past `max_bytes` the oldest segment goes for every reader: the one furthest behind loses
/// it (counted once), and each goes on from the oldest kept.
#[test]
fn past_max_bytes_a_reader_behind_goes_on_from_the_oldest_segment_kept() {
    let dir = Dir::new("maxtwo");
    let cfg = SpoolConfig {
        max_bytes: 16 << 10,
        ..with_readers(&dir, &["a", "b"])
    };
    let (mut s, _) = Spool::open(cfg).unwrap();
    let mut a = Vec::new();
    for n in 0..2000 {
        s.append(&msg(n, 10)).unwrap();
        // a keeps up; b takes nothing.
        a.extend(drain_reader(&mut s, 0, usize::MAX));
    }
    a.extend(drain_reader(&mut s, 0, usize::MAX));
    assert_eq!(
        a,
        (0..2000).collect::<Vec<_>>(),
        "a keeps up and loses none"
    );
    let st = s.stats();
    assert!(st.dropped > 0 && st.dropped_segments > 0, "{st:?}");
    let b = drain_reader(&mut s, 1, usize::MAX);
    assert_eq!(
        b.len() as u64 + st.dropped,
        2000,
        "b lost what was dropped: {st:?}"
    );
    assert!(b.windows(2).all(|w| w[1] == w[0] + 1));
    assert_eq!(b.last(), Some(&1999));
}

/// A reader whose receivers had messages live passes over them: it takes what comes after,
/// and, once a mark placed after them is delivered, holds no segment back.
#[test]
fn a_reader_that_passes_takes_what_comes_after_and_holds_nothing_back() {
    let dir = Dir::new("pass");
    let (mut s, _) = Spool::open(with_readers(&dir, &["live", "away"])).unwrap();
    for n in 0..300 {
        s.append(&msg(n, 20)).unwrap();
        if n % 7 == 0 {
            s.pass(0);
        }
    }
    s.pass(0);
    assert_eq!(s.left(0), 0);
    let mark = s.mark(0);
    s.delivered(0, mark).unwrap();
    for n in 300..320 {
        s.append(&msg(n, 20)).unwrap();
    }
    s.sync().unwrap();
    assert_eq!(
        drain_reader(&mut s, 0, usize::MAX),
        (300..320).collect::<Vec<_>>()
    );
    assert_eq!(
        s.stats().taken,
        20,
        "what was passed is not counted as taken"
    );
    let segments = s.segments.len();
    assert!(segments > 1);
    assert_eq!(
        drain_reader(&mut s, 1, usize::MAX),
        (0..320).collect::<Vec<_>>()
    );
    assert_eq!(s.segments.len(), 0, "delivered to both: none is kept");
    // Across a restart, each where it stood.
    for n in 320..330 {
        s.append(&msg(n, 20)).unwrap();
    }
    s.pass(0);
    let mark = s.mark(0);
    s.delivered(0, mark).unwrap();
    s.sync().unwrap();
    drop(s);
    let (mut s, _) = Spool::open(with_readers(&dir, &["live", "away"])).unwrap();
    assert_eq!(s.left(0), 0);
    assert_eq!(
        drain_reader(&mut s, 1, usize::MAX),
        (320..330).collect::<Vec<_>>()
    );
}

/// Attacker round 25, L1 and L2: a cursor line that is no message's start (inside a block,
/// or past its end) made the spool unopenable for every reader, or lost that reader's
/// first block. Now that reader starts at the oldest message, said; the others are as saved.
#[test]
fn a_cursor_line_that_is_no_messages_start_sends_that_reader_everything_kept() {
    let dir = Dir::new("badline");
    let names = ["a", "b", "c", "d"];
    {
        let (mut s, _) = Spool::open(with_readers(&dir, &names)).unwrap();
        for n in 0..100 {
            s.append(&msg(n, 20)).unwrap();
        }
        s.sync().unwrap();
    }
    let len0 = {
        let bytes = fs::read(dir.0.join(segment_name(1))).unwrap();
        u32::from_le_bytes(bytes[..4].try_into().unwrap()) as u64
    };
    let block1 = BLOCK_HEAD as u64 + len0;
    // a: inside the first block's header; b: past the first block's end; c: inside a
    // message; d: a sound position, the second block's start.
    let text = format!("1 5 0 a\n1 0 {} b\n1 0 3 c\n1 {block1} 0 d\n", len0 + 7);
    fs::write(dir.0.join("cursor"), text).unwrap();
    let (mut s, rec) = Spool::open(with_readers(&dir, &names)).unwrap();
    assert_eq!(rec.readers_reset, vec!["a", "b", "c"], "{rec:?}");
    let all: Vec<u64> = (0..100).collect();
    for r in 0..3 {
        assert_eq!(drain_reader(&mut s, r, usize::MAX), all, "reader {r}");
    }
    let d = drain_reader(&mut s, 3, usize::MAX);
    assert_eq!(d.last(), Some(&99));
    assert!(d.len() < 100 && d.windows(2).all(|w| w[1] == w[0] + 1));
}

#[test]
fn messages_for_one_reader_are_passed_over_by_the_others_across_a_restart() {
    let dir = Dir::new("only");
    let names = ["tcp://a:1", "tcp://b:1", "tcp://c:1"];
    {
        let (mut s, _) = Spool::open(with_readers(&dir, &names)).unwrap();
        for n in 0..10 {
            s.append(&msg(n, 20)).unwrap();
        }
        // Gathered ones are written first: what is only b's comes after them.
        let only_b: Vec<Vec<u8>> = (100..160).map(|n| msg(n, 20)).collect();
        s.append_for(1, &only_b).unwrap();
        for n in 10..20 {
            s.append(&msg(n, 20)).unwrap();
        }
        // Each has its own to send, not the others' (attacker round 27, G7).
        assert_eq!([s.left(0), s.left(1), s.left(2)], [20, 80, 20]);
        assert_eq!(s.messages(), 80);
        // a reads some before and after; c reads nothing yet.
        assert_eq!(drain_reader(&mut s, 0, 5), (0..5).collect::<Vec<_>>());
        assert_eq!(s.left(0), 15);
        s.sync().unwrap();
    }
    let (mut s, rec) = Spool::open(with_readers(&dir, &names)).unwrap();
    assert_eq!(
        [s.left(0), s.left(1), s.left(2)],
        [15, 80, 20],
        "after a restart"
    );
    assert_eq!(rec.messages, 80);
    // a passes over b's: they were never its to count.
    assert_eq!(drain_reader(&mut s, 0, 6), (5..11).collect::<Vec<_>>());
    assert_eq!(s.left(0), 9);
    assert_eq!(
        drain_reader(&mut s, 0, usize::MAX),
        (11..20).collect::<Vec<_>>()
    );
    let want_b: Vec<u64> = (0..10).chain(100..160).chain(10..20).collect();
    assert_eq!(drain_reader(&mut s, 1, usize::MAX), want_b);
    assert_eq!(
        drain_reader(&mut s, 2, usize::MAX),
        (0..20).collect::<Vec<_>>()
    );
    assert!(s.is_empty(), "{}", s.messages());
    assert_eq!(s.segments.len(), 0, "none is kept");
}

#[test]
fn a_block_time_field_keeps_its_time_and_its_readers_apart() {
    let t = 1_796_000_000_000; // December 2026, in ms
    assert_eq!(stamp_parts(stamp(t, 0)), (t, 0));
    assert_eq!(stamp_parts(stamp(t, 0b100)), (t, 0b100));
    assert!(block_for(0, 5) && block_for(0b100, 2) && !block_for(0b100, 1));
    assert!(
        !block_for(0b1, 9),
        "a ninth reader has no bit: none of these is its own"
    );
}

/// Attacker round 27, G3: with every segment sent and deleted, the newest too, the cursor
/// file still names where the readers stood. A restart then finds no segment: the next one
/// is numbered past what the cursors name, so its messages are read, not taken for ones
/// before the cursor.
#[test]
fn a_spool_emptied_to_the_last_segment_starts_numbering_past_its_cursors_after_a_restart() {
    let dir = Dir::new("emptied");
    {
        let (mut s, _) = Spool::open(small(&dir)).unwrap();
        for n in 0..300 {
            s.append(&msg(n, 20)).unwrap();
        }
        s.sync().unwrap();
        assert_eq!(drain(&mut s, usize::MAX), (0..300).collect::<Vec<_>>());
        s.sync().unwrap();
        assert!(s.segments.is_empty());
    }
    let segs = || {
        fs::read_dir(&dir.0)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "seg")
            })
            .count()
    };
    assert_eq!(segs(), 0, "no segment left on disk");
    let (mut s, rec) = Spool::open(small(&dir)).unwrap();
    assert_eq!(rec.messages, 0);
    for n in 300..310 {
        s.append(&msg(n, 20)).unwrap();
    }
    s.sync().unwrap();
    drop(s);
    let (mut s, rec) = Spool::open(small(&dir)).unwrap();
    assert_eq!(rec.messages, 10);
    assert_eq!(drain(&mut s, usize::MAX), (300..310).collect::<Vec<_>>());
}
