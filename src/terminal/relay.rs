//! The relay loop: the one owner of guard's stdin and stdout while the child runs.
//!
//! Blocking endpoints (the PTY reader and writer, stdin, waitpid) each get a small thread that
//! talks to this loop over bounded channels; the loop decides where every byte goes. Output is
//! always drained, so a child that stops reading its input can never wedge the relay, and input
//! waiting for the child is capped so a fast producer cannot grow guard's memory. Because every
//! keystroke and every byte of output passes through here, this is also the place that can
//! freeze the screen, take a key for itself and repaint the child's screen afterwards.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Write};
use std::mem::ManuallyDrop;
use std::os::fd::{FromRawFd, RawFd};
use std::time::Duration;

use portable_pty::{MasterPty, PtySize};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until};

use super::overlay;
use super::pty;
use super::screen::Shadow;
use super::tty;
use crate::approval::{Answer, Prompt, ToTerminal};
use crate::record::recorder::Recorder;

const CHUNK: usize = 64 * 1024;
/// Input accepted but not yet written to the child; past it, guard stops reading stdin.
const INPUT_LIMIT: usize = 1024 * 1024;
/// How long a child gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(2);
/// How long output is still drained after the child exits (its descendants may hold the PTY).
const DRAIN: Duration = Duration::from_millis(500);

pub struct Relay {
    pub pid: i32,
    pub master: Box<dyn MasterPty + Send>,
    pub cast: Option<Recorder>,
    pub record_input: bool,
    /// guard's stdin is a terminal: resizes are followed and EOF is not forwarded as ^D.
    pub interactive: bool,
    pub size: (u16, u16),
    /// Approval prompts and recording markers from the rest of guard.
    pub control: Option<mpsc::UnboundedReceiver<ToTerminal>>,
    /// The model of the child's screen, kept when approvals are asked in this terminal.
    pub shadow: Option<Shadow>,
}

pub struct Outcome {
    pub exit_code: i32,
    /// The signal that made guard end the child, if one did.
    pub stopped_by: Option<i32>,
    pub cast: Option<Recorder>,
}

struct Loop {
    relay: Relay,
    stdout: Option<ManuallyDrop<File>>,
    pending: VecDeque<Vec<u8>>,
    pending_bytes: usize,
    last_input: Option<u8>,
    stopped_by: Option<i32>,
    kill_at: Option<Instant>,
    /// Requests waiting for the human, the one shown first.
    prompts: VecDeque<Prompt>,
    /// The size the child was last told; differs from `relay.size` while an overlay is up.
    child_size: (u16, u16),
}

impl Relay {
    pub async fn run(
        mut self,
        reader: Box<dyn Read + Send>,
        writer: Box<dyn Write + Send>,
    ) -> Outcome {
        let master_fd = self.master.as_raw_fd();
        let ends = Endpoints::start(self.pid, (reader, master_fd), writer, self.control.take());
        let mut state = Loop::new(self);
        let exit_code = state.pump(ends).await;
        // The session is over: nobody is left to answer what still waits.
        state.prompts.clear();
        state.thaw();
        Outcome {
            exit_code,
            stopped_by: state.stopped_by,
            cast: state.relay.cast.take(),
        }
    }
}

/// The channels to the blocking endpoints, each served by a thread of its own.
struct Endpoints {
    output: mpsc::Receiver<Vec<u8>>,
    input: mpsc::Receiver<Vec<u8>>,
    to_child: mpsc::Sender<Vec<u8>>,
    exit: oneshot::Receiver<i32>,
    control: Option<mpsc::UnboundedReceiver<ToTerminal>>,
}

impl Endpoints {
    fn start(
        pid: i32,
        reader: (Box<dyn Read + Send>, Option<RawFd>),
        writer: Box<dyn Write + Send>,
        control: Option<mpsc::UnboundedReceiver<ToTerminal>>,
    ) -> Self {
        let (out_tx, output) = mpsc::channel::<Vec<u8>>(16);
        let (in_tx, input) = mpsc::channel::<Vec<u8>>(16);
        let (to_child, child_rx) = mpsc::channel::<Vec<u8>>(4);
        let (exit_tx, exit) = oneshot::channel::<i32>();
        spawn_reader(reader, out_tx);
        spawn_stdin(in_tx);
        spawn_writer(writer, child_rx);
        std::thread::spawn(move || {
            let _ = exit_tx.send(pty::wait(pid));
        });
        Endpoints {
            output,
            input,
            to_child,
            exit,
            control,
        }
    }
}

