//! guard's own terminal: whether there is one, its size, and raw mode that is undone on every
//! way out (drop, panic hook, and the relay's signal handling, which ends in a drop).

use std::os::fd::RawFd;

pub fn is_tty(fd: RawFd) -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(fd) == 1 }
}

/// The terminal's size as (cols, rows), from stdout, stdin or stderr; 80x24 without a terminal.
pub fn size() -> (u16, u16) {
    for fd in [1, 0, 2] {
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: TIOCGWINSZ writes one winsize into the struct we own.
        let ok = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0;
        if ok && ws.ws_col > 0 && ws.ws_row > 0 {
            return (ws.ws_col, ws.ws_row);
        }
    }
    (80, 24)
}

/// Raw mode on guard's stdin terminal for as long as this value lives.
pub struct RawMode(());

impl RawMode {
    /// Enters raw mode and makes sure a panic leaves it too.
    pub fn enter() -> std::io::Result<Self> {
        install_panic_hook();
        crossterm::terminal::enable_raw_mode()?;
        Ok(RawMode(()))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // Restore first, so the report is readable and the shell usable.
            let _ = crossterm::terminal::disable_raw_mode();
            previous(info);
        }));
    });
}
