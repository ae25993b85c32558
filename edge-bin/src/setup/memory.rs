//! What a set of devices costs at worst, and the check that it fits `memory_max`.
//!
//! Each device holds, from start to stop, whatever its peers do: a peer table of
//! [`DeviceSetup::peer_slots`] slots, its subscription storage, its read buffer, and for each
//! slot what a connection holds without asking the budget ([`CONNECTION_BYTES`]: its task and
//! socket's bookkeeping, its queue's first allocation and the input it keeps between reads).
//! That is its *fixed* memory. Each device also *keeps* room for two whole store-and-forward
//! messages (one arriving whole into an input buffer, one queued to a peer that keeps up;
//! and a third, a frame's ciphertext, in a device that takes data from CURVE peers),
//! which only it may use, so that it can always make progress ([`DeviceSetup::kept`]). The
//! rest of `memory_max` is the *budget* the devices share at run time for queued messages and
//! input held between reads ([`crate::budget`]). A set of devices whose fixed and kept memory
//! exceeds `memory_max` is refused, with the figures and what to change, before anything is
//! bound or allocated.
//!
//! Every figure is `u64` and saturating: no value written can overflow it, and one that would
//! reads "over 16 EiB". Pipes cost descriptors and kernel memory, not heap; they are counted as
//! descriptors, and so is every peer slot (its socket).

use std::fmt;
use std::mem::size_of;

use zedge_core::device::Slot;

use super::{Bytes, DeviceSetup, Opt, Process, Via};
use crate::input::KEEP_PENDING;
use crate::queue::{HeapQueue, MIN_ALLOC};

/// Bytes of one slot of a peer table (the peer's session and queue handle; its queued bytes
/// are on the heap, drawn from the budget as they arrive).
pub const SLOT_BYTES: u64 = size_of::<Slot<HeapQueue>>() as u64;

/// A connection's task, socket registration, wake-up signal and the host's and admission's
/// entries for it: an idle connection grew the release build by 2.0 KiB (VmRSS over 2,000
/// idle connections, its greeting's 512-byte queue buffer included), so 1.5 KiB besides that
/// buffer, rounded up.
pub const TASK_BYTES: u64 = 2048;

/// What one connection holds without asking the budget, counted for every peer slot: its task
/// ([`TASK_BYTES`]), its queue's first allocation ([`MIN_ALLOC`]) and the input it may keep
/// between reads ([`KEEP_PENDING`]).
pub const CONNECTION_BYTES: u64 = TASK_BYTES + MIN_ALLOC as u64 + KEEP_PENDING as u64;

/// What one device costs, at worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceMemory {
    pub peer_slots: u64,
    /// `peer_slots` slots of [`SLOT_BYTES`].
    pub peer_table: u64,
    /// `peer_slots` connections of [`CONNECTION_BYTES`].
    pub connections: u64,
    pub subscriptions: u64,
    /// A forwarder's last-value table ([`DeviceSetup::last_value_table_bytes`]); the
    /// messages it keeps come from the budget.
    pub last_values: u64,
    /// The read buffer: one store-and-forward message and its frame heads.
    pub input: u64,
    /// Kept for one message arriving whole and one queued ([`DeviceSetup::kept`]).
    pub kept: u64,
    /// Two per pipe; no heap.
    pub pipe_fds: u64,
}

impl DeviceMemory {
    pub fn of(d: &DeviceSetup) -> DeviceMemory {
        let peer_slots = d.peer_slots() as u64;
        let kept = d.kept();
        DeviceMemory {
            peer_slots,
            peer_table: peer_slots.saturating_mul(SLOT_BYTES),
            connections: peer_slots.saturating_mul(CONNECTION_BYTES),
            subscriptions: d.subscription_bytes() as u64,
            last_values: d.last_value_table_bytes(),
            input: d.input_capacity() as u64,
            kept: kept.total(),
            pipe_fds: (d.splices() as u64).saturating_mul(2),
        }
    }

    /// Held from start to stop.
    pub fn fixed(&self) -> u64 {
        self.peer_table
            .saturating_add(self.connections)
            .saturating_add(self.subscriptions)
            .saturating_add(self.last_values)
            .saturating_add(self.input)
    }

    /// Descriptors at most: a socket per peer slot, two per pipe.
    pub fn descriptors(&self) -> u64 {
        self.peer_slots.saturating_add(self.pipe_fds)
    }
}

/// What a set of devices costs at worst, within `memory_max`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Memory {
    /// In the order of the devices.
    pub devices: Vec<DeviceMemory>,
    pub memory_max: u64,
}

impl Memory {
    pub fn of(devices: &[DeviceSetup], process: &Process) -> Memory {
        Memory {
            devices: devices.iter().map(DeviceMemory::of).collect(),
            memory_max: process.memory_max as u64,
        }
    }

    /// The figures, if the devices fit `memory_max`; else what they need, and the setting that
    /// costs the most, to change. `via` is how the message names settings.
    pub fn check(
        devices: &[DeviceSetup],
        process: &Process,
        via: Via,
    ) -> Result<Memory, MemoryError> {
        let m = Memory::of(devices, process);
        if m.need() <= m.memory_max {
            return Ok(m);
        }
        let (device, costliest) = Costliest::of(devices, &m);
        Err(MemoryError {
            device,
            name: devices
                .get(device)
                .map_or_else(String::new, |d| d.name.clone()),
            devices: devices.len(),
            fixed: m.fixed(),
            kept: m.kept(),
            memory_max: m.memory_max,
            costliest,
            via,
        })
    }