impl Loop {
    fn new(relay: Relay) -> Self {
        let child_size = relay.size;
        Loop {
            relay,
            // SAFETY: fd 1 lives as long as the process; ManuallyDrop never closes it. Writing
            // through a File avoids std's line buffering of Stdout.
            stdout: Some(ManuallyDrop::new(unsafe { File::from_raw_fd(1) })),
            pending: VecDeque::new(),
            pending_bytes: 0,
            last_input: None,
            stopped_by: None,
            kill_at: None,
            prompts: VecDeque::new(),
            child_size,
        }
    }

    /// Moves bytes and events until the child has exited and its output is drained; returns
    /// the child's exit code.
    async fn pump(&mut self, mut ends: Endpoints) -> i32 {
        let mut signals = Signals::new();
        let mut ticker = tokio::time::interval(Duration::from_millis(250));
        let (mut output_open, mut stdin_open) = (true, true);
        let mut exit_code: Option<i32> = None;
        let mut drain_until: Option<Instant> = None;
        loop {
            let drained = !output_open || drain_until.is_some_and(|d| Instant::now() >= d);
            if let Some(code) = exit_code.filter(|_| drained) {
                return code;
            }
            let deadline = [self.kill_at, drain_until].into_iter().flatten().min();
            tokio::select! {
                biased;
                code = &mut ends.exit, if exit_code.is_none() => {
                    exit_code = Some(code.unwrap_or(255));
                    drain_until = Some(Instant::now() + DRAIN);
                    self.kill_at = None;
                }
                chunk = ends.output.recv(), if output_open => match chunk {
                    Some(bytes) => self.show(&gather(bytes, &mut ends.output)),
                    None => output_open = false,
                },
                Some(sig) = signals.next() => self.on_signal(sig),
                Some(msg) = recv(&mut ends.control) => self.on_control(msg),
                _ = ticker.tick(), if !self.prompts.is_empty() => self.on_tick(),
                permit = ends.to_child.reserve(), if !self.pending.is_empty() => {
                    if let (Ok(permit), Some(bytes)) = (permit, self.pending.pop_front()) {
                        self.pending_bytes -= bytes.len();
                        permit.send(bytes);
                    }
                }
                chunk = ends.input.recv(), if stdin_open && self.pending_bytes < INPUT_LIMIT => match chunk {
                    Some(bytes) => self.on_input(bytes),
                    None => {
                        stdin_open = false;
                        self.on_input_eof();
                    }
                },
                _ = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    self.on_deadline();
                }
            }
        }
    }
}

impl Loop {
    /// Child output: into the model, to the terminal unless frozen, and into the recording.
    fn show(&mut self, bytes: &[u8]) {
        let visible = self.relay.shadow.as_mut().is_none_or(|s| s.output(bytes));
        if visible {
            self.write_out(bytes);
        }
        if let Some(cast) = &self.relay.cast {
            cast.output(bytes);
        }
    }

    fn write_out(&mut self, bytes: &[u8]) {
        if let Some(out) = self.stdout.as_mut()
            && out.write_all(bytes).is_err()
        {
            // Nobody reads our stdout any more (e.g. `| head`); keep recording.
            self.stdout = None;
        }
    }

    fn on_input(&mut self, bytes: Vec<u8>) {
        if !self.prompts.is_empty() {
            // While the overlay is up every key is guard's: none reaches the child or the cast.
            if let Some(answer) = overlay::answer(&bytes) {
                self.answer(answer);
            }
            return;
        }
        if self.relay.record_input
            && let Some(cast) = &self.relay.cast
        {
            cast.input(&bytes);
        }
        self.last_input = bytes.last().copied().or(self.last_input);
        self.queue(bytes);
    }

