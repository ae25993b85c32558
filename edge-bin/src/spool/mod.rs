//! The store-and-forward spool's log on disk (issue 15, second part): the messages a device
//! could not send upstream, in order, durable across a restart and a power cut.
//!
//! A spool is a directory of **segment** files (`NNNNNNNNNNNNNNNNNNNN.seg`, numbered from 1)
//! and a `cursor` file. A segment is a run of **blocks**; a block is a 16-byte header (the
//! payload's length and CRC-32C, both little-endian u32, then the time it was written, u64
//! milliseconds since the Unix epoch) and a payload of whole messages, each as the ZMTP frames
//! it goes upstream as (their heads delimit them: no length per message, so what is written
//! is the messages and 16 bytes a block). Messages are gathered in memory into a block, which
//! is written when it holds `block_bytes` and at each [`Spool::sync`], whose `fdatasync`
//! makes everything written so far durable: an SD card gets one per `spool_fsync`, not one
//! per message.
//!
//! The messages are taken out by **readers** ([`SpoolConfig::readers`], by name: one per
//! uplink of a forwarder, one for a streamer's workers), each at its own pace, each getting
//! every message in order. A message taken out to send ([`Spool::take`]) is not yet
//! **delivered** to its reader: the caller hands it to a queue, and only that queue's socket
//! writing it makes it so. The caller places **marks** as a reader takes ([`Spool::mark`])
//! and says when everything before one was written ([`Spool::delivered`]). The cursor file
//! names, for each reader, the first message not known delivered to it (segment, block,
//! offset in its payload, name: `SEQ BLOCK AT NAME`, one line each; a reader named "" has no
//! name on its line, as the spool of one reader wrote it before readers had names); it is
//! replaced (written aside, renamed) at each sync. A line without a name stands for every
//! reader without a line of its own; a reader with neither starts where the earliest saved
//! position stands. Segments delivered to every reader are deleted; when the segments
//! exceed `max_bytes`, the oldest is deleted, delivered or not (its messages that the reader
//! furthest behind had not taken counted as dropped).
//!
//! At [`Spool::open`] every segment is read through. A block cut short (the power went while
//! it was written) keeps the whole messages it holds and loses the one cut, and the file is
//! truncated there; a block whose checksum fails is dropped with the rest of its segment. Both
//! are reported in [`Recovery`] for the caller to log.
//!
//! What this guarantees: a message [`Spool::append`]ed before a [`Spool::sync`] that returned
//! survives a crash, and is sent until it is delivered; one appended after it may not. A
//! message taken out and gathered, not on disk, that is not delivered by a sync is written
//! then, as any other. A crash sends again what was taken and not known delivered at the last
//! sync (attacker round 20, F1: the cursor once moved as messages were taken, and what the
//! uplink's queue held was lost at a stop or a crash).

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use zedge_core::wire::frame::FrameHead;

#[cfg(test)]
mod tests;

/// Bytes of a block's header: payload length, CRC-32C, time written.
pub const BLOCK_HEAD: usize = 16;

/// How a spool is bounded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpoolConfig {
    pub dir: PathBuf,
    /// Bytes of segments at most; past it, the oldest segment goes.
    pub max_bytes: u64,
    /// A segment is closed and the next begun once it holds this many bytes.
    pub segment_bytes: u64,
    /// A block is written once its messages reach this many bytes.
    pub block_bytes: usize,
    /// The largest block there can be (a block's worth and one message more): a header that
    /// says more is not the spool's, and nothing larger is read into memory.
    pub max_block: usize,
    /// The readers, by name (an uplink's endpoint; "" for a spool with one): each takes every
    /// message at its own pace, from a position of its own in the cursor file.
    pub readers: Vec<String>,
}

impl SpoolConfig {
    /// Segments of a sixteenth of `max_bytes` (1 MiB to 64 MiB), blocks of 64 KiB, messages
    /// of `max_message` bytes at most (their frames' bodies).
    pub fn new(dir: PathBuf, max_bytes: u64, max_message: u64) -> SpoolConfig {
        let block_bytes = 64 << 10;
        // A frame head is 9 bytes at most; a message may have a frame per body byte.
        let max_message = usize::try_from(max_message).unwrap_or(usize::MAX);
        SpoolConfig {
            dir,
            max_bytes,
            segment_bytes: (max_bytes / 16).clamp(1 << 20, 64 << 20),
            block_bytes,
            max_block: block_bytes.saturating_add(max_message.saturating_mul(10)),
            readers: vec![String::new()],
        }
    }
}

/// What [`Spool::open`] found and repaired.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Segments and messages found, unsent ones.
    pub segments: usize,
    pub messages: u64,
    /// A block cut short: where (segment, file offset), and the bytes of the message cut.
    pub torn: Vec<(u64, u64, u64)>,
    /// Blocks whose checksum failed, with the rest of their segment: where, and the bytes.
    pub corrupt: Vec<(u64, u64, u64)>,
    /// The cursor file was missing or unreadable: sending starts at the oldest message.
    pub cursor_lost: bool,
    /// Blocks already sent whose checksum fails: passed over (where).
    pub passed: Vec<(u64, u64)>,
    /// Readers the cursor file had no line for: each starts where the earliest saved
    /// position stands (the oldest message a reader still waited for).
    pub readers_new: Vec<String>,
    /// Readers the cursor file had a line for and the spool no longer has: what only they
    /// waited for goes.
    pub readers_gone: Vec<String>,
    /// Readers whose position in the cursor file is no message's start: they start at the
    /// oldest message kept.
    pub readers_reset: Vec<String>,
}

/// Counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpoolStats {
    /// Messages appended, and their bytes.
    pub appended: u64,
    pub appended_bytes: u64,
    /// Bytes written to segment files (headers included): `written / appended_bytes` is the
    /// write amplification.
    pub written: u64,
    /// Messages taken out to send.
    pub taken: u64,
    /// Messages lost with a segment deleted for room, unsent.
    pub dropped: u64,
    /// Segments deleted for room.
    pub dropped_segments: u64,
    /// Syncs (`fdatasync`) made.
    pub syncs: u64,
    /// Blocks whose checksum failed when read to send (the rest of their segment dropped).
    pub corrupt: u64,
    /// Messages taken out and not sent: the device refused them.
    pub skipped: u64,
}

