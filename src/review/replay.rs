//! `guard replay`: plays a session's recording in the terminal at its own pace (or faster, with
//! long idle stretches cut), pausing at markers and naming them in the window title; `q` quits.
//! Without a terminal the output is written straight through.

use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::terminal::overlay::sanitize;
use crate::terminal::tty;

pub struct Pace {
    pub speed: f64,
    pub idle_limit: Option<f64>,
}

pub fn replay(cast: &Path, pace: &Pace) -> io::Result<()> {
    let text = std::fs::read_to_string(cast)?;
    let events: Vec<(f64, String, String)> = text
        .lines()
        .skip(1)
        .filter_map(|l| serde_json::from_str::<(f64, String, String)>(l).ok())
        .collect();
    let mut out = io::stdout().lock();
    if !(tty::is_tty(0) && tty::is_tty(1)) {
        for (_, code, data) in &events {
            if code == "o" {
                out.write_all(data.as_bytes())?;
            }
        }
        return out.flush();
    }
    let _raw = tty::RawMode::enter()?;
    let quit = watch_for_quit();
    let mut previous = 0.0;
    for (t, code, data) in &events {
        let mut gap = (t - previous).max(0.0);
        if let Some(limit) = pace.idle_limit {
            gap = gap.min(limit);
        }
        previous = *t;
        if sleep_unless(&quit, gap / pace.speed) {
            break;
        }
        match code.as_str() {
            "o" => out.write_all(data.as_bytes())?,
            "m" => {
                write!(out, "\x1b]2;guard: {}\x07", sanitize(data))?;
                out.flush()?;
                if sleep_unless(&quit, 1.0) {
                    break;
                }
            }
            _ => {}
        }
        out.flush()?;
    }
    write!(out, "\x1b[0m\r\n")?;
    out.flush()
}

/// Sleeps `secs`, waking early when `q` was pressed; returns whether it was.
fn sleep_unless(quit: &AtomicBool, secs: f64) -> bool {
    let mut left = Duration::from_secs_f64(secs.clamp(0.0, 3600.0));
    while !left.is_zero() {
        if quit.load(Ordering::Relaxed) {
            return true;
        }
        let nap = left.min(Duration::from_millis(20));
        std::thread::sleep(nap);
        left -= nap;
    }
    quit.load(Ordering::Relaxed)
}

fn watch_for_quit() -> Arc<AtomicBool> {
    let quit = Arc::new(AtomicBool::new(false));
    let flag = quit.clone();
    std::thread::spawn(move || {
        let mut byte = [0u8; 1];
        while let Ok(1) = io::stdin().read(&mut byte) {
            if matches!(byte[0], b'q' | b'Q' | 0x03) {
                flag.store(true, Ordering::Relaxed);
                break;
            }
        }
    });
    quit
}
