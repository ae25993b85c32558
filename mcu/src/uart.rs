//! UART0 of the mps2-an386 (an ARM CMSDK APB UART at 0x4000_4000), polled: QEMU bridges it
//! to whatever `-serial` names (a TCP socket here), a byte at a time, with flow control on
//! the way in (a byte waits until the last was read). A byte received raises its RX interrupt
//! (IRQ 0), which only wakes the core from `wfi` ([`Uart::clear_rx_interrupt`]): the main loop
//! reads it.

use core::ptr::{read_volatile, write_volatile};

const BASE: usize = 0x4000_4000;
const DATA: usize = BASE;
const STATE: usize = BASE + 0x04;
const CTRL: usize = BASE + 0x08;
const INTCLEAR: usize = BASE + 0x0C;
const BAUDDIV: usize = BASE + 0x10;

const STATE_TX_FULL: u32 = 1 << 0;
const STATE_RX_FULL: u32 = 1 << 1;
const CTRL_TX_EN: u32 = 1 << 0;
const CTRL_RX_EN: u32 = 1 << 1;
const CTRL_RX_INT_EN: u32 = 1 << 3;
const INT_RX: u32 = 1 << 1;
/// UART0's RX interrupt on this board.
pub const RX_IRQ: u16 = 0;

/// The UART, enabled both ways. One exists (made once in `main`).
#[derive(Debug)]
pub struct Uart(());

impl Uart {
    /// Enable it. QEMU sends nothing with a divider under 16; at 25 MHz, 16 is its fastest.
    pub fn init() -> Uart {
        // SAFETY: the registers of UART0, present on this board, written from one place.
        unsafe {
            write_volatile(BAUDDIV as *mut u32, 16);
            write_volatile(CTRL as *mut u32, CTRL_TX_EN | CTRL_RX_EN | CTRL_RX_INT_EN);
        }
        Uart(())
    }

    /// The RX interrupt was taken: cleared, or it would be taken again at once.
    pub fn clear_rx_interrupt() {
        // SAFETY: writing INTCLEAR clears the interrupts whose bits are set, nothing else.
        unsafe { write_volatile(INTCLEAR as *mut u32, INT_RX) };
    }

    fn state(&self) -> u32 {
        // SAFETY: a read of UART0's status register.
        unsafe { read_volatile(STATE as *const u32) }
    }

    /// A byte received, if one is waiting.
    pub fn read(&mut self) -> Option<u8> {
        if self.state() & STATE_RX_FULL == 0 {
            return None;
        }
        // SAFETY: reading DATA takes the byte the status said is there.
        Some(unsafe { read_volatile(DATA as *const u32) } as u8)
    }

    /// Send `bytes`, waiting for room before each.
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            while self.state() & STATE_TX_FULL != 0 {}
            // SAFETY: writing DATA sends the byte; the status said there is room.
            unsafe { write_volatile(DATA as *mut u32, u32::from(b)) };
        }
    }
}