#[derive(Debug)]
struct Segment {
    seq: u64,
    /// Bytes in the file.
    len: u64,
    /// Messages in it, and those of them each reader took out to send.
    messages: u64,
    taken: Vec<u64>,
    /// Of its messages, those in blocks for other readers only ([`Spool::append_for`]), for
    /// each reader, and how many of those each passed over (counted among `taken` too):
    /// what a reader has left to send leaves the others' out (attacker round 27, G7: the
    /// backlog counted them, 13,670 for 8,641 taken in).
    foreign: Vec<u64>,
    foreign_passed: Vec<u64>,
    /// When its first block was written (ms since the Unix epoch).
    first_at: u64,
    /// Bytes found unreadable when read to send (a block whose check failed, to the end the
    /// segment had then), and the messages they held: each reader passes over them.
    bad: Option<Bad>,
}

/// What a reader passes over in a segment: see [`Segment::bad`].
#[derive(Clone, Copy, Debug)]
struct Bad {
    from: u64,
    to: u64,
    messages: u64,
}

impl Segment {
    fn new(seq: u64, readers: usize) -> Segment {
        Segment {
            seq,
            len: 0,
            messages: 0,
            taken: vec![0; readers],
            foreign: vec![0; readers],
            foreign_passed: vec![0; readers],
            first_at: 0,
            bad: None,
        }
    }

    /// Messages reader `r` has not taken out (nor will: other readers' only).
    fn left(&self, r: usize) -> u64 {
        let foreign_ahead = self.foreign[r].saturating_sub(self.foreign_passed[r]);
        self.messages
            .saturating_sub(self.taken[r])
            .saturating_sub(foreign_ahead)
    }

    /// `msgs` more in a block for the readers of `only` (0: every reader).
    fn add(&mut self, msgs: u64, only: u8) {
        self.messages += msgs;
        for (r, f) in self.foreign.iter_mut().enumerate() {
            if !block_for(only, r) {
                *f += msgs;
            }
        }
    }

    /// Reader `r` has taken out (or passed over) all of it.
    fn taken_through(&mut self, r: usize) {
        self.taken[r] = self.messages;
        self.foreign_passed[r] = self.foreign[r];
    }
}

/// Where the next message to send is: a segment, the file offset of a block in it, and an
/// offset in that block's payload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Cursor {
    seq: u64,
    block: u64,
    at: u64,
}

/// A position between messages: on disk, or past `bytes` and `msgs` of the gathered ones
/// (everything on disk before it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pos {
    Disk(Cursor),
    Gathered { bytes: usize, msgs: u64 },
}

/// The block being read.
#[derive(Debug)]
struct Reading {
    seq: u64,
    block: u64,
    /// Shared by the readers that read the same block.
    payload: Arc<[u8]>,
    at: usize,
    written_at: u64,
    /// The readers it is for ([`Spool::append_for`]): a bit each; none, every reader.
    only: u8,
}

/// One reader of the spool: where it takes messages out, and what of them is delivered.
/// Each takes every message, in order, at its own pace; a segment goes once every reader
/// has had it delivered.
#[derive(Debug)]
struct Reader {
    name: String,
    /// Where the next message to take is (on disk; `pending_sent` says how far into the
    /// gathered ones).
    cursor: Cursor,
    reading: Option<Reading>,
    /// Bytes and messages at the front of the gathered ones already taken out (the disk had
    /// nothing older for this reader).
    pending_sent: usize,
    pending_sent_msgs: u64,
    /// The first message not known delivered: what the cursor file says at a sync.
    delivered: Pos,
    /// Marks placed and not yet delivered, oldest first, and the next one's number.
    marks: VecDeque<(u64, Pos)>,
    next_mark: u64,
}

impl Reader {
    /// Where taking out stands.
    fn read_pos(&self) -> Pos {
        if self.pending_sent_msgs > 0 {
            Pos::Gathered {
                bytes: self.pending_sent,
                msgs: self.pending_sent_msgs,
            }
        } else {
            Pos::Disk(self.cursor)
        }
    }

    /// The gathered messages at the front of `pending` that were delivered (bytes,
    /// messages): none while the first undelivered message is on disk.
    fn gathered_delivered(&self) -> (usize, u64) {
        match self.delivered {
            Pos::Gathered { bytes, msgs } => (bytes, msgs),
            Pos::Disk(_) => (0, 0),
        }
    }

    /// Its delivered position and its marks.
    fn positions(&mut self) -> impl Iterator<Item = &mut Pos> {
        self.marks
            .iter_mut()
            .map(|(_, p)| p)
            .chain([&mut self.delivered])
    }
}

/// A reader of a spool, by its place in [`SpoolConfig::readers`].
pub type ReaderId = usize;

/// A spool; see the module docs.
#[derive(Debug)]
pub struct Spool {
    cfg: SpoolConfig,
    segments: VecDeque<Segment>,
    /// The newest segment, open for appending.
    file: Option<File>,
    /// Messages gathered for the next block.
    pending: Vec<u8>,
    pending_msgs: u64,
    /// Held while the spool is open: another process, or another device, opening the same
    /// directory is refused.
    _lock: File,
    /// The number of the next segment when there is none: past every name in the directory.
    next_seq: u64,
    readers: Vec<Reader>,
    stats: SpoolStats,
}