    /// End of guard's stdin. Without a terminal it becomes end-of-file for the child: VEOF at
    /// the start of a line (a pending partial line needs one VEOF to flush and one more).
    fn on_input_eof(&mut self) {
        if self.relay.interactive {
            return;
        }
        let eof = match self.last_input {
            None | Some(b'\n') => vec![0x04],
            Some(_) => vec![0x04, 0x04],
        };
        self.queue(eof);
    }

    fn queue(&mut self, bytes: Vec<u8>) {
        self.pending_bytes += bytes.len();
        self.pending.push_back(bytes);
    }

    fn on_signal(&mut self, sig: i32) {
        match sig {
            libc::SIGWINCH => self.resize(),
            // Ctrl-C and Ctrl-\ typed at a cooked terminal reach guard, not the child, which
            // leads its own session: pass them on.
            libc::SIGINT | libc::SIGQUIT => pty::signal_group(self.relay.pid, sig),
            _ => self.stop(sig),
        }
    }

    /// SIGTERM or SIGHUP to guard: end the child's process group, TERM first, then KILL.
    fn stop(&mut self, sig: i32) {
        if self.stopped_by.is_none() {
            self.stopped_by = Some(sig);
            if sig == libc::SIGHUP {
                pty::signal_group(self.relay.pid, libc::SIGHUP);
            }
            pty::signal_group(self.relay.pid, libc::SIGTERM);
            self.kill_at = Some(Instant::now() + GRACE);
        }
    }

    fn on_deadline(&mut self) {
        if self.kill_at.is_some_and(|at| Instant::now() >= at) {
            pty::signal_group(self.relay.pid, libc::SIGKILL);
            self.kill_at = None;
        }
    }

    fn resize(&mut self) {
        if !self.relay.interactive {
            return;
        }
        let size = tty::size();
        if size == self.relay.size {
            return;
        }
        self.relay.size = size;
        if self.prompts.is_empty() {
            self.resize_child();
        } else {
            // The child hears of it when the overlay is gone, so it redraws once, at the end.
            self.draw();
        }
    }

    fn resize_child(&mut self) {
        let size = self.relay.size;
        if size == self.child_size {
            return;
        }
        self.child_size = size;
        let _ = self.relay.master.resize(PtySize {
            rows: size.1,
            cols: size.0,
            pixel_width: 0,
            pixel_height: 0,
        });
        if let Some(shadow) = self.relay.shadow.as_mut() {
            shadow.resize(size.0, size.1);
        }
        if let Some(cast) = &self.relay.cast {
            cast.resize(size.0, size.1);
        }
    }

    fn on_control(&mut self, msg: ToTerminal) {
        match msg {
            ToTerminal::Marker(label) => {
                if let Some(cast) = &self.relay.cast {
                    cast.marker(&label);
                }
            }
            ToTerminal::Prompt(prompt) if self.relay.shadow.is_none() => {
                // No terminal to ask in: nobody can approve.
                let _ = prompt.reply.send(Answer::Deny);
            }
            ToTerminal::Prompt(prompt) => {
                self.prompts.push_back(prompt);
                if self.prompts.len() == 1 {
                    let enter = self
                        .relay
                        .shadow
                        .as_mut()
                        .map(Shadow::freeze)
                        .unwrap_or_default();
                    self.write_out(enter.as_bytes());
                }
                self.draw();
            }
        }
    }

    fn answer(&mut self, answer: Answer) {
        if let Some(prompt) = self.prompts.pop_front() {
            let _ = prompt.reply.send(answer);
        }
        self.after_change();
    }

    /// Drops requests whose asker stopped waiting (timed out) and refreshes the countdown.
    fn on_tick(&mut self) {
        self.prompts.retain(|p| !p.reply.is_closed());
        self.after_change();
    }

    fn after_change(&mut self) {
        if self.prompts.is_empty() {
            self.thaw();
        } else {
            self.draw();
        }
    }

