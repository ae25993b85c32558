//! The store-and-forward spool's log on disk (issue 15, second part; not yet used by the
//! devices): the messages a device could not send upstream, in order, durable across a
//! restart and a power cut.
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
//! A message taken out to send ([`Spool::take`]) is not yet **delivered**: the caller hands
//! it to a queue, and only that queue's socket writing it makes it so. The caller places
//! **marks** as it takes ([`Spool::mark`]) and says when everything before one was written
//! ([`Spool::delivered`]). The cursor file names the first message not known delivered
//! (segment, block, offset in its payload); it is replaced (written aside, renamed) at each
//! sync. Segments wholly delivered are deleted; when the segments exceed `max_bytes`, the
//! oldest is deleted, delivered or not (its unsent messages counted as dropped).
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
    /// Messages in it, and those of them taken out to send.
    messages: u64,
    taken: u64,
    /// When its first block was written (ms since the Unix epoch).
    first_at: u64,
}

/// Where the next message to send is: a segment, the file offset of a block in it, and an
/// offset in that block's payload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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
    payload: Vec<u8>,
    at: usize,
    written_at: u64,
}

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
    /// Bytes and messages at the front of `pending` already taken out to send (the disk had
    /// nothing older): written only if not delivered by the time the block is.
    pending_sent: usize,
    pending_sent_msgs: u64,
    /// Held while the spool is open: another process, or another device, opening the same
    /// directory is refused.
    _lock: File,
    /// The number of the next segment when there is none: past every name in the directory.
    next_seq: u64,
    /// Where the next message to take is (on disk; `pending_sent` says how far into the
    /// gathered ones).
    cursor: Cursor,
    reading: Option<Reading>,
    /// The first message not known delivered: what the cursor file says at a sync.
    delivered: Pos,
    /// Marks placed and not yet delivered, oldest first, and the next one's number.
    marks: VecDeque<(u64, Pos)>,
    next_mark: u64,
    stats: SpoolStats,
}

impl Spool {
    /// Open the spool in `cfg.dir` (made if missing), reading through what it holds and
    /// repairing a torn or corrupt end.
    pub fn open(cfg: SpoolConfig) -> io::Result<(Spool, Recovery)> {
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
        let mut segments = VecDeque::new();
        for seq in seqs {
            // What was sent before a restart: a block of it whose check fails is passed
            // over, not the end of its segment (attacker round 19, F5).
            let sent = match raw_cursor(&cfg.dir) {
                Some(c) if c.seq == seq => c.block,
                Some(c) if c.seq > seq => u64::MAX,
                _ => 0,
            };
            let seg = scan(&cfg.dir, seq, sent, cfg.max_block, &mut rec)?;
            segments.push_back(seg);
        }
        let (cursor, lost) = read_cursor(&cfg.dir, &segments);
        rec.cursor_lost = lost && !segments.is_empty();
        let mut spool = Spool {
            cfg,
            segments,
            file: None,
            pending: Vec::new(),
            pending_msgs: 0,
            pending_sent: 0,
            pending_sent_msgs: 0,
            _lock: lock,
            next_seq: named.saturating_add(1),
            cursor,
            reading: None,
            delivered: Pos::Disk(cursor),
            marks: VecDeque::new(),
            next_mark: 0,
            stats: SpoolStats::default(),
        };
        spool.count_taken()?;
        spool.forget_delivered()?;
        rec.segments = spool.segments.len();
        rec.messages = spool.messages();
        Ok((spool, rec))
    }

    /// Counters so far.
    pub fn stats(&self) -> SpoolStats {
        self.stats
    }

    /// Messages not yet taken out, on disk and gathered.
    pub fn messages(&self) -> u64 {
        let on_disk: u64 = self
            .segments
            .iter()
            .map(|s| s.messages.saturating_sub(s.taken))
            .sum();
        on_disk + self.pending_msgs - self.pending_sent_msgs
    }

