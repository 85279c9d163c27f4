//! The forwarder's disk spool, after Vector's disk buffer v2: append-only segment files of bounded
//! size holding length-and-checksum records, a small ledger of how far delivery got, a bound on
//! the bytes the folder takes on disk (counted in 4 KiB blocks, as `du` does), and recovery that
//! skips a torn tail. The forwarder plans where each record goes and keeps the books; a writer
//! thread does the I/O, syncing records in groups, so delivery never waits for a disk.
//!
//! On disk (see [`format`]): `.lock` (one process per spool), `ledger`, and `{id:020}.seg`.

mod format;
mod legacy;
mod writer;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use bytes::Bytes;

use super::BodyFormat;
use format::{Position, RECORD_HEADER, SEGMENT_HEADER};
use writer::{Command, Writer};
pub(super) use writer::{Mailbox, Report};

/// The allocation unit `du` counts in (ext4's, tmpfs's and most others' block).
const BLOCK: u64 = 4096;
/// The smallest bound a spool accepts.
pub(super) const MIN_BYTES: u64 = 64 << 10;

/// Where a record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Location {
    pub(super) segment: u64,
    pub(super) offset: u64,
    /// The record's length, header included.
    pub(super) len: u64,
}

/// What recovery finds, oldest first.
pub(super) enum Found {
    /// A whole record, not yet delivered.
    Record {
        location: Location,
        run: u64,
        seq: u64,
        body: Vec<u8>,
    },
    /// Bytes that are not records: a write cut short (the tail, cut off), or damage.
    Corrupt {
        path: PathBuf,
        offset: u64,
        bytes: u64,
    },
}

/// An open spool.
pub(super) struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    segment_max: u64,
    /// Every segment on disk or planned, with its planned length.
    segments: BTreeMap<u64, u64>,
    /// Where new records go; `None`: a new segment.
    current: Option<u64>,
    next_segment: u64,
    commands: Option<mpsc::Sender<Command>>,
    thread: Option<JoinHandle<()>>,
    mailbox: Arc<Mailbox>,
    reader: Option<(u64, File)>,
    _lock: File,
}

