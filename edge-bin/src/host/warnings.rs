//! What the host warns of, rate-limited: subscriptions the device refused (per cause, naming
//! the last subscriber refused; those held back are reported when the device stops), and
//! `memory_max` spent.

use std::time::{Duration, Instant as StdInstant};

use log::warn;
use zedge_core::device::{Refusal as Refused, Side, Stats};

use super::{Dev, DeviceHost};
use crate::budget::Account;
use crate::gate::Source;
use crate::report::{Burst, WARN_EVERY};
use crate::setup::Mib;

impl DeviceHost {
    /// Refused subscriptions counted since the last look: warned per cause, rate-limited,
    /// naming the last subscriber refused.
    pub(super) fn warn_refused(&self, dev: &Dev) {
        let conns = self.conns.borrow();
        let who = |cause: Refused| {
            let from = dev
                .last_refused(cause)
                .and_then(|id| conns.get(&id))
                .map_or_else(|| "a subscriber".to_owned(), |h| source(h.src));
            format!("{}backend {from}: subscription refused: {cause}", self.tag)
        };
        let counts = dev.stats().refused_subscriptions;
        self.refused
            .borrow_mut()
            .update(StdInstant::now(), &counts, who, log_refused);
    }
}

/// Warns, at most once per [`WARN_EVERY`], that the device's buffers could not grow for want
/// of memory.
#[derive(Debug, Default)]
pub(super) struct Spent {
    /// Refusals and drops for memory already reported.
    refused: u64,
    dropped: u64,
    warned: Option<StdInstant>,
}

impl Spent {
    pub(super) fn warn(&mut self, tag: &str, account: &Account, stats: &Stats) {
        let (refused, dropped) = (account.refused(), stats.dropped.memory);
        let now = StdInstant::now();
        let quiet = self.warned.is_some_and(|t| now - t < WARN_EVERY);
        if refused == self.refused || quiet {
            return;
        }
        let budget = account.budget();
        warn!(
            "{tag}memory_max is spent: {} of the {} the devices share is in use; since the last \
             report {} buffers could not grow ({} messages dropped for subscribers, the other \
             peers waited). Raise memory_max, or lower queue_hwm, store_forward_max or max_peers",
            Mib(budget.used() as u64),
            Mib(budget.total() as u64),
            refused - self.refused,
            dropped - self.dropped,
        );
        (self.refused, self.dropped, self.warned) = (refused, dropped, Some(now));
    }
}

/// The most slow readers named in one warning round; the others are summed up in a line.
const LOSSY_NAMED: usize = 3;

/// How often the peers are walked for losses: a reader that starts losing is named within
/// this, while it is still connected.
const LOSSY_LOOK_EVERY: Duration = Duration::from_secs(1);

/// Warns, at most once per [`WARN_EVERY`], of the peers that lost messages because they read
/// too slowly (a subscriber's publications, a client's replies, a capture reader's copies):
/// how many since the last warning and in all, and the high-water mark they were over. The
/// worst [`LOSSY_NAMED`] are named; the rest are summed up.
#[derive(Debug, Default)]
pub(super) struct Lossy {
    looked: Option<StdInstant>,
    warned: Option<StdInstant>,
}

impl Lossy {
    pub(super) fn warn(&mut self, host: &DeviceHost, dev: &Dev) {
        let now = StdInstant::now();
        let recent = |t: Option<StdInstant>, every| t.is_some_and(|t| now - t < every);
        if recent(self.looked, LOSSY_LOOK_EVERY) || recent(self.warned, WARN_EVERY) {
            return;
        }
        self.looked = Some(now);
        let conns = host.conns.borrow();
        let mut lost: Vec<(u64, u64, String, Side)> = Vec::new();
        dev.each_lossy(|id, total| {
            let Some(h) = conns.get(&id) else { return };
            let new = total.saturating_sub(h.reported_drops.replace(total));
            if new > 0 {
                lost.push((new, total, source(h.src), h.side));
            }
        });
        if lost.is_empty() {
            return;
        }
        self.warned = Some(now);
        lost.sort_unstable_by_key(|l| std::cmp::Reverse(l.0));
        let cfg = dev.config();
        let hwm = Mib(cfg.queue_hwm as u64);
        for (new, total, addr, side) in lost.iter().take(LOSSY_NAMED) {
            let (who, what) = match side {
                Side::Backend => ("subscriber", "messages"),
                Side::Frontend => ("client", "replies"),
                Side::Capture => ("capture reader", "copies"),
            };
            let side = side.name();
            warn!(
                "{}{side} {addr}: slow {who} lost {new} {what} in the last {}s ({total} in all): \
                 its queue was over queue_hwm ({hwm}) or memory_max was spent; it reads slower \
                 than they come",
                host.tag,
                WARN_EVERY.as_secs(),
            );
        }
        if lost.len() > LOSSY_NAMED {
            let rest = &lost[LOSSY_NAMED..];
            let n: u64 = rest.iter().map(|l| l.0).sum();
            warn!(
                "{}{} more slow peers lost {n} messages in the last {}s",
                host.tag,
                rest.len(),
                WARN_EVERY.as_secs()
            );
        }
    }
}

impl Drop for DeviceHost {
    /// The device is stopping: refused subscriptions and peers held back are reported.
    fn drop(&mut self) {
        // The kept messages' memory goes back to the budget (their table, leaked with the
        // device's other tables, stays).
        self.dev.get_mut().clear_last_values();
        self.refused.get_mut().drain(log_refused);
        self.flush_refused_peers(true);
    }
}

pub(super) fn log_refused(b: &Burst) {
    warn!(
        "{} ({} refused for this cause since the last report)",
        b.last, b.count
    );
}

/// A subscriber's address for a warning.
fn source(src: Source) -> String {
    match src {
        Source::Tcp(ip) => ip.to_string(),
        Source::Ipc => "(ipc)".to_owned(),
        Source::Connected => "(connected)".to_owned(),
    }
}
