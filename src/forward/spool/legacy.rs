//! The spool of version 0.1 (one file per notification, `{seq}_{run}.{pb|json}`, written through a
//! `.tmp` file): what a previous version left is taken into the segments on start, and its
//! `.tmp` leftovers removed.

use std::io;
use std::path::{Path, PathBuf};

use super::super::BodyFormat;

/// A notification an old spool left.
pub(crate) struct Left {
    pub(crate) path: PathBuf,
    pub(crate) seq: u64,
    pub(crate) run: u64,
}

/// What an old spool left in `dir`, oldest first, after removing its `.tmp` leftovers (a write
/// that never finished). Fails if it holds bodies of another format.
pub(crate) fn scan(dir: &Path, format: BodyFormat) -> io::Result<Vec<Left>> {
    let mut left = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((stem, extension)) = name.rsplit_once('.') else {
            continue;
        };
        let stored = match extension {
            "pb" => BodyFormat::Protobuf,
            "json" => BodyFormat::Json,
            "tmp" => {
                let path = entry.path();
                if let Err(err) = std::fs::remove_file(&path) {
                    tracing::warn!(path = %path.display(), %err, "cannot remove a spool leftover");
                }
                continue;
            }
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
        left.push(Left {
            path: entry.path(),
            seq,
            run,
        });
    }
    left.sort_unstable_by_key(|l| (l.seq, l.run));
    Ok(left)
}
