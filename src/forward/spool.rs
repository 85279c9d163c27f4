//! The disk spool's files: one per queued notification, named `{seq}_{run}.{pb|json}`, written
//! whole or not at all, and a lock file so that one process uses a spool at a time.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use super::BodyFormat;

/// A spooled notification found on disk.
pub(super) struct Found {
    pub(super) seq: u64,
    pub(super) run: u64,
    pub(super) size: u64,
}

/// Where the notification `seq` of run `run` is kept.
pub(super) fn path(dir: &Path, run: u64, seq: u64, format: BodyFormat) -> PathBuf {
    dir.join(format!("{seq:020}_{run:016x}.{}", format.extension()))
}

/// Creates the folder and takes its advisory lock, which the kernel releases when the process
/// dies: two forwarders on one spool would deliver the same files twice.
pub(super) fn lock(dir: &Path) -> io::Result<File> {
    std::fs::create_dir_all(dir)?;
    let lock = File::create(dir.join(".lock"))?;
    if lock.try_lock().is_err() {
        return Err(io::Error::other(format!(
            "the spool {} is in use by another process",
            dir.display()
        )));
    }
    Ok(lock)
}

/// What a previous run left in `dir`, oldest first. Fails if it holds bodies of another format.
pub(super) fn scan(dir: &Path, format: BodyFormat) -> io::Result<Vec<Found>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((stem, extension)) = name.rsplit_once('.') else {
            continue;
        };
        let stored = match extension {
            "pb" => BodyFormat::Protobuf,
            "json" => BodyFormat::Json,
            _ => continue,
        };
        let Some((seq, run)) = stem.split_once('_') else {
            continue;
        };
        let (Ok(seq), Ok(run)) = (seq.parse::<u64>(), u64::from_str_radix(run, 16)) else {
            continue;
        };
        if stored != format {
            return Err(io::Error::other(format!(
                "the spool {} holds {extension} bodies; forward them with the same format",
                dir.display()
            )));
        }
        let size = entry.metadata()?.len();
        found.push(Found { seq, run, size });
    }
    found.sort_unstable_by_key(|f| (f.seq, f.run));
    Ok(found)
}

/// Writes a spool file whole or not at all: a temporary file, synced, then renamed (a kill in the
/// middle leaves a `.tmp` that loading ignores).
pub(super) fn write_atomically(path: &Path, body: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    let temporary = path.with_extension("tmp");
    let mut file = File::create(&temporary)?;
    file.write_all(body)?;
    file.sync_data()?;
    std::fs::rename(&temporary, path)
}