impl Spool {
    /// Open the spool in `cfg.dir` (made if missing), reading through what it holds and
    /// repairing a torn or corrupt end.
    pub fn open(mut cfg: SpoolConfig) -> io::Result<(Spool, Recovery)> {
        if cfg.readers.is_empty() {
            cfg.readers.push(String::new());
        }
        let blank = |n: &String| n.chars().any(char::is_whitespace);
        if cfg.readers.iter().any(blank)
            || (1..cfg.readers.len()).any(|i| cfg.readers[..i].contains(&cfg.readers[i]))
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a spool's readers need names of their own, without white space",
            ));
        }
        fs::create_dir_all(&cfg.dir)?;
        let lock = lock_dir(&cfg.dir)?;
        // Regular files only: a segment that is a symlink (or anything else) is not the
        // spool's, and repairing it would truncate what it points to.
        let mut named = 0;
        let mut seqs: Vec<u64> = fs::read_dir(&cfg.dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let seq = segment_seq(&e.file_name().to_string_lossy())?;
                named = named.max(seq);
                e.file_type().is_ok_and(|t| t.is_file()).then_some(seq)
            })
            .collect();
        seqs.sort_unstable();
        let mut rec = Recovery::default();
        let saved = raw_cursors(&cfg.dir);
        // New segments are numbered past those the cursors name, deleted once sent: a
        // cursor never stands in a newer segment than it read.
        named = named.max(saved.iter().map(|(_, c)| c.seq).max().unwrap_or(0));
        // What every reader was sent before a restart: a block of it whose check fails is
        // passed over, not the end of its segment (attacker round 19, F5).
        let sent_by_all = saved.iter().map(|(_, c)| *c).min();
        let mut segments = VecDeque::new();
        for seq in seqs {
            let sent = match sent_by_all {
                Some(c) if c.seq == seq => c.block,
                Some(c) if c.seq > seq => u64::MAX,
                _ => 0,
            };
            let seg = scan(
                &cfg.dir,
                seq,
                sent,
                cfg.max_block,
                cfg.readers.len(),
                &mut rec,
            )?;
            segments.push_back(seg);
        }
        let oldest = Cursor {
            seq: segments.front().map_or(1, |s| s.seq),
            block: 0,
            at: 0,
        };
        rec.cursor_lost = saved.is_empty() && !segments.is_empty();
        let mut readers = Vec::with_capacity(cfg.readers.len());
        for name in &cfg.readers {
            // Its own line; else one without a name (written by a spool with one reader);
            // else where the earliest reader stood: nothing the others still wait for is
            // kept from one new to the file (an endpoint renamed).
            let own = saved.iter().find(|(n, _)| n == name);
            let own = own.or_else(|| saved.iter().find(|(n, _)| n.is_empty()));
            let cursor = match own.map(|(_, c)| *c).or(sent_by_all) {
                Some(c) => {
                    if own.is_none() {
                        rec.readers_new.push(name.clone());
                    }
                    valid_cursor(c, &segments).unwrap_or(oldest)
                }
                None => oldest,
            };
            readers.push(Reader {
                name: name.clone(),
                cursor,
                reading: None,
                pending_sent: 0,
                pending_sent_msgs: 0,
                delivered: Pos::Disk(cursor),
                marks: VecDeque::new(),
                next_mark: 0,
            });
        }
        for (name, _) in &saved {
            if !name.is_empty() && !cfg.readers.contains(name) {
                rec.readers_gone.push(name.clone());
            }
        }
        let mut spool = Spool {
            cfg,
            segments,
            file: None,
            pending: Vec::new(),
            pending_msgs: 0,
            _lock: lock,
            next_seq: named.saturating_add(1),
            readers,
            stats: SpoolStats::default(),
        };
        for r in 0..spool.readers.len() {
            match spool.count_taken(r) {
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    // Not a message's start in the spool (a hand edit, or other bytes on
                    // disk): from the oldest message kept, sending some again rather than
                    // losing any (attacker round 25, L1 and L2).
                    let rd = &mut spool.readers[r];
                    rd.cursor = oldest;
                    rd.delivered = Pos::Disk(oldest);
                    for s in &mut spool.segments {
                        s.taken[r] = 0;
                        s.foreign_passed[r] = 0;
                    }
                    rec.readers_reset.push(rd.name.clone());
                }
                other => other?,
            }
        }
        spool.forget_delivered()?;
        rec.segments = spool.segments.len();
        rec.messages = spool.messages();
        Ok((spool, rec))
    }

    /// Counters so far.
    pub fn stats(&self) -> SpoolStats {
        self.stats
    }

    /// The reader named `name`, if the spool has one.
    #[cfg(test)]
    pub fn reader(&self, name: &str) -> Option<ReaderId> {
        self.readers.iter().position(|r| r.name == name)
    }

    /// Messages not yet taken out by the reader furthest behind, on disk and gathered.
    pub fn messages(&self) -> u64 {
        (0..self.readers.len())
            .map(|r| self.left(r))
            .max()
            .unwrap_or(0)
    }

    /// Messages reader `r` has not yet taken out, on disk and gathered.
    pub fn left(&self, r: ReaderId) -> u64 {
        let on_disk: u64 = self.segments.iter().map(|s| s.left(r)).sum();
        on_disk + self.pending_msgs - self.readers[r].pending_sent_msgs
    }

    /// Bytes of segment files, and of messages gathered for the next block (those taken
    /// out and not yet delivered among them).
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.len).sum::<u64>()
            + (self.pending.len() - self.gathered_done().0) as u64
    }

    /// When the oldest message not yet sent was written to disk (ms since the Unix epoch;
    /// the time of its block, or of the oldest segment's first), if any is on disk: for the
    /// reader furthest behind.
    pub fn oldest_at(&self) -> Option<u64> {
        (0..self.readers.len())
            .filter_map(|r| self.oldest_at_for(r))
            .min()
    }

    /// [`Spool::oldest_at`] for reader `r`.
    pub fn oldest_at_for(&self, r: ReaderId) -> Option<u64> {
        // The newest segment is kept when all of it was sent (attacker round 20, F7).
        if self.left(r) == 0 {
            return None;
        }
        match &self.readers[r].reading {
            Some(rd) if rd.at < rd.payload.len() => Some(rd.written_at),
            // Segments taken through are kept until delivered.
            _ => self
                .segments
                .iter()
                .find(|s| s.left(r) > 0)
                .or(self.segments.back())
                .map(|s| s.first_at),
        }
    }

    /// Whether nothing is left to send, to any reader.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.messages() == 0
    }

    /// Add a message (its ZMTP frames, as sent upstream) at the end. Durable once a
    /// [`Spool::sync`] after it has returned.
    pub fn append(&mut self, msg: &[u8]) -> io::Result<()> {
        self.stats.appended += 1;
        self.stats.appended_bytes += msg.len() as u64;
        if self.pending.is_empty() && msg.len() >= self.cfg.block_bytes {
            // A block's worth alone goes as a block of its own from where it lies: not
            // copied whole first (round 19, F4). If the disk refuses it, it is gathered,
            // and [`Spool::retry`] writes it.
            if self.write_payload(msg, 1).is_ok() {
                return self.trim();
            }
        }
        self.pending.extend_from_slice(msg);
        self.pending_msgs += 1;
        if self.pending.len() >= self.cfg.block_bytes {
            self.write_block()?;
        }
        Ok(())
    }

    /// Add `msgs` at the end for reader `r` only: the others pass over them. They go as
    /// blocks of their own, written now (what is gathered is written first), so a failure
    /// leaves nothing of them behind. With one reader, they are appended as any others.
    pub fn append_for(&mut self, r: ReaderId, msgs: &[Vec<u8>]) -> io::Result<()> {
        if self.readers.len() == 1 || r >= 8 {
            for m in msgs {
                self.append(m)?;
            }
            return Ok(());
        }
        if !self.pending.is_empty() {
            self.write_block()?;
        }
        let mut block = Vec::new();
        let mut n = 0;
        for (i, m) in msgs.iter().enumerate() {
            block.extend_from_slice(m);
            n += 1;
            if block.len() >= self.cfg.block_bytes || i + 1 == msgs.len() {
                self.write_payload_for(&block, n, 1 << r)?;
                self.stats.appended += n;
                self.stats.appended_bytes += block.len() as u64;
                block.clear();
                n = 0;
            }
        }
        self.trim()
    }

    /// `pending` was emptied (written, or its messages all sent and delivered): a buffer
    /// grown for a large message is let go, and the positions in it are at its start.
    fn release_pending(&mut self) {
        self.pending.clear();
        self.pending_msgs = 0;
        if self.pending.capacity() > 2 * self.cfg.block_bytes {
            self.pending = Vec::new();
        }
        let start = Pos::Gathered { bytes: 0, msgs: 0 };
        for rd in &mut self.readers {
            (rd.pending_sent, rd.pending_sent_msgs) = (0, 0);
            for p in rd.positions() {
                if matches!(p, Pos::Gathered { .. }) {
                    *p = start;
                }
            }
        }
    }

    /// The gathered messages at the front of `pending` that every reader had delivered
    /// (bytes, messages).
    fn gathered_done(&self) -> (usize, u64) {
        self.readers
            .iter()
            .map(Reader::gathered_delivered)
            .min()
            .unwrap_or((0, 0))
    }

    /// Place a mark where reader `r`'s taking out stands now; [`Spool::delivered`] with its
    /// number once every message it took before it is delivered.
    pub fn mark(&mut self, r: ReaderId) -> u64 {
        let rd = &mut self.readers[r];
        let id = rd.next_mark;
        rd.next_mark += 1;
        let at = rd.read_pos();
        rd.marks.push_back((id, at));
        id
    }

    /// Move reader `r`'s newest mark, `id`, to where its taking out stands now.
    pub fn move_mark(&mut self, r: ReaderId, id: u64) {
        let rd = &mut self.readers[r];
        let at = rd.read_pos();
        if let Some(m) = rd.marks.back_mut().filter(|m| m.0 == id) {
            m.1 = at;
        }
    }

    /// Take back reader `r`'s newest mark, `id`.
    pub fn unmark(&mut self, r: ReaderId, id: u64) {
        let rd = &mut self.readers[r];
        if rd.marks.back().is_some_and(|m| m.0 == id) {
            rd.marks.pop_back();
        }
    }

    /// Take back every mark of reader `r`: its durable cursor stays where it is until the
    /// next one placed is delivered.
    pub fn forget_marks(&mut self, r: ReaderId) {
        self.readers[r].marks.clear();
    }

    /// Messages gathered in memory, not yet written, that some reader has not had
    /// delivered: lost if the process ends before a write takes them.
    pub fn unwritten(&self) -> u64 {
        self.pending_msgs - self.gathered_done().1.min(self.pending_msgs)
    }

    /// Take back the marks of reader `r` placed after its mark `id` (all of them: `None`).
    pub fn forget_marks_after(&mut self, r: ReaderId, id: Option<u64>) {
        let marks = &mut self.readers[r].marks;
        match id {
            Some(id) => marks.retain(|m| m.0 <= id),
            None => marks.clear(),
        }
    }

    /// Marks of reader `r` placed and not yet delivered.
    #[cfg(test)]
    pub fn marks(&self, r: ReaderId) -> usize {
        self.readers[r].marks.len()
    }

    /// Every message reader `r` took out before its mark `id` (and older marks) is
    /// delivered: the cursor the next sync records for it moves there, and segments every
    /// reader had delivered go.
    pub fn delivered(&mut self, r: ReaderId, id: u64) -> io::Result<()> {
        let rd = &mut self.readers[r];
        let mut to = None;
        while let Some(&(m, at)) = rd.marks.front() {
            if m > id {
                break;
            }
            to = Some(at);
            rd.marks.pop_front();
        }
        let Some(at) = to else { return Ok(()) };
        rd.delivered = at;
        let all = (self.pending.len(), self.pending_msgs);
        let through =
            |rd: &Reader| rd.gathered_delivered().0 == all.0 && rd.pending_sent_msgs == all.1;
        if matches!(at, Pos::Gathered { .. }) && self.readers.iter().all(through) {
            self.release_pending();
        }
        self.forget_delivered()
    }

    /// Delete the segments every reader had delivered. The newest (appended to) goes too
    /// once nothing is gathered: the next block starts a new one. (Attacker round 27, G3:
    /// it was kept, up to `spool_max / 16` of a small disk, and the next outage found the
    /// disk full.)
    fn forget_delivered(&mut self) -> io::Result<()> {
        while let Some(front) = self.segments.front() {
            // A position at the end of its last block is past it too (a reader that passed
            // over what was appended stands there).
            let past = |c: Cursor| {
                let end = if c.at > 0 {
                    c.block + (BLOCK_HEAD as u64) + c.at
                } else {
                    c.block
                };
                front.seq < c.seq || (front.seq == c.seq && end >= front.len)
            };
            let done = self.readers.iter().all(|rd| match rd.delivered {
                Pos::Gathered { .. } => true,
                Pos::Disk(c) => past(c),
            });
            let newest = self.segments.len() == 1;
            if !done || (newest && !self.pending.is_empty()) {
                break;
            }
            let seq = front.seq;
            if newest {
                self.file = None;
            }
            self.segments.pop_front();
            remove(&self.cfg.dir, seq)?;
        }
        Ok(())
    }

    /// The cursor file's position for `at`: a position among the gathered messages is past
    /// everything on disk.
    fn disk_pos(&self, at: Pos) -> Cursor {
        match at {
            Pos::Disk(c) => c,
            Pos::Gathered { .. } => self.disk_end(),
        }
    }

    /// The position past everything on disk.
    fn disk_end(&self) -> Cursor {
        match self.segments.back() {
            Some(s) => Cursor {
                seq: s.seq,
                block: s.len,
                at: 0,
            },
            None => Cursor {
                seq: self.next_seq,
                block: 0,
                at: 0,
            },
        }
    }

    /// Write what is gathered, make every byte written durable, and record where sending
    /// stands.
    #[cfg(test)]
    pub fn sync(&mut self) -> io::Result<()> {
        self.prepare_sync()?.run()
    }

    /// [`Spool::sync`] in two parts: this writes what is gathered and returns the slow part
    /// ([`SyncJob::run`]: `fdatasync`, the cursor file), which may run on another thread
    /// while the spool goes on. What was appended before this call is durable once the job's
    /// run has returned; run one job at a time.
    pub fn prepare_sync(&mut self) -> io::Result<SyncJob> {
        self.write_block()?;
        let file = self.file.as_ref().map(File::try_clone).transpose()?;
        self.stats.syncs += 1;
        let cursors = self
            .readers
            .iter()
            .map(|rd| (rd.name.clone(), self.disk_pos(rd.delivered)))
            .collect();
        Ok(SyncJob {
            file,
            cursors,
            dir: self.cfg.dir.clone(),
        })
    }

    /// The next message for reader `r` to send, in order, if any; [`Spool::take`] it once
    /// it is sent.
    pub fn peek(&mut self, r: ReaderId) -> io::Result<Option<&[u8]>> {
        match self.ready_to_read(r)? {
            Next::Nothing => Ok(None),
            Next::Pending => {
                let p = &self.pending[self.readers[r].pending_sent..];
                Ok(Some(&p[..message_end(p).unwrap_or(p.len())]))
            }
            Next::Disk => {
                let rd = self.readers[r].reading.as_ref();
                let rd = rd.expect("ready_to_read leaves a block");
                let end = message_end(&rd.payload[rd.at..]).map_or(rd.payload.len(), |n| rd.at + n);
                Ok(Some(&rd.payload[rd.at..end]))
            }
        }
    }

    /// Reader `r` passes over every message appended so far, without taking them out (its
    /// receivers had them live): its position is at the end. Not counted as taken; a mark
    /// placed after this covers them, as it covers what was taken.
    pub fn pass(&mut self, r: ReaderId) {
        let end = self.disk_end();
        let rd = &mut self.readers[r];
        rd.cursor = end;
        rd.reading = None;
        rd.pending_sent = self.pending.len();
        rd.pending_sent_msgs = self.pending_msgs;
        // Newest first: those before the first one taken through were passed before (a
        // reader that passes does so after each append; not a walk of every segment).
        for s in self.segments.iter_mut().rev() {
            if s.taken[r] == s.messages && s.messages > 0 {
                break;
            }
            s.taken_through(r);
        }
    }

    /// The message [`Spool::peek`] gave reader `r` was not sent (the device refused it):
    /// its cursor moves past it, counted apart.
    pub fn skip(&mut self, r: ReaderId) -> io::Result<()> {
        let taken = self.stats.taken;
        self.take(r)?;
        if self.stats.taken > taken {
            self.stats.taken = taken;
            self.stats.skipped += 1;
        }
        Ok(())
    }

    /// Write what is gathered, if it makes a block or a write failed before: whether the
    /// disk takes writes again, after an error.
    pub fn retry(&mut self) -> io::Result<()> {
        let sent = self.readers.iter().map(|rd| rd.pending_sent).min();
        if self.pending.len() - sent.unwrap_or(0) >= self.cfg.block_bytes {
            self.write_block()?;
        }
        Ok(())
    }

    /// The message [`Spool::peek`] gave reader `r` was handed on to send: its cursor moves
    /// past it. It is delivered once a mark placed after it is ([`Spool::delivered`]).
    pub fn take(&mut self, r: ReaderId) -> io::Result<()> {
        match self.ready_to_read(r)? {
            Next::Nothing => return Ok(()),
            Next::Pending => {
                let rd = &mut self.readers[r];
                let p = &self.pending[rd.pending_sent..];
                rd.pending_sent += message_end(p).unwrap_or(p.len());
                rd.pending_sent_msgs += 1;
                self.stats.taken += 1;
                return Ok(());
            }
            Next::Disk => {}
        }
        let rd = &mut self.readers[r];
        let reading = rd.reading.as_mut().expect("ready_to_read leaves a block");
        let n = message_end(&reading.payload[reading.at..])
            .unwrap_or(reading.payload.len() - reading.at);
        reading.at += n;
        rd.cursor = Cursor {
            seq: reading.seq,
            block: reading.block,
            at: reading.at as u64,
        };
        self.stats.taken += 1;
        let seq = reading.seq;
        if let Some(s) = self.segments.iter_mut().find(|s| s.seq == seq) {
            s.taken[r] += 1;
        }
        Ok(())
    }

    /// Where reader `r`'s next message to send is: in a block at its cursor, loaded (moving
    /// past blocks and segments read through, as needed); or, the disk holding nothing unsent
    /// for it, among the messages gathered for the next block.
    fn ready_to_read(&mut self, r: ReaderId) -> io::Result<Next> {
        let gathered = self.pending_msgs > self.readers[r].pending_sent_msgs;
        let gathered = if gathered {
            Next::Pending
        } else {
            Next::Nothing
        };
        loop {
            let rd = &mut self.readers[r];
            if let Some(reading) = &mut rd.reading {
                if reading.at < reading.payload.len() && !block_for(reading.only, r) {
                    // Another reader's only (what its receivers held live at a stop, or
                    // when its lane began to spool): passed over, as taken.
                    let n = count_messages(&reading.payload[reading.at..]);
                    reading.at = reading.payload.len();
                    let seq = reading.seq;
                    if let Some(s) = self.segments.iter_mut().find(|s| s.seq == seq) {
                        s.taken[r] += n;
                        s.foreign_passed[r] += n;
                    }
                    continue;
                }
                if reading.at < reading.payload.len() {
                    return Ok(Next::Disk);
                }
                // This block is read: the next one.
                let next = reading.block + (BLOCK_HEAD + reading.payload.len()) as u64;
                rd.cursor = Cursor {
                    seq: reading.seq,
                    block: next,
                    at: 0,
                };
                rd.reading = None;
            }
            let cursor = rd.cursor;
            let Some(seg) = self.segments.iter_mut().find(|s| s.seq == cursor.seq) else {
                // The cursor's segment is gone (sent, or dropped for room): the oldest.
                match self.segments.front() {
                    Some(s) => {
                        self.readers[r].cursor = Cursor {
                            seq: s.seq,
                            block: 0,
                            at: 0,
                        };
                        continue;
                    }
                    None => return Ok(gathered),
                }
            };
            if let Some(bad) = seg.bad.filter(|b| (b.from..b.to).contains(&cursor.block)) {
                // Found unreadable by another reader: passed over, lost to this one too.
                seg.taken[r] += bad.messages;
                self.readers[r].cursor = Cursor {
                    seq: seg.seq,
                    block: bad.to,
                    at: 0,
                };
                continue;
            }
            if cursor.block < seg.len {
                let shared = self.readers.iter().find_map(|o| {
                    o.reading
                        .as_ref()
                        .filter(|o| o.seq == cursor.seq && o.block == cursor.block)
                        .map(|o| (o.payload.clone(), o.written_at, o.only))
                });
                let read = match shared {
                    Some((payload, written_at, only)) => Ok(Reading {
                        seq: cursor.seq,
                        block: cursor.block,
                        at: (cursor.at as usize).min(payload.len()),
                        payload,
                        written_at,
                        only,
                    }),
                    None => read_block(&self.cfg.dir, cursor, seg.len),
                };
                match read {
                    Ok(reading) => self.readers[r].reading = Some(reading),
                    Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                        // The disk gave back other bytes than were written: the rest of
                        // the segment goes, its messages counted as dropped.
                        self.stats.corrupt += 1;
                        let lost = seg.left(r);
                        self.stats.dropped += lost;
                        seg.taken[r] += lost;
                        // Other readers' only among the rest go too, uncounted as this one's.
                        seg.foreign_passed[r] = seg.foreign[r];
                        seg.bad = Some(Bad {
                            from: cursor.block,
                            to: seg.len,
                            messages: lost,
                        });
                        self.readers[r].cursor = Cursor {
                            seq: seg.seq,
                            block: seg.len,
                            at: 0,
                        };
                    }
                    Err(e) => return Err(e),
                }
                continue;
            }
            // Read through: the next segment, if any (this one goes once delivered, and
            // not while it is the one being written).
            let (seq, newest) = (seg.seq, self.segments.back().map(|s| s.seq));
            if newest == Some(seq) {
                return Ok(gathered);
            }
            let Some(next) = self.segments.iter().find(|s| s.seq > seq) else {
                return Ok(gathered);
            };
            self.readers[r].cursor = Cursor {
                seq: next.seq,
                block: 0,
                at: 0,
            };
        }
    }

    /// Write the gathered messages as a block at the end of the newest segment (a new one if
    /// there is none or it is full), then delete the oldest segments past `max_bytes`.
    fn write_block(&mut self) -> io::Result<()> {
        // From the first message not delivered to every reader: those taken out and not
        // delivered yet are written too, behind the cursors, and sent again after a crash.
        let (done, done_msgs) = self.gathered_done();
        if self.pending_msgs > done_msgs {
            let pending = std::mem::take(&mut self.pending);
            let msgs = self.pending_msgs - done_msgs;
            let written = self.write_payload(&pending[done..], msgs);
            self.pending = pending;
            written?;
        }
        self.release_pending();
        self.trim()
    }

    /// Write `unsent`, `msgs` whole messages, as a block at the end of the newest segment (a
    /// new one if there is none or it is full).
    fn write_payload(&mut self, unsent: &[u8], msgs: u64) -> io::Result<()> {
        self.write_payload_for(unsent, msgs, 0)
    }

    /// [`Spool::write_payload`] as a block for the readers `only` (a bit each; none: every
    /// reader).
    fn write_payload_for(&mut self, unsent: &[u8], msgs: u64, only: u8) -> io::Result<()> {
        let now = unix_ms();
        let full = self
            .segments
            .back()
            .is_none_or(|s| s.len >= self.cfg.segment_bytes);
        if full || self.file.is_none() {
            let seq = match self.segments.back() {
                Some(s) if !full => s.seq,
                Some(s) => s.seq + 1,
                None => self.next_seq,
            };
            self.next_seq = self.next_seq.max(seq + 1);
            if let Some(f) = self.file.take() {
                f.sync_data()?;
            }
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(self.cfg.dir.join(segment_name(seq)))?;
            if full {
                let mut seg = Segment::new(seq, self.readers.len());
                seg.first_at = now;
                self.segments.push_back(seg);
                sync_dir(&self.cfg.dir)?;
            }
            self.file = Some(f);
        }
        let block_len = BLOCK_HEAD + unsent.len();
        let file = self.file.as_mut().expect("opened above");
        // The header, then the messages where they are gathered: no copy of them.
        let written = file
            .write_all(&head(unsent, stamp(now, only)))
            .and_then(|()| file.write_all(unsent));
        if let Err(e) = written {
            // Nothing of a block that did not all go (a full disk): the retry writes it again
            // where this one started, and no fragment is left for a reader.
            let len = self.segments.back().map_or(0, |s| s.len);
            let _ = file.set_len(len);
            return Err(e);
        }
        let seg = self.segments.back_mut().expect("pushed above");
        let start = Cursor {
            seq: seg.seq,
            block: seg.len,
            at: 0,
        };
        seg.len += block_len as u64;
        seg.add(msgs, only);
        self.stats.written += block_len as u64;
        self.gathered_written(start);
        Ok(())
    }

    /// The gathered messages from the first one not delivered to every reader were written
    /// as the block at `start`: positions among them are in that block now. (A block written
    /// from where a large message lies has nothing gathered before it.)
    fn gathered_written(&mut self, start: Cursor) {
        let (done, done_msgs) = self.gathered_done();
        let in_block = |bytes: usize| Cursor {
            at: bytes.saturating_sub(done) as u64,
            ..start
        };
        for (r, rd) in self.readers.iter_mut().enumerate() {
            for p in rd.positions() {
                if let Pos::Gathered { bytes, .. } = *p {
                    *p = Pos::Disk(in_block(bytes));
                }
            }
            let taken = rd.pending_sent_msgs.saturating_sub(done_msgs);
            if taken > 0 {
                if let Some(s) = self.segments.back_mut() {
                    s.taken[r] += taken;
                }
                rd.cursor = if rd.pending_sent == self.pending.len() {
                    // All of the block: past it, not read back from disk.
                    Cursor {
                        block: start.block + (BLOCK_HEAD + self.pending.len() - done) as u64,
                        at: 0,
                        ..start
                    }
                } else {
                    in_block(rd.pending_sent)
                };
                rd.reading = None;
            }
        }
    }

    /// Delete the oldest segments while the spool is over `max_bytes` (never the newest).
    fn trim(&mut self) -> io::Result<()> {
        while self.bytes() > self.cfg.max_bytes && self.segments.len() > 1 {
            let Some(old) = self.segments.pop_front() else {
                break;
            };
            // Lost to the reader furthest behind (those ahead had some of them).
            let unsent = (0..self.readers.len()).map(|r| old.left(r)).max();
            self.stats.dropped += unsent.unwrap_or(0);
            self.stats.dropped_segments += 1;
            let next = self.segments.front().map(|s| Cursor {
                seq: s.seq,
                block: 0,
                at: 0,
            });
            for rd in &mut self.readers {
                if rd.cursor.seq == old.seq {
                    rd.reading = None;
                }
                // What was taken out of it and not delivered is not sent again after a
                // crash.
                if let (Pos::Disk(c), Some(next)) = (rd.delivered, next) {
                    if c.seq <= old.seq {
                        rd.delivered = Pos::Disk(next);
                    }
                }
            }
            remove(&self.cfg.dir, old.seq)?;
        }
        Ok(())
    }

    /// At open: the messages before reader `r`'s cursor (delivered before a restart) count as
    /// taken.
    fn count_taken(&mut self, r: ReaderId) -> io::Result<()> {
        let c = self.readers[r].cursor;
        for i in 0..self.segments.len() {
            let s = &self.segments[i];
            let (taken, foreign) = if s.seq < c.seq {
                (s.messages, s.foreign[r])
            } else if s.seq == c.seq {
                self.messages_before(c, s.len, r)?
            } else {
                (0, 0)
            };
            let s = &mut self.segments[i];
            s.taken[r] = taken.min(s.messages);
            s.foreign_passed[r] = foreign.min(s.foreign[r]);
        }
        Ok(())
    }

    /// Messages before the cursor `c` in its segment of `len` bytes, and of them those in
    /// blocks not for reader `r`.
    fn messages_before(&self, c: Cursor, len: u64, r: ReaderId) -> io::Result<(u64, u64)> {
        let (mut n, mut foreign) = (0, 0);
        let mut off = 0;
        while off < c.block.min(len) {
            let at = Cursor {
                seq: c.seq,
                block: off,
                at: 0,
            };
            match read_block(&self.cfg.dir, at, len) {
                Ok(b) => {
                    let k = count_messages(&b.payload);
                    n += k;
                    if !block_for(b.only, r) {
                        foreign += k;
                    }
                    off += (BLOCK_HEAD + b.payload.len()) as u64;
                }
                // Passed over at the scan, uncounted there too: its length is sound.
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    off += BLOCK_HEAD as u64 + block_len(&self.cfg.dir, at)?;
                }
                Err(e) => return Err(e),
            }
        }
        let not_a_start = || {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "a cursor that is no message's start",
            )
        };
        if off != c.block.min(len) {
            return Err(not_a_start());
        }
        if c.block < len {
            let b = read_block(&self.cfg.dir, c, len)?;
            let at = usize::try_from(c.at).unwrap_or(usize::MAX);
            if at > b.payload.len() || whole_messages(&b.payload[..at]) != at {
                return Err(not_a_start());
            }
            let k = count_messages(&b.payload[..at]);
            n += k;
            if !block_for(b.only, r) {
                foreign += k;
            }
        }
        Ok((n, foreign))
    }
}