    pub fn fixed(&self) -> u64 {
        self.sum(DeviceMemory::fixed)
    }

    pub fn kept(&self) -> u64 {
        self.sum(|d| d.kept)
    }

    pub fn need(&self) -> u64 {
        self.fixed().saturating_add(self.kept())
    }

    /// What the devices share at run time: `memory_max` less what they need.
    pub fn budget(&self) -> u64 {
        self.memory_max.saturating_sub(self.need())
    }

    /// Descriptors at most, every device together.
    pub fn descriptors(&self) -> u64 {
        self.sum(DeviceMemory::descriptors)
    }

    fn sum(&self, f: impl Fn(&DeviceMemory) -> u64) -> u64 {
        self.devices.iter().map(f).fold(0, u64::saturating_add)
    }
}

/// The one setting that costs the most, over all devices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Costliest {
    pub opt: Opt,
    /// Its value: peers per side, subscriptions, bytes.
    pub value: u64,
    /// What it costs: the peer table and the connections, the subscription storage, or the
    /// input buffer and the messages kept.
    pub cost: u64,
}

impl Costliest {
    fn of(devices: &[DeviceSetup], m: &Memory) -> (usize, Costliest) {
        let mut best = (
            0,
            Costliest {
                opt: Opt::MaxPeers,
                value: 0,
                cost: 0,
            },
        );
        for (i, (d, dm)) in devices.iter().zip(&m.devices).enumerate() {
            let t = &d.tuning;
            for c in [
                (
                    Opt::MaxPeers,
                    t.max_peers,
                    dm.peer_table.saturating_add(dm.connections),
                ),
                (Opt::MaxSubscriptions, t.max_subscriptions, dm.subscriptions),
                (
                    Opt::LastValueMaxTopics,
                    t.last_value_max_topics,
                    dm.last_values,
                ),
                (
                    d.input_sized_by(),
                    t.store_forward_max,
                    dm.input.saturating_add(dm.kept),
                ),
            ] {
                let (opt, value, cost) = c;
                if cost > best.1.cost {
                    let value = value as u64;
                    best = (i, Costliest { opt, value, cost });
                }
            }
        }
        best
    }
}

/// Devices that cannot fit `memory_max`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryError {
    /// Which device to change (its index), and its name.
    pub device: usize,
    pub name: String,
    /// How many devices there are.
    pub devices: usize,
    pub fixed: u64,
    pub kept: u64,
    pub memory_max: u64,
    pub costliest: Costliest,
    pub via: Via,
}

impl fmt::Display for MemoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let via = self.via;
        let (who, on) = match (via, self.devices) {
            (Via::CommandLine, _) => ("the settings need".to_owned(), String::new()),
            (Via::ConfigFile, 1) => (
                format!("device {:?} needs", self.name),
                format!(" on device {:?}", self.name),
            ),
            (Via::ConfigFile, n) => (
                format!("the {n} devices need"),
                format!(" on device {:?}", self.name),
            ),
        };
        let need = self.fixed.saturating_add(self.kept);
        let c = self.costliest;
        let what = match c.opt {
            Opt::MaxPeers => format!(
                "{} peers per side cost {}, {} B for each on either side",
                c.value,
                Mib(c.cost),
                SLOT_BYTES + CONNECTION_BYTES
            ),
            Opt::MaxSubscriptions => format!("{} subscriptions cost {}", c.value, Mib(c.cost)),
            _ => format!(
                "{} costs {}: the input buffer and the messages kept",
                Bytes(c.value),
                Mib(c.cost)
            ),
        };
        write!(
            f,
            "{who} {} at worst ({} fixed, {} kept for whole messages), more than {} {}: \
             lower {}{on} ({what}) or raise {}",
            Figure(need),
            Mib(self.fixed),
            Mib(self.kept),
            Opt::MemoryMax.named(via),
            Bytes(self.memory_max),
            c.opt.named(via),
            Opt::MemoryMax.named(via),
        )?;
        if self.memory_max < 1 << 20 {
            // `memory_max = 64` is 64 bytes: a unit left out, surely.
            let n = self.memory_max;
            write!(
                f,
                " (a number without a unit is bytes: \"{n}M\" is {n} MiB)"
            )?;
        }
        Ok(())
    }
}

/// `123456 bytes (0.12 MiB)`: a figure with its exact bytes.
struct Figure(u64);

impl fmt::Display for Figure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            u64::MAX => write!(f, "over {} bytes ({})", u64::MAX, Mib(u64::MAX)),
            n => write!(f, "{n} bytes ({})", Mib(n)),
        }
    }
}

/// `82397.47 MiB`, rounded up to a hundredth; `over 16 EiB` for a figure that saturated.
#[derive(Clone, Copy, Debug)]
pub struct Mib(pub u64);

impl fmt::Display for Mib {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == u64::MAX {
            return f.write_str("over 16 EiB");
        }
        let hundredths = (u128::from(self.0) * 100).div_ceil(1 << 20);
        write!(f, "{}.{:02} MiB", hundredths / 100, hundredths % 100)
    }
}
