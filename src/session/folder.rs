//! Where sessions live: the data folder, session ids, the per-session folder (0700, files 0600),
//! `session.json`, and resolving what a user types (`last`, an id, a unique prefix) to a folder.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::record::clock::Utc;

/// `$GUARD_HOME`, else `$XDG_DATA_HOME/guard`, else `~/.local/share/guard`.
pub fn data_home() -> io::Result<PathBuf> {
    let var = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(home) = var("GUARD_HOME") {
        return Ok(home);
    }
    if let Some(data) = var("XDG_DATA_HOME") {
        return Ok(data.join("guard"));
    }
    var("HOME")
        .map(|h| h.join(".local/share/guard"))
        .ok_or_else(|| io::Error::other("neither GUARD_HOME nor HOME is set"))
}

pub fn sessions_dir() -> io::Result<PathBuf> {
    Ok(data_home()?.join("sessions"))
}

/// A new id: the UTC start time, so ids sort by start, and 24 random bits.
pub fn new_id(start: Utc) -> String {
    let mut bytes = [0u8; 3];
    // A failing OS random source would make ids collide; create_new below still refuses that.
    let _ = getrandom::fill(&mut bytes);
    format!("{}-{}", start.compact(), crate::record::hex(&bytes))
}

/// Creates `sessions/<id>/` with mode 0700 (and its parents, also private).
pub fn create_session_dir(id: &str) -> io::Result<PathBuf> {
    let root = sessions_dir()?;
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&root)?;
    let dir = root.join(id);
    DirBuilder::new().mode(0o700).create(&dir)?;
    Ok(dir)
}

/// Writes `session.json` whole, through a temporary file and a rename, so a reader never sees
/// half of it and a crash leaves the previous version.
pub fn write_metadata(dir: &Path, meta: &Value) -> io::Result<()> {
    let tmp = dir.join(".session.json.tmp");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    let mut text = serde_json::to_vec_pretty(meta).map_err(io::Error::other)?;
    text.push(b'\n');
    file.write_all(&text)?;
    file.sync_all()?;
    fs::rename(&tmp, dir.join("session.json"))
}

pub fn read_metadata(dir: &Path) -> Option<Value> {
    let bytes = fs::read(dir.join("session.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Every session id, newest first.
pub fn list_ids() -> io::Result<Vec<String>> {
    let root = sessions_dir()?;
    let entries = match fs::read_dir(&root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| !name.starts_with('.'))
        .collect();
    // Ids carry the start to the second; within a second, session.json's start (milliseconds)
    // orders them.
    let mut keyed: Vec<(String, String)> = ids
        .into_iter()
        .map(|id| {
            let start = read_metadata(&root.join(&id))
                .and_then(|m| m["start"].as_str().map(str::to_string))
                .unwrap_or_default();
            (id, start)
        })
        .collect();
    keyed.sort_unstable_by(|a, b| (b.0.get(..16), &b.1, &b.0).cmp(&(a.0.get(..16), &a.1, &a.0)));
    Ok(keyed.into_iter().map(|(id, _)| id).collect())
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("no recorded sessions in {0}")]
    NoSessions(String),
    #[error("no session matches `{0}`")]
    NotFound(String),
    #[error("`{0}` matches {1} sessions")]
    Ambiguous(String, usize),
    #[error("cannot read the sessions folder: {0}")]
    Io(#[from] io::Error),
}

/// Turns `last`, a full id or a unique prefix into the session's folder.
pub fn resolve(which: &str) -> Result<(String, PathBuf), ResolveError> {
    let ids = list_ids()?;
    let root = sessions_dir()?;
    if ids.is_empty() {
        return Err(ResolveError::NoSessions(root.display().to_string()));
    }
    let id = if which == "last" {
        ids[0].clone()
    } else if ids.iter().any(|id| id == which) {
        which.to_string()
    } else {
        let matches: Vec<&String> = ids.iter().filter(|id| id.starts_with(which)).collect();
        match matches.len() {
            0 => return Err(ResolveError::NotFound(which.into())),
            1 => matches[0].clone(),
            n => return Err(ResolveError::Ambiguous(which.into(), n)),
        }
    };
    let dir = root.join(&id);
    Ok((id, dir))
}
