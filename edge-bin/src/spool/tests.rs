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
    }
}

/// Take up to `most` messages out, in order, and say they were delivered.
fn drain(s: &mut Spool, most: usize) -> Vec<u64> {
    let out = take_out(s, most);
    let mark = s.mark();
    s.delivered(mark).unwrap();
    out
}

/// Take up to `most` messages out, in order, not yet delivered.
fn take_out(s: &mut Spool, most: usize) -> Vec<u64> {
    let mut out = Vec::new();
    while out.len() < most {
        let Some(m) = s.peek().unwrap() else { break };
        out.push(number(m));
        s.take().unwrap();
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
    // Read through, the segments but the newest are gone.
    assert_eq!(s.segments.len(), 1);
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
    assert_eq!(segs, 1);
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
    s.skip().unwrap();
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
    assert_eq!(fs::metadata(&path).unwrap().len(), 0);
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
    let a = s.mark();
    take_out(&mut s, 400);
    s.mark();
    assert_eq!(s.marks(), 2);
    // Read through several segments, none delivered: all kept.
    assert_eq!(s.segments.len(), segs);
    s.delivered(a).unwrap();
    assert_eq!(s.marks(), 1);
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
        let a = s.mark();
        assert_eq!(take_out(&mut s, 4), vec![3, 4, 5, 6]);
        // Placed, never delivered: 3 to 6 stay to send.
        s.mark();
        s.delivered(a).unwrap();
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
        let a = s.mark();
        s.sync().unwrap();
        assert_eq!(take_out(&mut s, 2), vec![5, 6]);
        s.delivered(a).unwrap();
        s.sync().unwrap();
    }
    let (mut s, rec) = Spool::open(small(&dir)).unwrap();
    assert_eq!(rec.messages, 5);
    assert_eq!(drain(&mut s, usize::MAX), (5..10).collect::<Vec<_>>());
}

/// What a run of appends, takes, marks, deliveries, syncs and restarts must keep: after a
/// restart, the messages come out in order, from no later than the first not delivered
/// (earlier ones again, if delivered since the last sync), through every one synced (after a
/// crash) or appended (after a clean stop); none is lost.
fn restarts_lose_nothing(seed: u64) {
    let dir = Dir::new(&format!("model{seed}"));
    let mut rng = fastrand::Rng::with_seed(seed);
    let (mut s, _) = Spool::open(small(&dir)).unwrap();
    // The model: messages appended (numbered from 0), those taken out, the taken count at
    // each mark, the count delivered, and the count appended at the last sync.
    let (mut appended, mut taken, mut delivered, mut synced) = (0u64, 0u64, 0u64, 0u64);
    // The first message of this life (those before were checked at the restart).
    let mut base = 0u64;
    let mut marks: VecDeque<(u64, u64)> = VecDeque::new();
    let trace = std::env::var_os("SPOOL_TRACE").is_some();
    for step in 0..400 {
        if trace {
            eprintln!(
                "step {step}: appended {appended} taken {taken} delivered {delivered} synced {synced} marks {marks:?} pending {} sent {} durable {:?} cursor {:?}",
                s.pending_msgs, s.pending_sent_msgs, s.delivered, s.cursor
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
                    let Some(m) = s.peek().unwrap() else { break };
                    assert_eq!(number(m), taken, "seed {seed} step {step}: in order");
                    s.take().unwrap();
                    taken += 1;
                }
            }
            60..=71 => marks.push_back((s.mark(), taken)),
            72..=83 if !marks.is_empty() => {
                let (id, at) = marks[rng.usize(..marks.len())];
                s.delivered(id).unwrap();
                while marks.front().is_some_and(|m| m.0 <= id) {
                    marks.pop_front();
                }
                delivered = delivered.max(at);
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
                let (mut again, _) = Spool::open(small(&dir)).unwrap();
                let got = drain(&mut again, usize::MAX);
                assert!(
                    got.windows(2).all(|w| w[1] > w[0]),
                    "seed {seed} step {step}: in order: {got:?}"
                );
                // Some of an earlier life may come again (delivered since its last sync);
                // this life's come from no later than the first not delivered, none skipped,
                // through every one that must be there.
                let life: Vec<u64> = got.iter().copied().filter(|&n| n >= base).collect();
                let first = life.first().copied().unwrap_or(appended);
                let must = if clean { appended } else { synced };
                assert!(
                    first <= delivered.max(base) || must <= delivered,
                    "seed {seed} step {step}: starts at {first}, delivered {delivered}: {got:?}"
                );
                assert!(
                    life.windows(2).all(|w| w[1] == w[0] + 1),
                    "seed {seed} step {step}: none missing: {got:?}"
                );
                let last = life.last().map_or(first, |l| l + 1);
                assert!(
                    last >= must || must <= delivered,
                    "seed {seed} step {step}: ends at {last}, {must} must be there \
                     (delivered {delivered}, clean {clean}): {got:?}"
                );
                // Everything out and delivered: the next life starts after it.
                s = again;
                base = last.max(appended);
                appended = base;
                (taken, delivered, synced) = (base, base, base);
                marks.clear();
                // Numbers go on from `base`: what the spool still holds is nothing.
                assert!(s.is_empty());
            }
        }
    }
}

#[test]
fn no_run_of_takes_marks_deliveries_syncs_and_restarts_loses_a_message() {
    for seed in 0..40 {
        restarts_lose_nothing(seed);
    }
}