impl Spool {
    /// Opens the spool in `dir` (creating it), handing what a previous run left to `found`, oldest
    /// first. Fails if the folder cannot be used, is in use by another process, or holds bodies of
    /// another format.
    pub(super) fn open(
        dir: &Path,
        max_bytes: u64,
        format: BodyFormat,
        mut found: impl FnMut(Found),
    ) -> io::Result<Self> {
        if max_bytes < MIN_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a spool needs at least {} KiB", MIN_BYTES >> 10),
            ));
        }
        let lock = lock(dir)?;
        let left = legacy::scan(dir, format)?;
        let delivered = match format::read_ledger(dir) {
            Ok(position) => position.unwrap_or_default(),
            Err(err) => {
                tracing::warn!(%err, "the spool's ledger is damaged: delivering all it holds again (with the same idempotency keys)");
                Position::default()
            }
        };
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            if let Some(id) = format::segment_id(&entry?.file_name().to_string_lossy()) {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        let mut segments = BTreeMap::new();
        let last = ids.last().copied();
        for id in ids {
            let path = format::segment_path(dir, id);
            if id < delivered.segment {
                std::fs::remove_file(&path)?;
                continue;
            }
            let len = recover(&path, id, Some(id) == last, format, delivered, &mut found)?;
            if let Some(len) = len {
                segments.insert(id, len);
            }
        }
        let mut next_segment = last.map_or(0, |id| id + 1);
        if !left.is_empty() {
            let id = next_segment;
            next_segment += 1;
            let len = migrate(dir, id, format, &left, &mut found)?;
            segments.insert(id, len);
        }
        let mailbox = Arc::new(Mailbox::default());
        let (commands, receiver) = mpsc::channel();
        let writer = Writer {
            dir: dir.to_owned(),
            format,
            segments: segments.keys().copied().collect::<BTreeSet<_>>(),
            mailbox: Arc::clone(&mailbox),
            ledger: None,
            delivered,
        };
        let thread = std::thread::Builder::new()
            .name("spool-writer".to_owned())
            .spawn(move || writer.run(receiver))?;
        Ok(Self {
            dir: dir.to_owned(),
            max_bytes,
            segment_max: (max_bytes / 8).clamp(MIN_BYTES, 64 << 20),
            segments,
            current: None,
            next_segment,
            commands: Some(commands),
            thread: Some(thread),
            mailbox,
            reader: None,
            _lock: lock,
        })
    }

    /// The file of segment `id`.
    pub(super) fn segment_path(&self, id: u64) -> PathBuf {
        format::segment_path(&self.dir, id)
    }

    /// What the spool takes on disk, as `du` counts it: the folder, the ledger and each
    /// segment, in whole blocks.
    pub(super) fn disk_bytes(&self) -> u64 {
        2 * BLOCK + self.segments.values().map(|len| blocks(*len)).sum::<u64>()
    }

    /// Plans where a record of a `body_len`-byte body goes, if it fits in the bound.
    pub(super) fn plan(&mut self, body_len: usize) -> Option<Location> {
        let len = RECORD_HEADER + body_len as u64;
        if len > format::MAX_BODY {
            return None;
        }
        let fits_current = self.current.and_then(|id| {
            let used = *self.segments.get(&id)?;
            (used == SEGMENT_HEADER || used + len <= self.segment_max).then_some((id, used))
        });
        let (segment, offset) = fits_current.unwrap_or((self.next_segment, SEGMENT_HEADER));
        let grows = blocks(offset + len) - fits_current.map_or(0, |_| blocks(offset));
        if self.disk_bytes() + grows > self.max_bytes {
            return None;
        }
        if fits_current.is_none() {
            self.current = Some(segment);
            self.next_segment += 1;
        }
        self.segments.insert(segment, offset + len);
        Some(Location {
            segment,
            offset,
            len,
        })
    }

    /// Hands a planned record to the writer.
    pub(super) fn append(&self, location: Location, run: u64, seq: u64, body: Bytes) {
        if let Some(commands) = &self.commands {
            let _ = commands.send(Command::Append {
                segment: location.segment,
                offset: location.offset,
                run,
                seq,
                body,
            });
        }
    }

    /// Reads a record back (its checksum checked).
    pub(super) fn read(&mut self, location: Location) -> io::Result<Vec<u8>> {
        let path = format::segment_path(&self.dir, location.segment);
        if self
            .reader
            .as_ref()
            .is_none_or(|(id, _)| *id != location.segment)
        {
            self.reader = Some((location.segment, File::open(&path)?));
        }
        let Some((_, file)) = self.reader.as_mut() else {
            return Err(io::Error::other("no reader"));
        };
        format::read_at(file, &path, location.offset).map(|record| record.body)
    }

    /// The record at `location` is delivered (or given up): so is everything before it.
    /// Segments wholly before it are freed.
    pub(super) fn delivered(&mut self, location: Location) {
        let mut position = Position {
            segment: location.segment,
            offset: location.offset + location.len,
        };
        let ended = self.segments.get(&location.segment) == Some(&position.offset);
        if ended && self.current != Some(location.segment) {
            position = Position {
                segment: location.segment + 1,
                offset: SEGMENT_HEADER,
            };
        }
        let done: Vec<u64> = self
            .segments
            .range(..position.segment)
            .map(|(id, _)| *id)
            .collect();
        for id in done {
            self.segments.remove(&id);
            if self
                .reader
                .as_ref()
                .is_some_and(|(reader, _)| *reader == id)
            {
                self.reader = None;
            }
        }
        if let Some(commands) = &self.commands {
            let _ = commands.send(Command::Delivered(position));
        }
    }

    /// The writer could not write to `segment`: it holds `kept` bytes (0: removed), and new
    /// records go to a new segment.
    pub(super) fn failed(&mut self, segment: u64, kept: u64) {
        if kept == 0 {
            self.segments.remove(&segment);
        } else if let Some(len) = self.segments.get_mut(&segment) {
            *len = kept;
        }
        if self.current == Some(segment) {
            self.current = None;
        }
    }

    /// Where the writer's reports arrive.
    pub(super) fn mailbox(&self) -> Arc<Mailbox> {
        Arc::clone(&self.mailbox)
    }

    /// Waits until every record handed to the writer is synced (or failed).
    pub(super) fn flush(&self) {
        if let Some(commands) = &self.commands {
            let (answer, done) = mpsc::channel();
            if commands.send(Command::Flush(answer)).is_ok() {
                let _ = done.recv();
            }
        }
    }
}