/// Where [`Spool::peek`] finds the next message.
enum Next {
    Nothing,
    /// In the block loaded at the cursor.
    Disk,
    /// Among the messages gathered, past those sent.
    Pending,
}

/// The slow part of a [`Spool::sync`] ([`Spool::prepare_sync`]).
#[derive(Debug)]
pub struct SyncJob {
    file: Option<File>,
    /// Each reader's position, by name.
    cursors: Vec<(String, Cursor)>,
    dir: PathBuf,
}

impl SyncJob {
    /// `fdatasync` the newest segment, then replace the cursor file (written aside, synced,
    /// renamed, the directory synced): a line per reader, `SEQ BLOCK AT NAME` (no name for a
    /// reader named "", as a spool with one reader writes it).
    pub fn run(self) -> io::Result<()> {
        // One job at a time writes a cursor file (one left running by a task stopped at
        // shutdown, and the last sync after it).
        static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one = ONE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(f) = &self.file {
            f.sync_data()?;
        }
        let mut text = String::new();
        for (name, c) in &self.cursors {
            let line = format!("{} {} {} {name}", c.seq, c.block, c.at);
            text.push_str(line.trim_end());
            text.push('\n');
        }
        let tmp = self.dir.join("cursor.tmp");
        let mut f = File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_data()?;
        fs::rename(&tmp, self.dir.join("cursor"))?;
        sync_dir(&self.dir)
    }
}

