//! The spool's writer: a thread of its own that appends records, syncs them in groups (one
//! `fdatasync` for everything that arrived meanwhile), keeps the ledger and removes delivered
//! segments. Delivery never waits for a disk.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::super::BodyFormat;
use super::format::{self, Position, SEGMENT_HEADER};

/// What the forwarder asks of the writer.
pub(crate) enum Command {
    /// Append a record at `offset` of segment `segment` (which the forwarder planned).
    Append {
        segment: u64,
        offset: u64,
        run: u64,
        seq: u64,
        body: Bytes,
    },
    /// Everything before this position is delivered: keep it in the ledger and remove the
    /// segments before it.
    Delivered(Position),
    /// Sync everything, then answer.
    Flush(mpsc::Sender<()>),
}

/// What the writer tells the forwarder.
#[derive(Debug)]
pub(crate) enum Report {
    /// These records are on disk, synced.
    Written(Vec<u64>),
    /// These records are not on disk: `segment` is cut back to `kept` bytes (0: removed).
    Failed {
        seqs: Vec<u64>,
        segment: u64,
        kept: u64,
        path: PathBuf,
        error: String,
    },
    /// The ledger could not be written (delivery goes on; a restart may send some again).
    LedgerFailed { path: PathBuf, error: String },
}

/// The reports, and a wake-up for the forwarder when there are new ones.
#[derive(Default)]
pub(crate) struct Mailbox {
    pub(crate) reports: Mutex<Vec<Report>>,
    pub(crate) wake: tokio::sync::Notify,
}

impl Mailbox {
    fn post(&self, report: Report) {
        if let Ok(mut reports) = self.reports.lock() {
            reports.push(report);
        }
        self.wake.notify_one();
    }

    /// The reports so far.
    pub(crate) fn take(&self) -> Vec<Report> {
        self.reports
            .lock()
            .map(|mut reports| std::mem::take(&mut *reports))
            .unwrap_or_default()
    }
}

/// The segment being appended to.
struct Open {
    id: u64,
    file: File,
    len: u64,
    /// Appended since the last sync.
    unsynced: Vec<u64>,
}

pub(crate) struct Writer {
    pub(crate) dir: PathBuf,
    pub(crate) format: BodyFormat,
    /// Segments on disk that the writer may remove once delivered.
    pub(crate) segments: BTreeSet<u64>,
    pub(crate) mailbox: Arc<Mailbox>,
    pub(crate) ledger: Option<File>,
    pub(crate) delivered: Position,
}

impl Writer {
    /// Runs until every sender is gone, then syncs what it has.
    pub(crate) fn run(mut self, commands: mpsc::Receiver<Command>) {
        let mut open: Option<Open> = None;
        // A segment whose write failed: the records planned after the failed one are not written.
        let mut broken: Option<(u64, u64, String)> = None;
        let mut ledger_dirty = false;
        while let Ok(first) = commands.recv() {
            let mut flushes = Vec::new();
            let mut failed: Vec<(u64, Vec<u64>, u64, String)> = Vec::new();
            for command in std::iter::once(first).chain(commands.try_iter().take(4096)) {
                match command {
                    Command::Append {
                        segment,
                        offset,
                        run,
                        seq,
                        body,
                    } => {
                        if let Some((id, kept, error)) = &broken
                            && *id == segment
                        {
                            push_failed(&mut failed, segment, seq, *kept, error);
                            continue;
                        }
                        if let Err((kept, error)) =
                            self.append(&mut open, segment, offset, run, seq, &body)
                        {
                            push_failed(&mut failed, segment, seq, kept, &error);
                            broken = Some((segment, kept, error));
                        }
                    }
                    Command::Delivered(position) => {
                        self.delivered = self.delivered.max(position);
                        ledger_dirty = true;
                    }
                    Command::Flush(answer) => flushes.push(answer),
                }
            }
            if let Some(segment) = open.as_mut()
                && !segment.unsynced.is_empty()
            {
                match segment.file.sync_data() {
                    Ok(()) => self
                        .mailbox
                        .post(Report::Written(std::mem::take(&mut segment.unsynced))),
                    Err(err) => {
                        // What the kernel held is in an unknown state: none of it counts as written,
                        // and the segment takes no more.
                        let error = err.to_string();
                        let seqs = std::mem::take(&mut segment.unsynced);
                        let id = segment.id;
                        tracing::error!(path = %format::segment_path(&self.dir, id).display(), %error, "cannot sync the spool");
                        failed.push((id, seqs, 0, error.clone()));
                        broken = Some((id, 0, error));
                        open = None;
                    }
                }
            }
            for (segment, seqs, kept, error) in failed {
                self.mailbox.post(Report::Failed {
                    seqs,
                    segment,
                    kept,
                    path: format::segment_path(&self.dir, segment),
                    error,
                });
            }
            if ledger_dirty {
                ledger_dirty = false;
                self.save_ledger(false);
                let current = open.as_ref().map(|o| o.id);
                let done: Vec<u64> = self
                    .segments
                    .range(..self.delivered.segment)
                    .copied()
                    .filter(|id| Some(*id) != current)
                    .collect();
                for id in done {
                    let path = format::segment_path(&self.dir, id);
                    match std::fs::remove_file(&path) {
                        Ok(()) => {
                            self.segments.remove(&id);
                        }
                        Err(err) if err.kind() == io::ErrorKind::NotFound => {
                            self.segments.remove(&id);
                        }
                        Err(err) => {
                            tracing::warn!(path = %path.display(), %err, "cannot remove a delivered spool segment");
                        }
                    }
                }
            }
            for answer in flushes {
                let _ = answer.send(());
            }
        }
        self.save_ledger(true);
    }

