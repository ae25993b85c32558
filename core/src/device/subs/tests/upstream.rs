//! The upstream log against a model: subscribers subscribe, cancel and leave (taken out a few
//! entries at a time), publishers join, leave, take what they are sent at once or not
//! (`ready`), and work off what they are owed a few topics at a time.

use super::*;

#[derive(Clone, Debug)]
pub(super) enum UpOp {
    Add(usize, usize),
    Remove(usize, usize),
    /// The subscriber leaves: its subscriptions go a few at a time, from now on.
    Leave(usize),
    /// Take out this many subscriptions of subscribers that left.
    LeaveStep(usize),
    Join(usize),
    Quit(usize),
    /// Whether the publisher takes a change at once (its queue is empty).
    Ready(usize, bool),
    /// The publisher is sent up to this many topics it is owed.
    Drain(usize, usize),
    Sweep(usize),
    Match(usize, usize, u8),
}

pub(super) fn up_op() -> impl Strategy<Value = UpOp> {
    let (p, t, q) = (0..4usize, 0..topic_set().len(), 0..3usize);
    prop_oneof![
        6 => (p.clone(), t.clone()).prop_map(|(p, t)| UpOp::Add(p, t)),
        4 => (p.clone(), t.clone()).prop_map(|(p, t)| UpOp::Remove(p, t)),
        1 => p.prop_map(UpOp::Leave),
        2 => (1..6usize).prop_map(UpOp::LeaveStep),
        1 => q.clone().prop_map(UpOp::Join),
        1 => q.clone().prop_map(UpOp::Quit),
        3 => (q.clone(), any::<bool>()).prop_map(|(q, r)| UpOp::Ready(q, r)),
        3 => (q, 1..6usize).prop_map(|(q, n)| UpOp::Drain(q, n)),
        1 => (1..6usize).prop_map(UpOp::Sweep),
        1 => (t, 0..20_000usize, prop::sample::select(b"abclmx\0".to_vec())).prop_map(|(t, cut, b)| UpOp::Match(t, cut, b)),
    ]
}

/// A publisher: where it is in the log, whether it takes a change at once, and the
/// subscriptions it holds as an upstream that counts them would (ours does).
#[derive(Debug, Default)]
pub(super) struct Publisher {
    cursor: Option<Cursor>,
    ready: bool,
    held: BTreeMap<Vec<u8>, u32>,
    sent: usize,
}

impl Publisher {
    /// A subscription is never sent to a publisher that holds it.
    fn subscribe(&mut self, topic: Vec<u8>) -> Result<(), TestCaseError> {
        let n = self.held.entry(topic.clone()).or_default();
        prop_assert_eq!(
            *n,
            0,
            "subscribed twice to {:?}",
            &topic[..topic.len().min(8)]
        );
        *n = 1;
        self.sent += 1;
        Ok(())
    }

    /// A cancellation of a topic not held is ignored, as libzmq and we do.
    fn cancel(&mut self, topic: &[u8]) {
        self.held.remove(topic);
        self.sent += 1;
    }
}

pub(super) struct World<'s> {
    pub(super) t: SubTable<'s>,
    pubs: Vec<Publisher>,
    /// The subscriber in each of the four places, and those that left with subscriptions
    /// still to take out.
    subs: Vec<PeerSubs>,
    leaving: Vec<PeerSubs>,
    next_name: u32,
    /// Subscriptions by (subscriber name, topic), theirs that left included.
    model: BTreeMap<(u32, usize), u32>,
    topics: Vec<Vec<u8>>,
}

impl<'s> World<'s> {
    pub(super) fn new(t: SubTable<'s>) -> Self {
        World {
            t,
            pubs: (0..3).map(|_| Publisher::default()).collect(),
            subs: (0..4).map(PeerSubs::new).collect(),
            leaving: Vec::new(),
            next_name: 4,
            model: BTreeMap::new(),
            topics: topic_set(),
        }
    }

    fn index(&self, id: u32) -> usize {
        let b = bytes(self.t.topic(id));
        self.topics
            .iter()
            .position(|t| *t == b)
            .expect("a known topic")
    }

    fn change(&mut self, id: u32, new: bool) -> Result<(), TestCaseError> {
        let mut ch = self.t.changed(id, new);
        let topic = bytes(self.t.topic(id));
        for p in &mut self.pubs {
            let Some(cursor) = p.cursor.as_mut() else {
                continue;
            };
            if ch.publisher(&self.t, cursor, p.ready) {
                if ch.live() {
                    p.subscribe(topic.clone())?;
                } else {
                    // Sent at once, it is exactly what the publisher holds.
                    prop_assert!(
                        p.held.contains_key(&topic),
                        "a cancel of a topic not held, sent at once"
                    );
                    p.cancel(&topic);
                }
            }
        }
        ch.finish(&mut self.t);
        Ok(())
    }

    /// Release `id`, which has no subscribers, unless a publisher is owed it.
    fn passed(&mut self, id: u32) {
        let owed = self
            .pubs
            .iter()
            .any(|p| p.cursor.is_some_and(|c| self.t.owes(&c, id)));
        if !owed {
            self.t.release(id);
        }
    }

