//! The terminal side of a session: spawning the child under a pseudo-terminal, the one relay loop
//! that owns guard's stdin and stdout, raw mode and its restoration on every exit path.

pub mod overlay;
pub mod pty;
pub mod relay;
pub mod screen;
pub mod tty;
