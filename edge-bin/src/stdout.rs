//! Everything a command prints on standard output goes through here, so that a reader that
//! leaves early (`zedge stat --watch | head -3`, `zedge --help | true`) ends the command
//! quietly with status 0, as `head` expects, instead of `println!`'s panic. Rust ignores
//! SIGPIPE, and the broker needs it ignored for its sockets, so a closed pipe is an EPIPE
//! from the write, handled here and not by restoring the signal.

use std::io::{self, Write};

/// Write `bytes` and flush: a reader that is gone ends the process with status 0; another
/// error is returned.
pub fn write(bytes: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => std::process::exit(0),
        done => done,
    }
}

/// [`write`] for a command with nothing better to do about a failed write (a full disk under
/// `> FILE`) than say so and end with status 1.
pub fn print(text: &str) {
    if let Err(e) = write(text.as_bytes()) {
        eprintln!("zedge: standard output: {e}");
        std::process::exit(1);
    }
}

/// [`write`] for a command whose exit status says more than its output (`check-config`): a
/// reader gone stops the printing (`false`), and the command goes on to its end, its other
/// words on stderr and its own status.
pub fn print_unless_gone(text: &str) -> bool {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => true,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => false,
        Err(e) => {
            eprintln!("zedge: standard output: {e}");
            std::process::exit(1);
        }
    }
}

/// `println!` through [`print`].
macro_rules! outln {
    ($($arg:tt)*) => { $crate::stdout::print(&format!("{}\n", format_args!($($arg)*))) };
}

pub(crate) use outln;
