//! Where the frames are in a peer's outbound bytes, so that what is left when a stopping
//! device's flush deadline passes can be told in messages, not only bytes.
//!
//! A queue holds encoded ZMTP: our greeting, then frames, and a write may stop anywhere in
//! them. [`OutFrames`] follows the writes (and the bodies moved past the queue by splice) and
//! keeps the distance from the queue's front to the next frame head: one frame-head decode per
//! frame written, none while a large frame goes by.

use std::fmt;

use zedge_core::wire::frame::{FrameHead, MAX_HEAD_LEN};
use zedge_core::wire::greeting::GREETING_LEN;

/// The state of one peer's outbound stream at the front of its queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutFrames {
    /// Bytes from the front of the queue to the next frame head: the rest of the greeting, or
    /// of a frame partly written. `u64::MAX` once the stream could not be followed.
    to_next: u64,
    /// What the frame partly written is.
    current: Part,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    /// The greeting, or a command.
    Control,
    /// A message frame with more to follow.
    More,
    /// A message's last frame.
    Last,
}

impl Default for OutFrames {
    /// A new connection: our greeting comes first.
    fn default() -> Self {
        OutFrames {
            to_next: GREETING_LEN as u64,
            current: Part::Control,
        }
    }
}

impl OutFrames {
    /// `n` bytes of the queue (its `slices`, in order) were written, or taken into a pipe.
    pub fn written<'a>(&mut self, slices: impl Iterator<Item = &'a [u8]> + Clone, n: usize) {
        let n = n as u64;
        let mut at = self.to_next;
        let mut bytes = Reader::new(slices);
        while at < n {
            let Some((part, len)) = bytes.frame_at(at) else {
                self.to_next = u64::MAX;
                return;
            };
            self.current = part;
            at = at.saturating_add(len);
        }
        self.to_next = at - n;
    }

    /// The whole queue was written, and it ended at a frame boundary.
    pub fn drained(&mut self) {
        if self.to_next != u64::MAX {
            self.to_next = 0;
        }
    }

    /// `n` body bytes of the frame partly written went to the socket past the queue.
    pub fn bypassed(&mut self, n: u64) {
        if self.to_next != u64::MAX {
            self.to_next = self.to_next.saturating_sub(n);
        }
    }

    /// Bytes taken from the queue came back to it: where its frames are is not followed from
    /// here on (rare: a destination that took nothing of a body going by, see `Bypass`).
    pub fn returned(&mut self) {
        self.to_next = u64::MAX;
    }

    /// Where the first message not begun starts in a queue holding `slices` (in order): past
    /// the rest of the one partly written, if any. `None` if the stream could not be
    /// followed, or the message partly written does not end in the queue.
    pub fn first_unbegun<'a>(&self, slices: impl Iterator<Item = &'a [u8]> + Clone) -> Option<u64> {
        if self.to_next == u64::MAX {
            return None;
        }
        let mut bytes = Reader::new(slices);
        let (mut at, mut last) = (self.to_next, self.current);
        while last == Part::More {
            let (part, len) = bytes.frame_at(at)?;
            last = part;
            at = at.saturating_add(len);
        }
        Some(at)
    }

    /// A stream at a message's start (bytes held back behind another message, `later.rs`).
    pub fn at_message() -> OutFrames {
        OutFrames {
            to_next: 0,
            current: Part::Control,
        }
    }

    /// A message is partly written (known only while the stream is followed).
    pub fn begun(&self) -> bool {
        self.to_next != u64::MAX
            && match self.current {
                Part::Control => false,
                Part::More => true,
                Part::Last => self.to_next > 0,
            }
    }

    /// Messages not (wholly) written, of a queue holding `slices` (in order): the one partly
    /// written and every one after it, a message whose last frame is not queued yet included.
    /// `None` if the stream could not be followed.
    pub fn undelivered<'a>(&self, slices: impl Iterator<Item = &'a [u8]> + Clone) -> Option<u64> {
        if self.to_next == u64::MAX {
            return None;
        }
        let len: u64 = slices.clone().map(|s| s.len() as u64).sum();
        let mut bytes = Reader::new(slices);
        let mut count = 0;
        // The frame before the next head, if it is not written yet.
        let mut last = if self.to_next > 0 {
            self.current
        } else {
            Part::Control
        };
        let mut at = self.to_next;
        while at < len {
            if last == Part::Last {
                count += 1;
            }
            let (part, flen) = bytes.frame_at(at)?;
            last = part;
            at = at.saturating_add(flen);
        }
        // The frame at the back (or the one partly written): a last frame, or a message cut
        // short, is one more.
        if last != Part::Control {
            count += 1;
        }
        Some(count)
    }
}

