//! The forwarder's side of its spool: what a previous run left, queued first; and what the
//! writer thread reports, taken in (records synced leave memory; records refused stay there, and
//! the failure is said once).

use std::collections::VecDeque;
use std::sync::Arc;

use actix::prelude::*;

use super::spool::{Found, Mailbox, Report, Spool};
use super::{About, DropCause, Entry, ForwardEvent, Held, WebhookForwarder, entry_cost};

impl WebhookForwarder {
    /// Opens the spool and queues what a previous run left in it, oldest first.
    pub(super) fn open_spool(&mut self) -> std::io::Result<()> {
        let Some((dir, max)) = self.config.spool.clone() else {
            return Ok(());
        };
        let format = self.config.format;
        let mut found = Vec::new();
        let spool = Spool::open(&dir, max, format, |f| found.push(f))?;
        for f in found {
            match f {
                Found::Record {
                    location,
                    run,
                    seq,
                    body,
                } => {
                    self.next_seq = self.next_seq.max(seq + 1);
                    let (about, held) = match format.decode(&body) {
                        Some(notification) => (About::of(&notification), Held::Spooled(location)),
                        None => {
                            let path = spool.segment_path(location.segment);
                            tracing::error!(path = %path.display(), offset = location.offset, "a spooled notification does not decode; passed over");
                            self.drop_one(
                                None,
                                DropCause::SpoolCorrupt {
                                    path,
                                    offset: location.offset,
                                    bytes: location.len,
                                },
                            );
                            (About::unreadable(), Held::Unreadable(location))
                        }
                    };
                    if matches!(held, Held::Spooled(_)) {
                        self.stats.spooled += 1;
                    }
                    self.stats.memory_bytes += entry_cost(&about);
                    self.queue.push_back(Entry {
                        seq,
                        run,
                        about,
                        size: body.len(),
                        held,
                        received: std::time::Instant::now(),
                    });
                }
                Found::Corrupt {
                    path,
                    offset,
                    bytes,
                } => self.drop_one(
                    None,
                    DropCause::SpoolCorrupt {
                        path,
                        offset,
                        bytes,
                    },
                ),
            }
        }
        self.stats.queued = self.queue.len();
        self.stats.spool_bytes = spool.disk_bytes();
        self.spool = Some(spool);
        self.levels();
        Ok(())
    }

    /// Takes in what the spool's writer reports: records synced (their bodies leave memory), or
    /// not written (they stay in memory, and the failure is said once until a write succeeds).
    pub(super) fn take_reports(&mut self) {
        let Some(spool) = &self.spool else {
            return;
        };
        for report in spool.mailbox().take() {
            match report {
                Report::Written(seqs) => {
                    for seq in seqs {
                        let Some(entry) = find(&mut self.queue, seq) else {
                            continue; // delivered before it was synced
                        };
                        if let Held::Writing(_, location) = entry.held {
                            entry.held = Held::Spooled(location);
                            self.stats.memory_bytes =
                                self.stats.memory_bytes.saturating_sub(entry.size);
                            self.stats.spooled += 1;
                        }
                    }
                    if let Some((path, _)) = self.spool_failure.take() {
                        tracing::info!(path = %path.display(), "the spool takes writes again");
                        self.emit(ForwardEvent::SpoolRecovered { path });
                    }
                }
                Report::Failed {
                    seqs,
                    segment,
                    kept,
                    path,
                    error,
                } => {
                    if let Some(spool) = &mut self.spool {
                        spool.failed(segment, kept);
                    }
                    for seq in &seqs {
                        if let Some(entry) = find(&mut self.queue, *seq)
                            && let Held::Writing(body, _) = &entry.held
                        {
                            entry.held = Held::Memory(body.clone());
                        }
                    }
                    if self.spool_failure.is_none() {
                        self.emit(ForwardEvent::SpoolFailing {
                            path: path.clone(),
                            error: error.clone(),
                            queued: self.queue.len(),
                        });
                    }
                    self.spool_failure = Some((path, error));
                }
                Report::LedgerFailed { path, error } => {
                    tracing::warn!(path = %path.display(), %error, "a restart may deliver some notifications again (with their idempotency keys)");
                }
            }
        }
        if let Some(spool) = &self.spool {
            self.stats.spool_bytes = spool.disk_bytes();
        }
        self.levels();
    }

    /// Waits for the spool's writer's next reports.
    pub(super) fn await_reports(&mut self, ctx: &mut Context<Self>) {
        let Some(mailbox) = self.spool.as_ref().map(Spool::mailbox) else {
            return;
        };
        ctx.spawn(
            async move { mailbox_wake(mailbox).await }
                .into_actor(self)
                .map(|(), act, ctx| {
                    act.take_reports();
                    act.await_reports(ctx);
                }),
        );
    }
}

/// The queued entry `seq`, if it is still queued (the queue is in `seq` order).
fn find(queue: &mut VecDeque<Entry>, seq: u64) -> Option<&mut Entry> {
    let at = queue.binary_search_by_key(&seq, |e| e.seq).ok()?;
    queue.get_mut(at)
}

async fn mailbox_wake(mailbox: Arc<Mailbox>) {
    mailbox.wake.notified().await;
}