    /// Bytes of segment files, and of messages gathered for the next block (those taken
    /// out and not yet delivered among them).
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.len).sum::<u64>()
            + (self.pending.len() - self.gathered_delivered().0) as u64
    }

    /// When the oldest message not yet sent was written to disk (ms since the Unix epoch;
    /// the time of its block, or of the oldest segment's first), if any is on disk.
    pub fn oldest_at(&self) -> Option<u64> {
        // The newest segment is kept when all of it was sent (attacker round 20, F7).
        if self.is_empty() {
            return None;
        }
        match &self.reading {
            Some(r) if r.at < r.payload.len() => Some(r.written_at),
            // Segments taken through are kept until delivered.
            _ => self
                .segments
                .iter()
                .find(|s| s.taken < s.messages)
                .or(self.segments.back())
                .map(|s| s.first_at),
        }
    }

    /// Whether nothing is left to send.
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

    /// `pending` was emptied (written, or its messages all sent and delivered): a buffer
    /// grown for a large message is let go, and the positions in it are at its start.
    fn release_pending(&mut self) {
        self.pending.clear();
        (self.pending_msgs, self.pending_sent, self.pending_sent_msgs) = (0, 0, 0);
        if self.pending.capacity() > 2 * self.cfg.block_bytes {
            self.pending = Vec::new();
        }
        let start = Pos::Gathered { bytes: 0, msgs: 0 };
        for p in self
            .marks
            .iter_mut()
            .map(|(_, p)| p)
            .chain([&mut self.delivered])
        {
            if matches!(p, Pos::Gathered { .. }) {
                *p = start;
            }
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

    /// Place a mark where taking out stands now; [`Spool::delivered`] with its number once
    /// every message taken before it is delivered.
    pub fn mark(&mut self) -> u64 {
        let id = self.next_mark;
        self.next_mark += 1;
        let at = self.read_pos();
        self.marks.push_back((id, at));
        id
    }

    /// Move the newest mark, `id`, to where taking out stands now.
    pub fn move_mark(&mut self, id: u64) {
        let at = self.read_pos();
        if let Some(m) = self.marks.back_mut().filter(|m| m.0 == id) {
            m.1 = at;
        }
    }

    /// Take back the newest mark, `id`.
    pub fn unmark(&mut self, id: u64) {
        if self.marks.back().is_some_and(|m| m.0 == id) {
            self.marks.pop_back();
        }
    }

    /// Take back every mark: the durable cursor stays where it is until the next one placed
    /// is delivered.
    pub fn forget_marks(&mut self) {
        self.marks.clear();
    }

    /// Marks placed and not yet delivered.
    #[cfg(test)]
    pub fn marks(&self) -> usize {
        self.marks.len()
    }

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

    /// Every message taken out before the mark `id` (and older marks) is delivered: the
    /// cursor the next sync records moves there, and segments wholly delivered go.
    pub fn delivered(&mut self, id: u64) -> io::Result<()> {
        let mut to = None;
        while let Some(&(m, at)) = self.marks.front() {
            if m > id {
                break;
            }
            to = Some(at);
            self.marks.pop_front();
        }
        let Some(at) = to else { return Ok(()) };
        self.delivered = at;
        if let Pos::Gathered { bytes, .. } = at {
            if bytes == self.pending.len() && self.pending_msgs == self.pending_sent_msgs {
                self.release_pending();
            }
        }
        self.forget_delivered()
    }

    /// Delete the segments wholly delivered, but the newest (appended to).
    fn forget_delivered(&mut self) -> io::Result<()> {
        while self.segments.len() > 1 {
            let Some(front) = self.segments.front() else {
                break;
            };
            let done = match self.delivered {
                Pos::Gathered { .. } => true,
                Pos::Disk(c) => front.seq < c.seq || (front.seq == c.seq && c.block >= front.len),
            };
            if !done {
                break;
            }
            let seq = front.seq;
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
            Pos::Gathered { .. } => match self.segments.back() {
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
        Ok(SyncJob {
            file,
            cursor: self.disk_pos(self.delivered),
            dir: self.cfg.dir.clone(),
        })
    }

    /// The next message to send, in order, if any; [`Spool::take`] it once it is sent.
    pub fn peek(&mut self) -> io::Result<Option<&[u8]>> {
        match self.ready_to_read()? {
            Next::Nothing => Ok(None),
            Next::Pending => {
                let p = &self.pending[self.pending_sent..];
                Ok(Some(&p[..message_end(p).unwrap_or(p.len())]))
            }
            Next::Disk => {
                let r = self.reading.as_ref().expect("ready_to_read leaves a block");
                let end = message_end(&r.payload[r.at..]).map_or(r.payload.len(), |n| r.at + n);
                Ok(Some(&r.payload[r.at..end]))
            }
        }
    }

    /// The message [`Spool::peek`] gave was not sent (the device refused it): the cursor
    /// moves past it, counted apart.
    pub fn skip(&mut self) -> io::Result<()> {
        let taken = self.stats.taken;
        self.take()?;
        if self.stats.taken > taken {
            self.stats.taken = taken;
            self.stats.skipped += 1;
        }
        Ok(())
    }

    /// Write what is gathered, if it makes a block or a write failed before: whether the
    /// disk takes writes again, after an error.
    pub fn retry(&mut self) -> io::Result<()> {
        if self.pending.len() - self.pending_sent >= self.cfg.block_bytes {
            self.write_block()?;
        }
        Ok(())
    }

    /// The message [`Spool::peek`] gave was handed on to send: the cursor moves past it. It
    /// is delivered once a mark placed after it is ([`Spool::delivered`]).
    pub fn take(&mut self) -> io::Result<()> {
        match self.ready_to_read()? {
            Next::Nothing => return Ok(()),
            Next::Pending => {
                let p = &self.pending[self.pending_sent..];
                self.pending_sent += message_end(p).unwrap_or(p.len());
                self.pending_sent_msgs += 1;
                self.stats.taken += 1;
                return Ok(());
            }
            Next::Disk => {}
        }
        let r = self.reading.as_mut().expect("ready_to_read leaves a block");
        let n = message_end(&r.payload[r.at..]).unwrap_or(r.payload.len() - r.at);
        r.at += n;
        self.cursor = Cursor {
            seq: r.seq,
            block: r.block,
            at: r.at as u64,
        };
        self.stats.taken += 1;
        let seq = r.seq;
        if let Some(s) = self.segments.iter_mut().find(|s| s.seq == seq) {
            s.taken += 1;
        }
        Ok(())
    }

    /// Where the next message to send is: in a block at the cursor, loaded (moving past
    /// blocks and segments read through, deleting the latter, as needed); or, the disk holding
    /// nothing unsent, among the messages gathered for the next block.
    fn ready_to_read(&mut self) -> io::Result<Next> {
        let gathered = self.pending_msgs > self.pending_sent_msgs;
        let gathered = if gathered {
            Next::Pending
        } else {
            Next::Nothing
        };
        loop {
            if let Some(r) = &self.reading {
                if r.at < r.payload.len() {
                    return Ok(Next::Disk);
                }
                // This block is read: the next one.
                let next = r.block + (BLOCK_HEAD + r.payload.len()) as u64;
                self.cursor = Cursor {
                    seq: r.seq,
                    block: next,
                    at: 0,
                };
                self.reading = None;
            }
            let Some(seg) = self.segments.iter().find(|s| s.seq == self.cursor.seq) else {
                // The cursor's segment is gone (sent, or dropped for room): the oldest.
                match self.segments.front() {
                    Some(s) => {
                        self.cursor = Cursor {
                            seq: s.seq,
                            block: 0,
                            at: 0,
                        };
                        continue;
                    }
                    None => return Ok(gathered),
                }
            };
            if self.cursor.block < seg.len {
                match read_block(&self.cfg.dir, self.cursor, seg.len) {
                    Ok(r) => self.reading = Some(r),
                    Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                        // The disk gave back other bytes than were written: the rest of
                        // the segment goes, its messages counted as dropped.
                        let (seq, len) = (seg.seq, seg.len);
                        self.stats.corrupt += 1;
                        if let Some(s) = self.segments.iter_mut().find(|s| s.seq == seq) {
                            self.stats.dropped += s.messages.saturating_sub(s.taken);
                            s.taken = s.messages;
                        }
                        self.cursor = Cursor {
                            seq,
                            block: len,
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
            self.cursor = Cursor {
                seq: next.seq,
                block: 0,
                at: 0,
            };
        }
    }

    /// Write the gathered messages as a block at the end of the newest segment (a new one if
    /// there is none or it is full), then delete the oldest segments past `max_bytes`.
    fn write_block(&mut self) -> io::Result<()> {
        // From the first message not delivered: those taken out and not delivered yet are
        // written too, behind the cursor, and sent again after a crash.
        let (done, done_msgs) = self.gathered_delivered();
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
                self.segments.push_back(Segment {
                    seq,
                    len: 0,
                    messages: 0,
                    taken: 0,
                    first_at: now,
                });
                sync_dir(&self.cfg.dir)?;
            }
            self.file = Some(f);
        }
        let block_len = BLOCK_HEAD + unsent.len();
        let file = self.file.as_mut().expect("opened above");
        // The header, then the messages where they are gathered: no copy of them.
        let written = file
            .write_all(&head(unsent, now))
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
        seg.messages += msgs;
        self.stats.written += block_len as u64;
        self.gathered_written(start);
        Ok(())
    }

    /// The gathered messages from the first undelivered one were written as the block at
    /// `start`: positions among them are in that block now. (A block written from where a
    /// large message lies has nothing gathered before it.)
    fn gathered_written(&mut self, start: Cursor) {
        let (done, done_msgs) = self.gathered_delivered();
        let in_block = |bytes: usize| Cursor {
            at: bytes.saturating_sub(done) as u64,
            ..start
        };
        for p in self
            .marks
            .iter_mut()
            .map(|(_, p)| p)
            .chain([&mut self.delivered])
        {
            if let Pos::Gathered { bytes, .. } = *p {
                *p = Pos::Disk(in_block(bytes));
            }
        }
        let taken = self.pending_sent_msgs.saturating_sub(done_msgs);
        if taken > 0 {
            if let Some(s) = self.segments.back_mut() {
                s.taken += taken;
            }
            self.cursor = in_block(self.pending_sent);
            self.reading = None;
        }
    }

    /// Delete the oldest segments while the spool is over `max_bytes` (never the newest).
    fn trim(&mut self) -> io::Result<()> {
        while self.bytes() > self.cfg.max_bytes && self.segments.len() > 1 {
            let Some(old) = self.segments.pop_front() else {
                break;
            };
            let unsent = old.messages.saturating_sub(old.taken);
            self.stats.dropped += unsent;
            self.stats.dropped_segments += 1;
            if self.cursor.seq == old.seq {
                self.reading = None;
            }
            // What was taken out of it and not delivered is not sent again after a crash.
            if let (Pos::Disk(c), Some(next)) = (self.delivered, self.segments.front()) {
                if c.seq <= old.seq {
                    self.delivered = Pos::Disk(Cursor {
                        seq: next.seq,
                        block: 0,
                        at: 0,
                    });
                }
            }
            remove(&self.cfg.dir, old.seq)?;
        }
        Ok(())
    }

    /// At open: the messages before the cursor (delivered before a restart) count as taken.
    fn count_taken(&mut self) -> io::Result<()> {
        let c = self.cursor;
        for i in 0..self.segments.len() {
            let s = &self.segments[i];
            let taken = if s.seq < c.seq {
                s.messages
            } else if s.seq == c.seq {
                self.messages_before(c, s.len)?
            } else {
                0
            };
            self.segments[i].taken = taken.min(self.segments[i].messages);
        }
        Ok(())
    }

    /// Messages before the cursor `c` in its segment of `len` bytes.
    fn messages_before(&self, c: Cursor, len: u64) -> io::Result<u64> {
        let mut n = 0;
        let mut off = 0;
        while off < c.block.min(len) {
            let at = Cursor {
                seq: c.seq,
                block: off,
                at: 0,
            };
            match read_block(&self.cfg.dir, at, len) {
                Ok(r) => {
                    n += count_messages(&r.payload);
                    off += (BLOCK_HEAD + r.payload.len()) as u64;
                }
                // Passed over at the scan, uncounted there too: its length is sound.
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    off += BLOCK_HEAD as u64 + block_len(&self.cfg.dir, at)?;
                }
                Err(e) => return Err(e),
            }
        }
        if c.block < len {
            let r = read_block(&self.cfg.dir, c, len)?;
            let at = (c.at as usize).min(r.payload.len());
            n += count_messages(&r.payload[..at]);
        }
        Ok(n)
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
    cursor: Cursor,
    dir: PathBuf,
}

impl SyncJob {
    /// `fdatasync` the newest segment, then replace the cursor file (written aside, synced,
    /// renamed, the directory synced).
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
        let c = self.cursor;
        let tmp = self.dir.join("cursor.tmp");
        let mut f = File::create(&tmp)?;
        writeln!(f, "{} {} {}", c.seq, c.block, c.at)?;
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

/// The header of a block of `payload`, written at `now`.
fn head(payload: &[u8], now: u64) -> [u8; BLOCK_HEAD] {
    let mut h = [0u8; BLOCK_HEAD];
    h[..4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    h[4..8].copy_from_slice(&crc32c(payload).to_le_bytes());
    h[8..].copy_from_slice(&now.to_le_bytes());
    h
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

/// Read the block at `at` of its segment.
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
    let written_at = u64::from_le_bytes(h[8..16].try_into().expect("8 bytes"));
    Ok(Reading {
        seq: at.seq,
        block: at.block,
        at: (at.at as usize).min(len),
        payload,
        written_at,
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
    rec: &mut Recovery,
) -> io::Result<Segment> {
    let path = dir.join(segment_name(seq));
    let mut f = File::open(&path)?;
    let file_len = f.metadata()?.len();
    let mut seg = Segment {
        seq,
        len: 0,
        messages: 0,
        taken: 0,
        first_at: 0,
    };
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
        let at = u64::from_le_bytes(h[8..16].try_into().expect("8 bytes"));
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
                rewrite = Some((off, head(&payload[..keep], at)));
                seg.messages += count_messages(&payload[..keep]);
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
        seg.messages += count_messages(&payload);
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

/// The cursor file as written, if it reads.
fn raw_cursor(dir: &Path) -> Option<Cursor> {
    let text = fs::read_to_string(dir.join("cursor")).ok()?;
    let mut it = text.split_whitespace().map(str::parse::<u64>);
    let (Some(Ok(seq)), Some(Ok(block)), Some(Ok(at))) = (it.next(), it.next(), it.next()) else {
        return None;
    };
    Some(Cursor { seq, block, at })
}

/// The cursor file's position, or the oldest message when it is missing, unreadable, or
/// names a segment no longer there (and whether it was lost).
fn read_cursor(dir: &Path, segments: &VecDeque<Segment>) -> (Cursor, bool) {
    let oldest = Cursor {
        seq: segments.front().map_or(1, |s| s.seq),
        block: 0,
        at: 0,
    };
    let Some(Cursor { seq, block, at }) = raw_cursor(dir) else {
        return (oldest, true);
    };
    match segments.iter().find(|s| s.seq == seq) {
        Some(s) if block <= s.len => (Cursor { seq, block, at }, false),
        // Sent through before the segment was deleted, or a segment cut shorter at
        // recovery: from the oldest kept.
        _ => (oldest, false),
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
