//! Files for targets that write a session's files for every input: fresh paths in a folder of
//! this process's own, in memory when the system has a memory file system (`/dev/shm`), since
//! creating and removing files on a disk file system costs more than the input's run.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// A new path, unique in this process, in the scratch folder.
pub fn path() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    root().join(NEXT.fetch_add(1, Ordering::Relaxed).to_string())
}

static ROOT: OnceLock<PathBuf> = OnceLock::new();

fn root() -> &'static Path {
    ROOT.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let root = base.join(format!("guard-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&root).expect("a scratch folder");
        // libFuzzer ends the process with exit(): the folder goes then (not after a crash).
        // SAFETY: `remove` is a plain function that lives as long as the process.
        unsafe { libc::atexit(remove) };
        root
    })
}

extern "C" fn remove() {
    if let Some(root) = ROOT.get() {
        let _ = std::fs::remove_dir_all(root);
    }
}