    /// Appends one record to the open segment, opening the planned one first. On failure, the
    /// segment is cut back to where it was (its length then), or removed if it held nothing.
    fn append(
        &mut self,
        open: &mut Option<Open>,
        segment: u64,
        offset: u64,
        run: u64,
        seq: u64,
        body: &[u8],
    ) -> Result<(), (u64, String)> {
        if open.as_ref().is_none_or(|o| o.id != segment) {
            if let Some(mut previous) = open.take()
                && !previous.unsynced.is_empty()
            {
                // A segment is closed synced; a failure here fails its unsynced records.
                if let Err(err) = previous.file.sync_data() {
                    self.mailbox.post(Report::Failed {
                        seqs: std::mem::take(&mut previous.unsynced),
                        segment: previous.id,
                        kept: 0,
                        path: format::segment_path(&self.dir, previous.id),
                        error: err.to_string(),
                    });
                } else {
                    self.mailbox.post(Report::Written(previous.unsynced));
                }
            }
            *open = Some(self.create(segment).map_err(|err| (0, err.to_string()))?);
        }
        let Some(current) = open.as_mut() else {
            return Err((0, "no open segment".to_owned()));
        };
        if current.len != offset {
            // The plan and the file disagree: never write where the forwarder will not read.
            return Err((
                current.len,
                format!(
                    "the spool is out of step (planned offset {offset}, file at {})",
                    current.len
                ),
            ));
        }
        let record = format::record(run, seq, body);
        match current.file.write_all(&record) {
            Ok(()) => {
                current.len += record.len() as u64;
                current.unsynced.push(seq);
                Ok(())
            }
            Err(err) => {
                let error = err.to_string();
                let path = format::segment_path(&self.dir, segment);
                tracing::error!(path = %path.display(), %error, "cannot write to the spool");
                if current.len <= SEGMENT_HEADER {
                    let _ = std::fs::remove_file(&path);
                    self.segments.remove(&segment);
                    *open = None;
                    return Err((0, error));
                }
                // Cut the partial record off (if that fails too, recovery skips the torn tail),
                // and settle the records before it.
                let _ = current.file.set_len(current.len);
                let earlier = std::mem::take(&mut current.unsynced);
                if !earlier.is_empty() {
                    match current.file.sync_data() {
                        Ok(()) => self.mailbox.post(Report::Written(earlier)),
                        Err(err) => self.mailbox.post(Report::Failed {
                            seqs: earlier,
                            segment,
                            kept: current.len,
                            path: path.clone(),
                            error: err.to_string(),
                        }),
                    }
                }
                let kept = current.len;
                *open = None;
                Err((kept, error))
            }
        }
    }

    fn create(&mut self, id: u64) -> io::Result<Open> {
        let path = format::segment_path(&self.dir, id);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        self.segments.insert(id);
        if let Err(err) = file.write_all(&format::segment_header(self.format)) {
            let _ = std::fs::remove_file(&path);
            self.segments.remove(&id);
            return Err(err);
        }
        Ok(Open {
            id,
            file,
            len: SEGMENT_HEADER,
            unsynced: Vec::new(),
        })
    }

    /// Writes the ledger (synced on the way out): a failure means a restart sends some delivered
    /// notifications again, with their idempotency keys.
    fn save_ledger(&mut self, sync: bool) {
        let path = format::ledger_path(&self.dir);
        let result = match &mut self.ledger {
            Some(file) => format::write_ledger(file, self.delivered)
                .and_then(|()| if sync { file.sync_data() } else { Ok(()) }),
            None => OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .and_then(|mut file| {
                    format::write_ledger(&mut file, self.delivered)?;
                    self.ledger = Some(file);
                    Ok(())
                }),
        };
        if let Err(err) = result {
            tracing::warn!(path = %path.display(), %err, "cannot write the spool's ledger");
            self.ledger = None;
            self.mailbox.post(Report::LedgerFailed {
                path,
                error: err.to_string(),
            });
        }
    }
}

fn push_failed(
    failed: &mut Vec<(u64, Vec<u64>, u64, String)>,
    segment: u64,
    seq: u64,
    kept: u64,
    error: &str,
) {
    match failed.last_mut() {
        Some((id, seqs, _, _)) if *id == segment => seqs.push(seq),
        _ => failed.push((segment, vec![seq], kept, error.to_owned())),
    }
}
