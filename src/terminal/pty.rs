//! Spawning the child under a pseudo-terminal (portable-pty): the program is resolved on PATH
//! first so "not found" (127) and "not executable" (126) are told apart as a shell would, the
//! child starts in guard's working directory with exactly the environment it is given, and the
//! slave side is closed in guard so the relay sees end-of-file when the child's side closes.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use portable_pty::{CommandBuilder, MasterPty, PtySize, native_pty_system};

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("command not found: {0}")]
    NotFound(String),
    #[error("cannot execute {0}: {1}")]
    NotExecutable(String, String),
    #[error("cannot start {0} under a pseudo-terminal: {1}")]
    Pty(String, String),
}

impl SpawnError {
    /// The exit code a shell would give (SPEC, Exit codes).
    pub fn exit_code(&self) -> i32 {
        match self {
            SpawnError::NotFound(_) => 127,
            SpawnError::NotExecutable(..) | SpawnError::Pty(..) => 126,
        }
    }
}

pub struct Child {
    pub pid: i32,
    pub master: Box<dyn MasterPty + Send>,
    pub reader: Box<dyn Read + Send>,
    pub writer: Box<dyn Write + Send>,
}

pub struct Spec<'a> {
    pub argv: &'a [OsString],
    pub env: &'a [(OsString, OsString)],
    pub cwd: &'a Path,
    pub size: (u16, u16),
    /// Whether the terminal echoes input: off when guard's stdin is not a terminal, so piped
    /// input is not printed back into the output and the recording.
    pub echo: bool,
}

/// Finds the program as execvp would, against the child's PATH.
pub fn resolve(program: &OsStr, env: &[(OsString, OsString)]) -> Result<PathBuf, SpawnError> {
    let name = program.to_string_lossy().into_owned();
    if program.as_bytes().contains(&b'/') {
        return check_executable(Path::new(program), &name);
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| OsString::from("/usr/local/bin:/usr/bin:/bin"));
    let mut denied = None;
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(program);
        match check_executable(&candidate, &name) {
            Ok(found) => return Ok(found),
            Err(e @ SpawnError::NotExecutable(..)) => denied = denied.or(Some(e)),
            Err(_) => {}
        }
    }
    Err(denied.unwrap_or(SpawnError::NotFound(name)))
}

fn check_executable(path: &Path, name: &str) -> Result<PathBuf, SpawnError> {
    let meta = std::fs::metadata(path).map_err(|_| SpawnError::NotFound(name.to_string()))?;
    if meta.is_dir() {
        return Err(SpawnError::NotExecutable(
            name.into(),
            "it is a directory".into(),
        ));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(SpawnError::NotExecutable(
            name.into(),
            "permission denied".into(),
        ));
    }
    Ok(path.to_path_buf())
}

pub fn spawn(spec: &Spec) -> Result<Child, SpawnError> {
    let name = spec.argv[0].to_string_lossy().into_owned();
    let program = resolve(&spec.argv[0], spec.env)?;
    let fail = |e: &dyn std::fmt::Display| SpawnError::Pty(name.clone(), e.to_string());
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: spec.size.1,
            cols: spec.size.0,
            pixel_width: 0,
            pixel_height: 0,
        })
        .map_err(|e| fail(&e))?;
    if !spec.echo
        && let Some(fd) = pair.master.as_raw_fd()
    {
        set_echo(fd, false);
    }
    let mut cmd = CommandBuilder::new(&program);
    // argv[0] stays what the user typed, as a shell would pass it.
    cmd.get_argv_mut()[0] = spec.argv[0].clone();
    cmd.args(&spec.argv[1..]);
    cmd.env_clear();
    for (k, v) in spec.env {
        cmd.env(k, v);
    }
    // portable-pty would start the child in $HOME otherwise.
    cmd.cwd(spec.cwd);
    let child =
        pair.slave
            .spawn_command(cmd)
            .map_err(|e| match e.downcast_ref::<std::io::Error>() {
                Some(io) if io.kind() == std::io::ErrorKind::NotFound => {
                    SpawnError::NotFound(name.clone())
                }
                Some(io) if io.kind() == std::io::ErrorKind::PermissionDenied => {
                    SpawnError::NotExecutable(name.clone(), io.to_string())
                }
                _ => fail(&e),
            })?;
    // Close our copy of the slave: the reader sees EOF only when every slave fd is gone.
    drop(pair.slave);
    let pid = child
        .process_id()
        .map(|p| p as i32)
        .ok_or_else(|| fail(&"no process id"))?;
    let reader = pair.master.try_clone_reader().map_err(|e| fail(&e))?;
    let writer = pair.master.take_writer().map_err(|e| fail(&e))?;
    Ok(Child {
        pid,
        master: pair.master,
        reader,
        writer,
    })
}

fn set_echo(fd: i32, on: bool) {
    // SAFETY: tcgetattr/tcsetattr on a descriptor we own, with a termios we own.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut t) == 0 {
            if on {
                t.c_lflag |= libc::ECHO;
            } else {
                t.c_lflag &= !(libc::ECHO | libc::ECHOE | libc::ECHOK | libc::ECHONL);
            }
            libc::tcsetattr(fd, libc::TCSANOW, &t);
        }
    }
}

/// Blocks until the child exits and returns its exit code, 128+N for a signal.
pub fn wait(pid: i32) -> i32 {
    loop {
        let mut status = 0;
        // SAFETY: waitpid on our own child with a status we own.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            if libc::WIFEXITED(status) {
                return libc::WEXITSTATUS(status);
            }
            if libc::WIFSIGNALED(status) {
                return 128 + libc::WTERMSIG(status);
            }
        } else if r == -1 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return 255;
        }
    }
}

/// Sends `signal` to the child's process group (the child leads its own session and group).
pub fn signal_group(pid: i32, signal: i32) {
    // SAFETY: kill has no memory effects; a group that is gone gives ESRCH, ignored.
    unsafe {
        libc::kill(-pid, signal);
    }
}