/// Output still queued, summed over a device's connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Queued {
    /// Peers with anything queued.
    pub peers: usize,
    pub bytes: u64,
    /// Messages not wholly written, of the peers whose output could be followed.
    pub messages: u64,
    /// Peers whose output could not be followed (not counted in `messages`).
    pub unfollowed: usize,
}

impl Queued {
    /// A peer's `bytes` and `messages` (`None`: its output could not be followed).
    pub fn add(&mut self, bytes: u64, messages: Option<u64>) {
        self.peers += 1;
        self.bytes += bytes;
        self.messages += messages.unwrap_or(0);
        self.unfollowed += usize::from(messages.is_none());
    }
}

impl fmt::Display for Queued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.peers == 1 { "" } else { "s" };
        let m = if self.messages == 1 { "" } else { "s" };
        write!(
            f,
            "{} message{m} ({} bytes) queued for {} peer{s}",
            self.messages, self.bytes, self.peers
        )?;
        if self.unfollowed > 0 {
            write!(f, ", and more for {} of them", self.unfollowed)?;
        }
        Ok(())
    }
}

/// A queue's bytes read forward from its slices (a ring's two, or more around shared
/// pieces), one frame head at a time.
struct Reader<'a, I> {
    /// The slice holding the next position asked for, and the ones after it.
    cur: &'a [u8],
    rest: I,
    /// Where `cur` starts in the queue.
    start: u64,
}