/// Take the directory's lock file, or say who holds it.
fn lock_dir(dir: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("lock"))?;
    // flock(2): let go when the file is closed, or the process ends however it ends.
    match rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(f),
        Err(rustix::io::Errno::WOULDBLOCK) => Err(io::Error::new(
            io::ErrorKind::ResourceBusy,
            format!(
                "{} is in use by another device or zedge process (its lock file is held)",
                dir.display()
            ),
        )),
        Err(e) => Err(e.into()),
    }
}

/// The header of a block of `payload` stamped `stamp` (the time it was written, and the
/// readers it is only for: [`stamp`]).
fn head(payload: &[u8], stamp: u64) -> [u8; BLOCK_HEAD] {
    let mut h = [0u8; BLOCK_HEAD];
    h[..4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    h[4..8].copy_from_slice(&crc32c(payload).to_le_bytes());
    h[8..].copy_from_slice(&stamp.to_le_bytes());
    h
}

/// Bits of a block's time field that hold the readers it is only for (a bit each, for the
/// first eight readers; none: every reader). A time in milliseconds needs 41 bits until the
/// year 2039 and 48 for 8,000 years: the top byte was always 0, so a block written before
/// blocks had readers is for every reader.
const ONLY_SHIFT: u32 = 56;

/// A block's time field: the time it was written (ms since the Unix epoch) and the readers
/// it is only for.
fn stamp(now: u64, only: u8) -> u64 {
    (now & ((1 << ONLY_SHIFT) - 1)) | (u64::from(only) << ONLY_SHIFT)
}

/// [`stamp`]'s parts.
fn stamp_parts(stamp: u64) -> (u64, u8) {
    (stamp & ((1 << ONLY_SHIFT) - 1), (stamp >> ONLY_SHIFT) as u8)
}

/// Whether a block for `only` is for reader `r`.
fn block_for(only: u8, r: ReaderId) -> bool {
    only == 0 || (r < 8 && only & (1 << r) != 0)
}

fn segment_name(seq: u64) -> String {
    format!("{seq:020}.seg")
}

fn segment_seq(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    (digits.len() == 20).then(|| digits.parse().ok()).flatten()
}

fn remove(dir: &Path, seq: u64) -> io::Result<()> {
    match fs::remove_file(dir.join(segment_name(seq))) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => sync_dir(dir),
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The block at `at` of a segment of `seg_len` bytes, its checksum checked: one that fails,
/// or whose length runs past the segment, is `InvalidData`.
fn read_block(dir: &Path, at: Cursor, seg_len: u64) -> io::Result<Reading> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "a spool block failed its check");
    let mut f = File::open(dir.join(segment_name(at.seq)))?;
    f.seek(SeekFrom::Start(at.block))?;
    let mut h = [0u8; BLOCK_HEAD];
    f.read_exact(&mut h)?;
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
    let room = seg_len.saturating_sub(at.block + BLOCK_HEAD as u64);
    if len as u64 > room {
        return Err(bad());
    }
    let mut payload = vec![0u8; len];
    f.read_exact(&mut payload)?;
    if crc32c(&payload).to_le_bytes() != h[4..8] {
        return Err(bad());
    }
    let (written_at, only) = stamp_parts(u64::from_le_bytes(h[8..16].try_into().expect("8 bytes")));
    Ok(Reading {
        seq: at.seq,
        block: at.block,
        at: (at.at as usize).min(len),
        payload: payload.into(),
        written_at,
        only,
    })
}