    fn drain(&mut self, q: usize, n: usize) -> Result<(), TestCaseError> {
        for _ in 0..n {
            let Some(cursor) = self.pubs[q].cursor else {
                return Ok(());
            };
            let Some((id, owed)) = self.t.owed(&cursor) else {
                return Ok(());
            };
            let topic = bytes(self.t.topic(id));
            let p = &mut self.pubs[q];
            match owed {
                Owed::Subscribe { cancel_first } => {
                    if cancel_first {
                        p.cancel(&topic);
                    }
                    p.subscribe(topic)?;
                }
                Owed::Cancel => p.cancel(&topic),
                Owed::Nothing => {}
            }
            let mut cursor = cursor;
            let tomb = self.t.pass(&mut cursor);
            self.pubs[q].cursor = Some(cursor);
            if let Some(id) = tomb {
                self.passed(id);
            }
        }
        Ok(())
    }

    fn leave_step(&mut self, n: usize) -> Result<(), TestCaseError> {
        for _ in 0..n {
            let Some(subs) = self.leaving.first_mut() else {
                return Ok(());
            };
            let name = subs.peer;
            match self.t.leave_one(subs) {
                None => {
                    self.leaving.remove(0);
                }
                Some((id, last)) => {
                    let ti = self.index(id);
                    prop_assert!(self.model.remove(&(name, ti)).is_some());
                    let others = self.model.keys().any(|k| k.1 == ti);
                    prop_assert_eq!(last, !others);
                    if last {
                        self.change(id, false)?;
                    }
                }
            }
        }
        Ok(())
    }

    pub(super) fn apply(&mut self, op: UpOp) -> Result<(), TestCaseError> {
        match op {
            UpOp::Add(p, ti) => {
                let name = self.subs[p].peer;
                let held = self.model.contains_key(&(name, ti));
                let live = self.model.keys().any(|k| k.1 == ti);
                match self.t.subscribe(&mut self.subs[p], &self.topics[ti], false) {
                    Ok(first) => {
                        prop_assert_eq!(first.is_some(), !live);
                        *self.model.entry((name, ti)).or_default() += 1;
                        if let Some((id, new)) = first {
                            self.change(id, new)?;
                        }
                    }
                    Err(r) => prop_assert!(!held, "counting up is never refused: {:?}", r),
                }
            }
            UpOp::Remove(p, ti) => {
                let name = self.subs[p].peer;
                let got = self.t.unsubscribe(&mut self.subs[p], &self.topics[ti]);
                let want = self.model.get(&(name, ti)).copied();
                prop_assert_eq!(got.is_some(), want.is_some());
                if let Some(n) = want {
                    if n == 1 {
                        self.model.remove(&(name, ti));
                    } else {
                        self.model.insert((name, ti), n - 1);
                    }
                }
                let live = self.model.keys().any(|k| k.1 == ti);
                if let Some(last) = got {
                    prop_assert_eq!(last.is_some(), !live);
                    if let Some(id) = last {
                        self.change(id, false)?;
                    }
                }
            }
            UpOp::Leave(p) => {
                let fresh = PeerSubs::new(self.next_name);
                self.next_name += 1;
                let gone = core::mem::replace(&mut self.subs[p], fresh);
                self.leaving.push(gone);
            }
            UpOp::LeaveStep(n) => self.leave_step(n)?,
            UpOp::Join(q) => {
                if self.pubs[q].cursor.is_none() {
                    self.pubs[q].cursor = Some(self.t.join());
                    self.pubs[q].held.clear();
                }
            }
            UpOp::Quit(q) => {
                if let Some(c) = self.pubs[q].cursor.take() {
                    self.t.forget(&c);
                }
            }
            UpOp::Ready(q, ready) => self.pubs[q].ready = ready,
            UpOp::Drain(q, n) => self.drain(q, n)?,
            UpOp::Sweep(n) => {
                for _ in 0..n {
                    let pubs = &self.pubs;
                    self.t.sweep_one(|t, id| {
                        pubs.iter()
                            .any(|p| p.cursor.is_some_and(|c| t.owes(&c, id)))
                    });
                }
            }
            UpOp::Match(ti, cut, extra) => {
                let topic = &self.topics[ti];
                let head = [&topic[..cut.min(topic.len())], &[extra]].concat();
                let mut want: Vec<u32> = self
                    .model
                    .keys()
                    .filter(|(_, mt)| head.starts_with(&self.topics[*mt]))
                    .map(|&(p, _)| p)
                    .collect();
                want.sort();
                prop_assert_eq!(matched(&self.t, &head), want);
            }
        }
        prop_assert_eq!(self.t.len(), self.model.len());
        let live: BTreeSet<usize> = self.model.keys().map(|k| k.1).collect();
        prop_assert_eq!(self.t.topic_count(), live.len());
        Ok(())
    }

    /// Everything worked off: every subscriber that left is out, every publisher has
    /// taken what it is owed, the sweep is done. Then every publisher holds exactly the
    /// topics with subscribers, once each, and no record is kept for any other topic.
    pub(super) fn settle(&mut self) -> Result<(), TestCaseError> {
        while !self.leaving.is_empty() {
            self.leave_step(1000)?;
        }
        for q in 0..self.pubs.len() {
            self.pubs[q].ready = true;
            self.drain(q, usize::MAX)?;
        }
        while self.t.sweeping() {
            self.apply(UpOp::Sweep(1000))?;
        }
        let live: BTreeSet<Vec<u8>> = self
            .model
            .keys()
            .map(|k| self.topics[k.1].clone())
            .collect();
        for p in self.pubs.iter().filter(|p| p.cursor.is_some()) {
            let held: BTreeSet<Vec<u8>> = p.held.keys().cloned().collect();
            prop_assert_eq!(&held, &live);
            prop_assert!(p.held.values().all(|&n| n == 1));
        }
        prop_assert_eq!(self.t.topic_records(), live.len(), "topics kept for nobody");
        Ok(())
    }
}