impl Drop for Spool {
    /// Lets the writer finish what it was handed, sync it and the ledger.
    fn drop(&mut self) {
        self.commands = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn blocks(bytes: u64) -> u64 {
    bytes.div_ceil(BLOCK) * BLOCK
}

/// Creates the folder and takes its advisory lock, which the kernel releases when the process
/// dies: two forwarders on one spool would deliver the same notifications twice.
fn lock(dir: &Path) -> io::Result<File> {
    let at = |err: io::Error| io::Error::new(err.kind(), format!("{}: {err}", dir.display()));
    std::fs::create_dir_all(dir).map_err(at)?;
    let lock = File::create(dir.join(".lock")).map_err(at)?;
    if lock.try_lock().is_err() {
        return Err(io::Error::other(format!(
            "the spool {} is in use by another process",
            dir.display()
        )));
    }
    Ok(lock)
}

/// Reads one segment: its undelivered records go to `found`, and so do bytes that are not
/// records. A torn tail of the last segment (a write cut short) is cut off. Answers the
/// segment's length, or `None` if it was removed (too short to hold its header: a crash while
/// creating it).
fn recover(
    path: &Path,
    id: u64,
    last: bool,
    format: BodyFormat,
    delivered: Position,
    found: &mut impl FnMut(Found),
) -> io::Result<Option<u64>> {
    let file = File::options().read(true).write(last).open(path)?;
    let len = file.metadata()?.len();
    if len < SEGMENT_HEADER {
        drop(file);
        std::fs::remove_file(path)?;
        return Ok(None);
    }
    let mut reader = io::BufReader::new(&file);
    let mut header = [0; SEGMENT_HEADER as usize];
    reader.read_exact(&mut header)?;
    format::check_header(path, &header, format)?;
    let mut offset = SEGMENT_HEADER;
    loop {
        match format::read_record(&mut reader)? {
            None => break,
            Some(Ok(record)) => {
                let location = Location {
                    segment: id,
                    offset,
                    len: RECORD_HEADER + record.body.len() as u64,
                };
                offset += location.len;
                if (Position {
                    segment: id,
                    offset,
                }) > delivered
                {
                    found(Found::Record {
                        location,
                        run: record.run,
                        seq: record.seq,
                        body: record.body,
                    });
                }
            }
            Some(Err(bad)) => {
                found(Found::Corrupt {
                    path: path.to_owned(),
                    offset,
                    bytes: len - offset,
                });
                if last {
                    tracing::warn!(path = %path.display(), offset, bytes = len - offset, ?bad, "the spool's last write was cut short; cut off");
                    file.set_len(offset)?;
                    return Ok(Some(offset));
                }
                tracing::error!(path = %path.display(), offset, bytes = len - offset, ?bad, "the spool holds bytes that are not records; skipped");
                return Ok(Some(len));
            }
        }
    }
    Ok(Some(len))
}

/// Takes what an old spool left into segment `id` (synced), then removes the old files.
fn migrate(
    dir: &Path,
    id: u64,
    format: BodyFormat,
    left: &[legacy::Left],
    found: &mut impl FnMut(Found),
) -> io::Result<u64> {
    let path = format::segment_path(dir, id);
    let mut file = File::options().write(true).create_new(true).open(&path)?;
    file.write_all(&format::segment_header(format))?;
    let mut offset = SEGMENT_HEADER;
    let mut records = Vec::new();
    for old in left {
        let body = match std::fs::read(&old.path) {
            Ok(body) => body,
            Err(err) => {
                tracing::error!(path = %old.path.display(), %err, "cannot read an old spool file");
                found(Found::Corrupt {
                    path: old.path.clone(),
                    offset: 0,
                    bytes: 0,
                });
                continue;
            }
        };
        let record = format::record(old.run, old.seq, &body);
        file.write_all(&record)?;
        let location = Location {
            segment: id,
            offset,
            len: record.len() as u64,
        };
        offset += location.len;
        records.push(Found::Record {
            location,
            run: old.run,
            seq: old.seq,
            body,
        });
    }
    file.sync_all()?;
    for old in left {
        std::fs::remove_file(&old.path)?;
    }
    records.into_iter().for_each(found);
    Ok(offset)
}
