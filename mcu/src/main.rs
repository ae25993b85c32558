//! A Cortex-M4 sensor node (QEMU's mps2-an386) that is a ZeroMQ PUB over its UART, with
//! zedge-core's session layer unchanged: no heap, no allocator, a millisecond clock from
//! SysTick. QEMU bridges the UART to a TCP socket (`-serial tcp::PORT,server,nowait`), and a
//! zedge forwarder connects to it (`--frontend '>tcp://127.0.0.1:PORT'`).
//!
//! Every 100 ms it reads its three sensors and publishes `sensor/<id> <counter> <value>
//! subs=<n> stack=<bytes>` for those its peer subscribed to: `n` is how many SUBSCRIBE
//! reached it in this session, `bytes` the most stack it has used (painted at start, measured as it goes).
//! It logs sessions and subscriptions through semihosting.

#![no_std]
#![no_main]

mod node;
mod uart;

use core::panic::PanicInfo;
use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{entry, exception};
use cortex_m_semihosting::{debug, hprintln};
use zedge_core::time::Instant;

use node::{Counts, Node, INPUT};
use uart::Uart;

/// The board's clock: 25 MHz.
const CLOCK_HZ: u32 = 25_000_000;
/// How often the sensors are read.
const PERIOD_MS: u32 = 100;
/// What the unused stack is painted with.
const PAINT: u32 = 0xDEAD_BEEF;

static MILLIS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    MILLIS.fetch_add(1, Ordering::Relaxed);
}

/// Every interrupt but the core's exceptions: UART0's RX (the only one enabled), which is
/// there to end a `wfi`; the main loop reads the byte.
#[exception]
unsafe fn DefaultHandler(_irq: i16) {
    Uart::clear_rx_interrupt();
}

/// An interrupt line of this board, for the NVIC.
#[derive(Clone, Copy)]
struct Irq(u16);

// SAFETY: the number is one of the board's interrupt lines (UART0 RX).
unsafe impl cortex_m::interrupt::InterruptNumber for Irq {
    fn number(self) -> u16 {
        self.0
    }
}

fn now() -> Instant {
    Instant::from_millis(u64::from(MILLIS.load(Ordering::Relaxed)))
}

extern "C" {
    /// The end of .bss and .uninit (cortex-m-rt): the stack may grow down to here.
    static mut __sheap: u32;
}

/// Paint the stack from its lowest address up to a little below where it is now.
fn paint_stack() {
    let low = core::ptr::addr_of_mut!(__sheap) as usize;
    let here = cortex_m::register::msp::read() as usize - 256;
    let mut p = low;
    while p < here {
        // SAFETY: words between the end of the statics and below the live stack: unused.
        unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
}

/// The most stack used so far: from the top down to the lowest word no longer painted.
fn stack_used() -> usize {
    let low = core::ptr::addr_of_mut!(__sheap) as usize;
    let top = cortex_m::register::msp::read() as usize;
    let mut p = low;
    // SAFETY: reads of the painted words, which nothing else writes but the stack itself.
    while p < top && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    stack_top() - p
}

fn stack_top() -> usize {
    extern "C" {
        static _stack_start: u32;
    }
    // Only the symbol's address is taken.
    core::ptr::addr_of!(_stack_start) as usize
}

#[entry]
fn main() -> ! {
    paint_stack();
    let mut core = cortex_m::Peripherals::take().expect("taken once");
    core.SYST.set_clock_source(SystClkSource::Core);
    core.SYST.set_reload(CLOCK_HZ / 1000 - 1);
    core.SYST.clear_current();
    core.SYST.enable_counter();
    core.SYST.enable_interrupt();

    let mut uart = Uart::init();
    // SAFETY: its handler only clears the UART's interrupt; nothing is shared with it.
    unsafe { cortex_m::peripheral::NVIC::unmask(Irq(uart::RX_IRQ)) };
    let input = cortex_m::singleton!(: [u8; INPUT] = [0; INPUT]).expect("made once");
    let mut node = Node::new(input);
    hprintln!(
        "node: up, input buffer {} bytes, session {} bytes, node {} bytes",
        INPUT,
        core::mem::size_of::<zedge_core::conn::Session>(),
        core::mem::size_of::<Node<'_>>()
    );

    let mut next = 0u32;
    let mut counter = 0u32;
    let mut seen = Counts::default();
    loop {
        // What the line has brought, as far as there is room.
        let mut n = 0;
        {
            let room = node.room();
            while n < room.len() {
                let Some(b) = uart.read() else { break };
                room[n] = b;
                n += 1;
            }
        }
        let mut send = |b: &[u8]| uart.write(b);
        let t = now();
        if n > 0 {
            node.received(n, t, &mut send);
        }
        node.tick(t, &mut send);
        let ms = MILLIS.load(Ordering::Relaxed);
        if ms.wrapping_sub(next) < u32::MAX / 2 {
            next = ms.wrapping_add(PERIOD_MS);
            counter = counter.wrapping_add(1);
            let stack = stack_used();
            for id in 1..=3u32 {
                let value = counter.wrapping_mul(7 + id) % 1000;
                node.publish(id, counter, value, stack, &mut send);
            }
        }
        let c = node.counts;
        if c.sessions != seen.sessions
            || c.failed != seen.failed
            || c.subscribed != seen.subscribed
            || c.cancelled != seen.cancelled
        {
            hprintln!(
                "node: sessions {} failed {} subscribed {} cancelled {} refused {} skipped {}",
                c.sessions,
                c.failed,
                c.subscribed,
                c.cancelled,
                c.refused,
                c.skipped
            );
            seen = c;
        }
        if n == 0 {
            // Nothing came: sleep until a byte does or the next millisecond, as a battery
            // node would (QEMU idles the host's core meanwhile, where polling spun it).
            cortex_m::asm::wfi();
        }
    }
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    hprintln!("node: panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {}
}