/// Read the segment `seq` through, a block at a time (no more than `max_block` bytes of it in
/// memory), repairing a torn or corrupt end (see the module docs). Blocks that end at or
/// before `sent` were sent already: one of them whose check fails is passed over.
fn scan(
    dir: &Path,
    seq: u64,
    sent: u64,
    max_block: usize,
    readers: usize,
    rec: &mut Recovery,
) -> io::Result<Segment> {
    let path = dir.join(segment_name(seq));
    let mut f = File::open(&path)?;
    let file_len = f.metadata()?.len();
    let mut seg = Segment::new(seq, readers);
    let mut off = 0u64;
    let mut rewrite: Option<(u64, [u8; BLOCK_HEAD])> = None;
    let mut payload = Vec::new();
    while off < file_len {
        let rest = file_len - off;
        if rest < BLOCK_HEAD as u64 {
            rec.torn.push((seq, off, rest));
            break;
        }
        let mut h = [0u8; BLOCK_HEAD];
        f.seek(SeekFrom::Start(off))?;
        f.read_exact(&mut h)?;
        let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        let raw = u64::from_le_bytes(h[8..16].try_into().expect("8 bytes"));
        let at = stamp_parts(raw).0;
        if len > max_block {
            // No block of this spool is that long: not the spool's bytes.
            rec.corrupt.push((seq, off, rest));
            break;
        }
        let body = rest - BLOCK_HEAD as u64;
        if body < len as u64 {
            // Cut short: keep its whole messages, lose the one cut.
            payload.resize(body as usize, 0);
            f.read_exact(&mut payload)?;
            let keep = whole_messages(&payload);
            rec.torn.push((seq, off, (payload.len() - keep) as u64));
            if keep > 0 {
                rewrite = Some((off, head(&payload[..keep], raw)));
                seg.add(count_messages(&payload[..keep]), stamp_parts(raw).1);
                seg.first_at = if seg.len == 0 { at } else { seg.first_at };
                off += (BLOCK_HEAD + keep) as u64;
            }
            break;
        }
        payload.resize(len, 0);
        f.read_exact(&mut payload)?;
        let end = off + (BLOCK_HEAD + len) as u64;
        if crc32c(&payload) != crc || whole_messages(&payload) != len {
            if end <= sent {
                // Sent already: nothing of it is needed; its messages are not counted,
                // here or before the cursor (`messages_before_cursor`).
                rec.passed.push((seq, off));
                off = end;
                seg.len = off;
                continue;
            }
            rec.corrupt.push((seq, off, rest));
            break;
        }
        if seg.len == 0 {
            seg.first_at = at;
        }
        seg.add(count_messages(&payload), stamp_parts(raw).1);
        off = end;
        seg.len = off;
    }
    seg.len = off;
    if off < file_len {
        let f = OpenOptions::new().write(true).open(&path)?;
        if let Some((at, h)) = rewrite {
            let mut f = &f;
            f.seek(SeekFrom::Start(at))?;
            f.write_all(&h)?;
        }
        f.set_len(off)?;
        f.sync_all()?;
    }
    Ok(seg)
}

