//! The topics' log (see the parent module): walking it, the sequence numbers and `CLEAN` mark
//! in each record, and moving a changed topic to its end.

use super::{Topics, CLEAN, NEXT, PREV, SEQ_HI, SEQ_LO};
use crate::device::subs::store::NIL;

impl Topics<'_> {
    /// The oldest change in the log.
    #[inline]
    pub(in crate::device::subs) fn first(&self) -> u32 {
        self.first
    }

    /// The next change in the log.
    #[inline]
    pub(in crate::device::subs) fn next(&self, id: u32) -> u32 {
        self.recs.get(id, NEXT)
    }

    /// The newest change in the log.
    #[inline]
    pub(in crate::device::subs) fn last(&self) -> u32 {
        self.last
    }

    /// The change before in the log.
    #[inline]
    pub(in crate::device::subs) fn prev(&self, id: u32) -> u32 {
        self.recs.get(id, PREV)
    }

    /// The sequence number of the topic's last change.
    pub(in crate::device::subs) fn seq(&self, id: u32) -> u64 {
        let hi = self.recs.get(id, SEQ_HI) & !CLEAN;
        u64::from(hi) << 32 | u64::from(self.recs.get(id, SEQ_LO))
    }

    /// The sequence number of the latest change of any topic.
    pub(in crate::device::subs) fn last_seq(&self) -> u64 {
        self.seq
    }

    pub(in crate::device::subs) fn is_clean(&self, id: u32) -> bool {
        self.recs.get(id, SEQ_HI) & CLEAN != 0
    }

    pub(in crate::device::subs) fn set_clean(&mut self, id: u32, clean: bool) {
        let hi = self.recs.get(id, SEQ_HI) & !CLEAN;
        self.recs
            .set(id, SEQ_HI, if clean { hi | CLEAN } else { hi });
    }

    /// A new change of the topic: it takes the next sequence number and goes to the end of
    /// the log (not clean until said so).
    pub(in crate::device::subs) fn touch(&mut self, id: u32) {
        if self.last != id {
            self.unlink(id);
            self.append(id);
        }
        self.stamp(id);
    }

    pub(super) fn stamp(&mut self, id: u32) {
        // 2^63 changes would take centuries at a billion a second: the top bit stays free.
        self.seq += 1;
        self.recs.set(id, SEQ_LO, self.seq as u32);
        self.recs.set(id, SEQ_HI, (self.seq >> 32) as u32 & !CLEAN);
    }

    pub(super) fn append(&mut self, id: u32) {
        self.recs.set(id, PREV, self.last);
        self.recs.set(id, NEXT, NIL);
        match self.last {
            NIL => self.first = id,
            last => self.recs.set(last, NEXT, id),
        }
        self.last = id;
    }

    pub(super) fn unlink(&mut self, id: u32) {
        let (prev, next) = (self.recs.get(id, PREV), self.recs.get(id, NEXT));
        match prev {
            NIL => self.first = next,
            p => self.recs.set(p, NEXT, next),
        }
        match next {
            NIL => self.last = prev,
            n => self.recs.set(n, PREV, prev),
        }
    }
}