    fn draw(&mut self) {
        let (Some(prompt), Some(shadow)) = (self.prompts.front(), self.relay.shadow.as_ref())
        else {
            return;
        };
        let view = overlay::View {
            id: &prompt.id,
            target: &prompt.target,
            class: &prompt.class,
            rule: &prompt.rule,
            text: &prompt.text,
            seconds_left: prompt
                .deadline
                .saturating_duration_since(Instant::now())
                .as_secs(),
            waiting: self.prompts.len() - 1,
        };
        let drawn = shadow.draw(&overlay::render(
            &view,
            self.relay.size.0,
            self.relay.size.1,
        ));
        self.write_out(drawn.as_bytes());
    }

    /// Puts the child's screen back and tells it of any resize that happened meanwhile.
    fn thaw(&mut self) {
        let Some(shadow) = self.relay.shadow.as_mut() else {
            return;
        };
        if !shadow.is_frozen() {
            return;
        }
        let restore = shadow.thaw();
        self.write_out(&restore);
        self.resize_child();
    }
}

async fn recv(control: &mut Option<mpsc::UnboundedReceiver<ToTerminal>>) -> Option<ToTerminal> {
    match control {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The signals guard handles while the child runs, merged into one stream.
struct Signals {
    rx: mpsc::UnboundedReceiver<i32>,
}

impl Signals {
    fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        for sig in [
            libc::SIGWINCH,
            libc::SIGTERM,
            libc::SIGHUP,
            libc::SIGINT,
            libc::SIGQUIT,
        ] {
            let Ok(mut stream) = signal(SignalKind::from_raw(sig)) else {
                continue;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                while stream.recv().await.is_some() {
                    if tx.send(sig).is_err() {
                        break;
                    }
                }
            });
        }
        Signals { rx }
    }

    async fn next(&mut self) -> Option<i32> {
        self.rx.recv().await
    }
}

/// The chunk just received and whatever else the reader has queued, up to `CHUNK` more bytes:
/// when the child writes faster than the terminal and the recording take it, one write and one
/// cast event carry many reads, instead of a wake-up, a write and an event for each.
fn gather(mut bytes: Vec<u8>, output: &mut mpsc::Receiver<Vec<u8>>) -> Vec<u8> {
    while bytes.len() < CHUNK {
        match output.try_recv() {
            Ok(more) => bytes.extend_from_slice(&more),
            Err(_) => break,
        }
    }
    bytes
}

fn spawn_reader(
    (mut reader, fd): (Box<dyn Read + Send>, Option<RawFd>),
    tx: mpsc::Sender<Vec<u8>>,
) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let (n, open) = read_ready(&mut reader, fd, &mut buf, n);
                    if tx.blocking_send(buf[..n].to_vec()).is_err() || !open {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    });
}

/// After a read of `n` bytes, reads whatever the child has already written behind them (a PTY
/// in canonical mode hands out one line a read), so the relay wakes once for many lines rather
/// than once a line; and whether the PTY is still open.
fn read_ready(
    reader: &mut dyn Read,
    fd: Option<RawFd>,
    buf: &mut [u8],
    mut n: usize,
) -> (usize, bool) {
    let Some(fd) = fd else { return (n, true) };
    while n < buf.len() {
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, a zero timeout: this never blocks.
        if unsafe { libc::poll(&mut poll, 1, 0) } != 1 || poll.revents & libc::POLLIN == 0 {
            break;
        }
        match reader.read(&mut buf[n..]) {
            Ok(0) | Err(_) => return (n, false),
            Ok(more) => n += more,
        }
    }
    (n, true)
}

fn spawn_stdin(tx: mpsc::Sender<Vec<u8>>) {
    std::thread::spawn(move || {
        // SAFETY: fd 0 lives as long as the process; ManuallyDrop never closes it.
        let mut stdin = ManuallyDrop::new(unsafe { File::from_raw_fd(0) });
        let mut buf = vec![0u8; CHUNK];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    });
}

fn spawn_writer(mut writer: Box<dyn Write + Send>, mut rx: mpsc::Receiver<Vec<u8>>) {
    std::thread::spawn(move || {
        while let Some(bytes) = rx.blocking_recv() {
            if writer
                .write_all(&bytes)
                .and_then(|_| writer.flush())
                .is_err()
            {
                break;
            }
        }
        // Keep the writer open until the relay is gone: dropping it sends VEOF to the child.
        while rx.blocking_recv().is_some() {}
    });
}