/// A whole frame at the start of what [`frames`] walks: whether it is a command and has
/// MORE, its body's length, and where it ends (from the start of the walk).
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    pub command: bool,
    pub more: bool,
    pub body: u64,
    pub end: usize,
}

/// The whole frames at the start of `bytes` (ZMTP heads), in order, until one is cut short
/// or its head does not decode.
pub fn frames(bytes: &[u8]) -> impl Iterator<Item = Frame> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        let (h, used) = FrameHead::decode(bytes.get(at..)?).ok()??;
        let end = usize::try_from(h.len)
            .ok()?
            .checked_add(used)?
            .checked_add(at)
            .filter(|&end| end <= bytes.len())?;
        at = end;
        Some(Frame {
            command: h.command,
            more: h.more,
            body: h.len,
            end,
        })
    })
}

/// The data frames at the start of `bytes`, up to the first command.
fn data_frames(bytes: &[u8]) -> impl Iterator<Item = Frame> + '_ {
    frames(bytes).take_while(|f| !f.command)
}

/// Bytes of the whole messages at the start of `bytes` (ZMTP frames: a message ends with a
/// frame without MORE; a command or undecodable head ends the walk).
pub fn whole_messages(bytes: &[u8]) -> usize {
    data_frames(bytes)
        .filter(|f| !f.more)
        .last()
        .map_or(0, |f| f.end)
}