impl<'a, I: Iterator<Item = &'a [u8]> + Clone> Reader<'a, I> {
    fn new(rest: I) -> Self {
        Reader {
            cur: &[],
            rest,
            start: 0,
        }
    }

    /// The frame whose head is at `at` (no earlier than the last one asked for): what it is,
    /// and its length with its head.
    fn frame_at(&mut self, at: u64) -> Option<(Part, u64)> {
        while self.start + self.cur.len() as u64 <= at {
            self.start += self.cur.len() as u64;
            self.cur = self.rest.next()?;
        }
        let here = self.cur.get(usize::try_from(at - self.start).ok()?..)?;
        let mut copy = [0u8; MAX_HEAD_LEN];
        let head = if here.len() >= MAX_HEAD_LEN {
            here
        } else {
            // A head across slices: the next ones are looked at, not taken.
            let joined = here.iter().chain(self.rest.clone().flatten());
            let mut n = 0;
            for (dst, &src) in copy.iter_mut().zip(joined) {
                *dst = src;
                n += 1;
            }
            &copy[..n]
        };
        let (h, used) = FrameHead::decode(head).ok()??;
        let part = match h {
            FrameHead { command: true, .. } => Part::Control,
            FrameHead { more: true, .. } => Part::More,
            FrameHead { .. } => Part::Last,
        };
        Some((part, (used as u64).saturating_add(h.len)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &[u8], more: bool) -> Vec<u8> {
        let mut v = FrameHead::data(body.len() as u64, more)
            .encode()
            .as_slice()
            .to_vec();
        v.extend_from_slice(body);
        v
    }

    fn command(body: &[u8]) -> Vec<u8> {
        let mut v = FrameHead::command(body.len() as u64)
            .encode()
            .as_slice()
            .to_vec();
        v.extend_from_slice(body);
        v
    }

    /// The greeting, a READY command, then `[a, b]`, `[c]` and a 300-byte message.
    fn stream() -> Vec<u8> {
        let mut s = vec![0xff; GREETING_LEN];
        s.extend(command(b"\x05READY"));
        s.extend(frame(b"a", true));
        s.extend(frame(b"b", false));
        s.extend(frame(b"c", false));
        s.extend(frame(&[7; 300], false));
        s
    }

    /// Write `steps` off the front of `queue` (split in two slices at `split`), following.
    fn write(queue: &mut Vec<u8>, split: usize, steps: &[usize]) -> OutFrames {
        let mut f = OutFrames::default();
        for &n in steps {
            let at = split.min(queue.len());
            let (a, b) = queue.split_at(at);
            f.written([a, b].into_iter(), n);
            queue.drain(..n);
        }
        f
    }

    fn left(f: &OutFrames, queue: &[u8], split: usize) -> Option<u64> {
        let (a, b) = queue.split_at(split.min(queue.len()));
        f.undelivered([a, b].into_iter())
    }

    #[test]
    fn counts_what_is_left_wherever_the_writes_stopped() {
        let total = stream().len();
        // Bytes written, then the messages left: three until the first message is whole.
        let cases = [
            (0, 3),
            (10, 3),
            (64, 3),
            (64 + 8, 3),
            (64 + 8 + 3, 3),
            (64 + 8 + 5, 3),
            (64 + 8 + 6, 2),
            (64 + 8 + 9, 1),
            (64 + 8 + 10, 1),
            (total - 1, 1),
            (total, 0),
        ];
        for (written, want) in cases {
            for split in [0, 5, 70, 80, 200, total] {
                for chunk in [1, 3, 7, 1000] {
                    let mut q = stream();
                    let steps: Vec<usize> = (0..written)
                        .step_by(chunk)
                        .map(|i| chunk.min(written - i))
                        .collect();
                    let f = write(&mut q, split, &steps);
                    assert_eq!(
                        left(&f, &q, split),
                        Some(want),
                        "{written} written in {chunk}s, split at {split}"
                    );
                }
            }
        }
    }

    #[test]
    fn tells_a_message_partly_written_and_counts_held_back_bytes() {
        let total = stream().len();
        // Bytes written, then whether a message is begun (the greeting and a command are
        // not messages).
        let cases = [
            (0, false),
            (10, false),
            (64 + 8, false),
            (64 + 8 + 1, true),
            (64 + 8 + 3, true),
            (64 + 8 + 5, true),
            (64 + 8 + 6, false),
            (64 + 8 + 7, true),
            (64 + 8 + 9, false),
            (64 + 8 + 10, true),
            (total, false),
        ];
        for (written, want) in cases {
            let f = write(&mut stream(), 70, &[written]);
            assert_eq!(f.begun(), want, "{written} written");
        }
        let mut f = OutFrames::default();
        f.returned();
        assert!(!f.begun(), "not followed");
        let mut held = frame(b"a", true);
        held.extend(frame(b"b", false));
        held.extend(frame(b"c", false));
        let at = OutFrames::at_message();
        assert_eq!(at.undelivered(std::iter::once(&held[..])), Some(2));
        assert_eq!(at.undelivered(std::iter::once(&[][..])), Some(0));
    }

    #[test]
    fn follows_frames_across_many_slices() {
        // A queue holding shared pieces shows more than two slices, and a frame head may
        // straddle them.
        let total = stream().len();
        for size in [1, 2, 5, 64] {
            for written in [0, 64 + 8 + 5, 64 + 8 + 9, total - 1, total] {
                let mut q = stream();
                let mut f = OutFrames::default();
                for step in [written / 2, written - written / 2] {
                    f.written(q.chunks(size), step);
                    q.drain(..step);
                }
                let two = left(&write(&mut stream(), 70, &[written]), &q, 70);
                assert_eq!(f.undelivered(q.chunks(size)), two, "{written} in {size}s");
                assert!(two.is_some());
            }
        }
    }

    #[test]
    fn a_message_cut_short_counts_and_a_bypassed_body_is_skipped() {
        // A 64 KiB frame of which the head and 256 bytes are queued, the rest to come.
        let mut q = vec![0xff; GREETING_LEN];
        q.extend(frame(&[1; 65536], false));
        q.truncate(GREETING_LEN + 9 + 256);
        let f = write(&mut q, usize::MAX, &[]);
        assert_eq!(left(&f, &q, usize::MAX), Some(1));
        // Taken into a pipe with the head; the body goes past the queue, then [x] is queued.
        let n = q.len();
        let mut f = write(&mut q, usize::MAX, &[n]);
        assert_eq!(left(&f, &q, usize::MAX), Some(1));
        f.bypassed(65536 - 256);
        assert_eq!(left(&f, &q, usize::MAX), Some(0));
        q.extend(frame(b"x", false));
        assert_eq!(left(&f, &q, usize::MAX), Some(1));
        // A message whose last frame is not queued yet is one.
        q.extend(frame(b"y", true));
        assert_eq!(left(&f, &q, usize::MAX), Some(2));
        // Commands are not messages.
        let mut c = vec![0xff; GREETING_LEN];
        c.extend(command(b"\x04PING\x00\x00"));
        assert_eq!(left(&OutFrames::default(), &c, 0), Some(0));
    }

    #[test]
    fn a_stream_it_cannot_follow_is_not_counted() {
        let mut q = vec![0xff; GREETING_LEN];
        q.extend([0xf0, 0x01, 0x00]);
        let f = write(&mut q, usize::MAX, &[GREETING_LEN + 3]);
        assert_eq!(f.undelivered([].into_iter()), None);
    }
}
