//! A device's memory for its whole life, taken before it starts: the peer table
//! ([`DeviceSetup::peer_slots`] slots), the subscription storage
//! ([`DeviceSetup::subscription_bytes`]) and the read buffer.
//!
//! `memory_max` bounds what the limits may ask for, but not what the machine can give: a
//! budget raised past the board's memory, or a process under `ulimit -v`, would make an
//! infallible allocation abort the process. Every allocation here is fallible instead, and a
//! refusal is an [`AllocError`] that says which table, how big, and what to lower; `zedge run`
//! exits with status 2 on it (a config that cannot work), a reload keeps the running devices.
//!
//! The read buffer is [`DeviceConfig::input_capacity`](zedge_core::device::DeviceConfig)
//! bytes (`store_forward_max` and a frame head), zeroed like the subscription storage: a
//! read takes at most 64 KiB, so most of it is never touched and costs no RSS.

use std::fmt;

use zedge_core::device::{Cached, Entry, Slot};

use crate::queue::HeapQueue;
use crate::setup::{DeviceSetup, Opt, Via, SLOT_BYTES};

/// The memory one device holds from start to stop; built on the main thread, handed to the
/// device's own.
#[derive(Debug)]
pub struct Storage {
    pub peers: Vec<Slot<HeapQueue>>,
    /// Zeroed, as the subscription table wants it.
    pub subs: Vec<u8>,
    pub scratch: Vec<u8>,
    /// A forwarder's last-value cache: a topic entry each, and as many places in the topics'
    /// order (none with the cache off).
    pub last: Vec<Entry<Cached<HeapQueue>>>,
    pub last_order: Vec<u32>,
}

impl Storage {
    /// Take the device's memory, or say which part the system would not give.
    pub fn allocate(d: &DeviceSetup) -> Result<Storage, AllocError> {
        let fail = |table, bytes, count, opt| AllocError {
            device: d.name.clone(),
            table,
            bytes,
            count,
            opt,
        };
        let slots = d.peer_slots();
        let mut peers = Vec::new();
        let table_bytes = (slots as u64).saturating_mul(SLOT_BYTES);
        peers
            .try_reserve_exact(slots)
            .map_err(|_| fail(Table::Peers, table_bytes, slots, Opt::MaxPeers))?;
        peers.resize_with(slots, Slot::default);

        let sub_bytes = d.subscription_bytes();
        let subs = zeroed(sub_bytes).ok_or_else(|| {
            let n = d.tuning.max_subscriptions;
            fail(
                Table::Subscriptions,
                sub_bytes as u64,
                n,
                Opt::MaxSubscriptions,
            )
        })?;

        let read = d.device_config().input_capacity;
        let scratch =
            zeroed(read).ok_or_else(|| fail(Table::Input, read as u64, 1, Opt::StoreForwardMax))?;
        let topics = d.last_value_topics();
        let mut last = Vec::new();
        let mut last_order = Vec::new();
        let cache_bytes = d.last_value_table_bytes();
        let refused = || {
            fail(
                Table::LastValues,
                cache_bytes,
                topics,
                Opt::LastValueMaxTopics,
            )
        };
        last.try_reserve_exact(topics).map_err(|_| refused())?;
        last_order
            .try_reserve_exact(topics)
            .map_err(|_| refused())?;
        last.resize_with(topics, Entry::default);
        last_order.resize(topics, 0);
        Ok(Storage {
            peers,
            subs,
            scratch,
            last,
            last_order,
        })
    }
}

/// `n` zeroed bytes from the allocator's zeroing path (calloc): pages no subscription has
/// used stay untouched and cost no RSS, which filling a reserved buffer would not. The zeroing
/// path has no fallible form in stable Rust, so the size is first reserved and given back: a
/// size the system cannot give is refused there, and the zeroed allocation of the same size
/// right after, at start or reload, finds it again.
///
/// Only sizes over [`PROBE_ABOVE`] are probed: glibc raises its mmap threshold to the size of
/// a mapped block that is freed (up to 32 MiB), and the zeroed allocation right after would
/// then come from the heap and be cleared page by page: at the default limits, a forwarder
/// idled at 4.7 MiB of RSS instead of 3.5. Under it, the allocation is no larger than many
/// others the process makes anyway.
fn zeroed(n: usize) -> Option<Vec<u8>> {
    if n > PROBE_ABOVE {
        let mut probe: Vec<u8> = Vec::new();
        probe.try_reserve_exact(n).ok()?;
        drop(probe);
    }
    Some(vec![0; n])
}

/// Zeroed allocations larger than this are first reserved fallibly (see [`zeroed`]): above
/// glibc's largest dynamic mmap threshold, so the probe leaves the threshold as it was.
const PROBE_ABOVE: usize = 32 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Table {
    Peers,
    Subscriptions,
    Input,
    LastValues,
}

/// The system would not give a device the memory its limits ask for.
#[derive(Debug)]
pub struct AllocError {
    /// Empty for the command line's device.
    device: String,
    table: Table,
    bytes: u64,
    count: usize,
    /// The setting that sizes it.
    opt: Opt,
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let via = if self.device.is_empty() {
            Via::CommandLine
        } else {
            write!(f, "device {:?}: ", self.device)?;
            Via::ConfigFile
        };
        let what = match self.table {
            Table::Peers => format!("its peer table ({} slots", self.count),
            Table::Subscriptions => format!("its subscription table ({} entries", self.count),
            Table::Input => "its read buffer (".to_owned(),
            Table::LastValues => format!("its last-value table ({} topics", self.count),
        };
        let sep = if self.table == Table::Input { "" } else { ", " };
        write!(
            f,
            "the system refused {what}{sep}{} bytes): out of memory; lower {} (and {} with it) \
             or run where that much memory is available",
            self.bytes,
            self.opt.named(via),
            Opt::MemoryMax.named(via),
        )
    }
}

impl std::error::Error for AllocError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::{Tuning, Written, HEADS_ROOM};
    use zedge_core::device::Kind;

    fn device(name: &str, kind: Kind) -> DeviceSetup {
        let mut d = Written::new(name.to_owned(), kind).build().unwrap();
        d.tuning = Tuning::default();
        d
    }

    #[test]
    fn sizes_follow_the_limits() {
        let d = device("feed", Kind::Forwarder { classic: false });
        let s = Storage::allocate(&d).unwrap();
        assert_eq!(s.peers.len(), d.peer_slots());
        assert_eq!(s.peers.len(), 2 * d.tuning.max_peers);
        assert_eq!(s.subs.len(), d.subscription_bytes());
        assert!(s.subs.iter().all(|&b| b == 0));
        assert_eq!(s.scratch.len(), d.device_config().input_capacity);
        assert_eq!(s.scratch.len(), (1 << 20) + HEADS_ROOM);
    }

    #[test]
    fn a_table_past_the_address_space_is_an_error_not_an_abort() {
        let mut d = device("big", Kind::Streamer);
        d.tuning.max_peers = usize::MAX / 4;
        let e = Storage::allocate(&d).unwrap_err();
        assert_eq!(e.table, Table::Peers);
        let msg = e.to_string();
        assert!(
            msg.starts_with("device \"big\": the system refused its peer table ("),
            "{msg}"
        );
        assert!(
            msg.ends_with(
                "out of memory; lower max_peers (and memory_max with it) or run where that \
                 much memory is available"
            ),
            "{msg}"
        );
        // The subscription table cannot outgrow the address space (the core caps its
        // records), so its refusal needs a process limit: tests/tests/config_run.rs runs
        // zedge under `ulimit -v` for it.
    }
}
