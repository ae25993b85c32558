//! The periodic stats line at info: one line per device and interval, what moved since the
//! last one in words and binary units, for a person reading the log (the metrics endpoint
//! and `STATS` have every counter, for programs):
//!
//! `gw last 60s: frontend 2 peers, in 1200 msgs (20/s, 18.8 KiB), out 1200 msgs (20/s,
//! 22.3 KiB); backend 1 peer, in 1200 msgs (20/s, 22.3 KiB), out 1200 msgs (20/s, 29.3 KiB);
//! queued 0 B; dropped 0`

use std::fmt::Write as _;
use std::time::{Duration, Instant as StdInstant};

use log::info;
use zedge_core::device::{Drops, Side, SideStats, Stats};

use super::peers::{Human, Secs};
use super::Dev;

/// The counters at the last line, and when it was.
#[derive(Debug)]
pub(super) struct Periodic {
    last: Stats,
    at: StdInstant,
}

impl Periodic {
    pub(super) fn new(stats: Stats, now: StdInstant) -> Periodic {
        Periodic {
            last: stats,
            at: now,
        }
    }

    /// Log the line if `every` has passed since the last one (and info is on).
    pub(super) fn log(&mut self, tag: &str, dev: &Dev, every: Duration) {
        if !log::log_enabled!(log::Level::Info) || self.at.elapsed() < every {
            return;
        }
        let now = StdInstant::now();
        let secs = now.duration_since(self.at).as_secs_f64();
        let stats = *dev.stats();
        info!("{tag}{}", line(&self.last, &stats, dev.queued(), secs));
        (self.last, self.at) = (stats, now);
    }
}

/// The line, from the counters `secs` apart.
fn line(was: &Stats, now: &Stats, queued: [u64; 3], secs: f64) -> String {
    let mut out = format!("last {}:", Secs(secs.round() as u64));
    for (i, s) in Side::ALL.into_iter().enumerate() {
        let (a, b) = (was.side(s), now.side(s));
        // Capture readers, where there are or were any.
        if s == Side::Capture && b.connections == 0 {
            continue;
        }
        let sep = if i > 0 { ";" } else { "" };
        let _ = write!(out, "{sep} {} {}", s.name(), side(a, b, secs));
        if s == Side::Capture {
            let lost = now.dropped.capture.saturating_sub(was.dropped.capture);
            let _ = write!(out, ", {lost} copies lost");
        }
    }
    let dropped = now
        .dropped
        .messages()
        .saturating_sub(was.dropped.messages());
    let _ = write!(
        out,
        "; queued {}; dropped {dropped}{}",
        Human(queued.iter().sum()),
        causes(&was.dropped, &now.dropped)
    );
    out
}

/// One side's part: peers now, then what came in and went out since.
fn side(a: &SideStats, b: &SideStats, secs: f64) -> String {
    let flow = |msgs: u64, bytes: u64| {
        if msgs == 0 {
            return "0 msgs".to_owned();
        }
        let rate = msgs as f64 / secs.max(0.001);
        format!("{msgs} msgs ({rate:.0}/s, {})", Human(bytes))
    };
    let s = if b.peers == 1 { "" } else { "s" };
    let refused = b.refused.saturating_sub(a.refused);
    let refused = if refused > 0 {
        format!(", {refused} refused")
    } else {
        String::new()
    };
    format!(
        "{} peer{s}{refused}, in {}, out {}",
        b.peers,
        flow(
            b.msgs_in.saturating_sub(a.msgs_in),
            b.bytes_in.saturating_sub(a.bytes_in)
        ),
        flow(
            b.msgs_out.saturating_sub(a.msgs_out),
            b.bytes_out.saturating_sub(a.bytes_out)
        ),
    )
}

/// ` (hwm 3, memory 1)`: the causes of the drops since, or nothing.
fn causes(a: &Drops, b: &Drops) -> String {
    let all = [
        ("hwm", a.hwm, b.hwm),
        ("busy", a.busy, b.busy),
        ("unroutable", a.unroutable, b.unroutable),
        ("aborted", a.aborted, b.aborted),
        ("memory", a.memory, b.memory),
    ];
    let some: Vec<String> = all
        .iter()
        .filter(|(_, a, b)| b > a)
        .map(|(name, a, b)| format!("{name} {}", b - a))
        .collect();
    if some.is_empty() {
        String::new()
    } else {
        format!(" ({})", some.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_what_moved_since_the_last_in_words() {
        let was = Stats::default();
        let mut now = Stats::default();
        let f = now.side_mut(Side::Frontend);
        (f.peers, f.msgs_in, f.bytes_in) = (2, 1200, 19_200);
        let b = now.side_mut(Side::Backend);
        (b.peers, b.msgs_out, b.bytes_out) = (1, 1195, 19_120);
        now.dropped.hwm = 5;
        assert_eq!(
            line(&was, &now, [0, 2048, 0], 60.0),
            "last 1m00s: frontend 2 peers, in 1200 msgs (20/s, 18.8 KiB), out 0 msgs; \
             backend 1 peer, in 0 msgs, out 1195 msgs (20/s, 18.7 KiB); queued 2.0 KiB; \
             dropped 5 (hwm 5)"
        );
        let c = now.side_mut(Side::Capture);
        (c.peers, c.connections, c.msgs_out, c.bytes_out) = (1, 1, 1195, 19_120);
        now.dropped.capture = 3;
        assert!(
            line(&was, &now, [0, 0, 0], 60.0).contains(
                "; capture 1 peer, in 0 msgs, out 1195 msgs (20/s, 18.7 KiB), 3 copies lost;"
            ),
            "{}",
            line(&was, &now, [0, 0, 0], 60.0)
        );
    }
}