/// Bytes of the first message of `bytes`, if all of it is there.
pub fn message_end(bytes: &[u8]) -> Option<usize> {
    data_frames(bytes).find(|f| !f.more).map(|f| f.end)
}

fn count_messages(bytes: &[u8]) -> u64 {
    data_frames(bytes).filter(|f| !f.more).count() as u64
}

/// The payload length a block's header gives.
fn block_len(dir: &Path, at: Cursor) -> io::Result<u64> {
    let mut f = File::open(dir.join(segment_name(at.seq)))?;
    f.seek(SeekFrom::Start(at.block))?;
    let mut h = [0u8; 4];
    f.read_exact(&mut h)?;
    Ok(u64::from(u32::from_le_bytes(h)))
}

/// The cursor file's lines that read, each a reader's name ("" for none) and position; none
/// if the file is missing or unreadable.
fn raw_cursors(dir: &Path) -> Vec<(String, Cursor)> {
    let Ok(text) = fs::read_to_string(dir.join("cursor")) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Cursor)> = Vec::new();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let mut num = || it.next().and_then(|w| w.parse::<u64>().ok());
        let (Some(seq), Some(block), Some(at)) = (num(), num(), num()) else {
            continue;
        };
        let name = it.next().unwrap_or("").to_string();
        if !out.iter().any(|(n, _)| *n == name) {
            out.push((name, Cursor { seq, block, at }));
        }
    }
    out
}

/// A saved position as the segments found stand: itself, or the oldest message kept when it
/// names a segment no longer there (sent through before it was deleted, or cut shorter at
/// recovery; `None` when there is no segment).
fn valid_cursor(c: Cursor, segments: &VecDeque<Segment>) -> Option<Cursor> {
    match segments.iter().find(|s| s.seq == c.seq) {
        Some(s) if c.block <= s.len => Some(c),
        _ => segments.front().map(|s| Cursor {
            seq: s.seq,
            block: 0,
            at: 0,
        }),
    }
}

/// CRC-32C (Castagnoli), as iSCSI and ext4 use it.
pub fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc = CRC_TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82F6_3B78
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};
