//! `jellyfish-notify rooms`: the live state of every room, and every change.

use actix::prelude::*;
use jellyfish_notifier::rooms::PeerStatus;
use jellyfish_notifier::rooms_view::{SyncReason, SyncScope};
use jellyfish_notifier::{Room, RoomChange, RoomsModel, RoomsView};

use crate::output::{self, line, plural};
use crate::watch::{Watch, WatchArgs};
use crate::{Outcome, ServerArgs};

/// Print the live state of every room (peers, tracks, components) and every change, healed over
/// the REST API after every gap. Reconnects by itself.
#[derive(clap::Args, Debug)]
#[command(after_help = "What it prints:
  Without --json: each notification as it comes, each change that happened unseen during a gap
  (marked 'missed'), and the whole state after every resync.
  With --json: after every change, one line holding the whole state, {\"synced\": ...,
  \"synced_at_ms\": ..., \"rooms\": [...]}, each room shaped as in the server's GET /room; a resync
  prints one line when it is done. Nothing before the first sync. \"synced\": false (after a gap,
  until the resync that follows) says the rooms may mix the state before the gap with changes
  after it; \"synced_at_ms\" is when they last were a state the server had (Unix ms).

Examples:
  jellyfish-notify rooms                                 # localhost:5002, token development
  jellyfish-notify rooms --json | jq '.rooms | length'
  FISHJAM_ID=$ID FISHJAM_MANAGEMENT_TOKEN=$TOKEN jellyfish-notify rooms")]
pub(crate) struct Args {
    #[command(flatten)]
    server: ServerArgs,
    /// After every change, one JSON line with the whole state on stdout; status stays on stderr.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    watch: WatchArgs,
}

struct Printer {
    json: bool,
    url: String,
    model: RoomsModel,
    /// The first full resync has been printed.
    synced: bool,
}

impl Actor for Printer {
    type Context = Context<Self>;
}

impl Printer {
    fn print_state(&self) {
        if self.json {
            let state = serde_json::to_string(&self.model).unwrap_or_else(|err| format!("<{err}>"));
            line(&state);
            return;
        }
        line(&rooms(self.model.len()));
        for room in self.model.rooms() {
            line(&room_line(room));
            for peer in &room.peers {
                let tracks: Vec<String> = peer
                    .tracks
                    .iter()
                    .map(|t| format!("{} {}", t.track_type, t.id))
                    .collect();
                let status = match peer.status {
                    PeerStatus::Connected => "connected",
                    PeerStatus::Disconnected => "disconnected",
                };
                line(&format!(
                    "    peer {} ({}, {status}){}{}",
                    peer.id,
                    peer.peer_type,
                    if tracks.is_empty() { "" } else { ": " },
                    tracks.join(", ")
                ));
            }
        }
    }
}

/// Why a resync ran, or why the view is out of sync, for people.
fn why(reason: &SyncReason) -> String {
    match reason {
        SyncReason::Start => "start".to_owned(),
        SyncReason::Gap(Some(gap)) => format!("a {:.1} s gap", gap.as_secs_f64()),
        SyncReason::Gap(None) => "a gap".to_owned(),
        SyncReason::Lagged(missed) => format!(
            "{missed} {} missed",
            plural(*missed as usize, "notification", "notifications")
        ),
        SyncReason::Periodic => "the periodic check".to_owned(),
        SyncReason::Incomplete => "a change only REST describes".to_owned(),
        other => format!("{other:?}"),
    }
}

fn rooms(n: usize) -> String {
    format!("{n} {}", plural(n, "room", "rooms"))
}

fn room_line(room: &Room) -> String {
    let connected = room
        .peers
        .iter()
        .filter(|p| p.status == PeerStatus::Connected)
        .count();
    let tracks: usize = room.peers.iter().map(|p| p.tracks.len()).sum::<usize>()
        + room
            .components
            .iter()
            .map(|c| c.tracks.len())
            .sum::<usize>();
    let peers = room.peers.len();
    let mut text = format!(
        "  room {}: {peers} {} ({connected} connected), {tracks} {}",
        room.id,
        plural(peers, "peer", "peers"),
        plural(tracks, "track", "tracks")
    );
    if !room.components.is_empty() {
        let n = room.components.len();
        text.push_str(&format!(", {n} {}", plural(n, "component", "components")));
    }
    text
}

impl Handler<RoomChange> for Printer {
    type Result = ();
    fn handle(&mut self, change: RoomChange, _: &mut Context<Self>) {
        self.model.apply(&change);
        match &change {
            RoomChange::Notification(notification) => {
                if !self.json {
                    line(&output::notification_line(notification, false, None));
                } else if self.synced {
                    // Before the first sync the state is not known: nothing is printed as one.
                    self.print_state();
                }
            }
            RoomChange::Unsynced(reason) if self.synced => {
                say!(
                    "out of sync after {}: until the next resync the state may mix what was before with what came after",
                    why(reason)
                );
                if self.json {
                    self.print_state();
                }
            }
            // The first resync reads the state: nothing was missed, it was never seen.
            RoomChange::Synthesized(notification) if !self.json && self.synced => {
                let text = output::notification_line(notification, false, None);
                line(&format!("missed {text}"));
            }
            RoomChange::Synced(report) if !self.synced && report.scope == SyncScope::All => {
                self.synced = true;
                say!(
                    "read {} from the REST API in {} ms",
                    rooms(report.rooms),
                    report.took.as_millis()
                );
                self.print_state();
            }
            RoomChange::Synced(report) => {
                // A room fetched for what its notifications could not say is news only if the
                // server knew more than they said.
                if report.scope == SyncScope::All || report.synthesized > 0 {
                    let why = why(&report.reason);
                    let what = match &report.scope {
                        SyncScope::Room(room) => format!("room {room}"),
                        _ => "every room".to_owned(),
                    };
                    say!(
                        "resynced {what} after {why}: {} {} missed, in {} ms",
                        report.synthesized,
                        plural(report.synthesized, "change", "changes"),
                        report.took.as_millis()
                    );
                }
                if self.json || report.scope == SyncScope::All {
                    self.print_state();
                }
            }
            RoomChange::SyncFailed {
                error, retry_in, ..
            } => say!(
                "cannot read the rooms from {}: {error}; retrying in {:.1} s (check --server, --token and that the server is running)",
                self.url,
                retry_in.as_secs_f64()
            ),
            _ => {}
        }
    }
}

/// What `rooms` and `dashboard` start from: the notifier's builder (counting into the metrics),
/// the Room API and the view's metrics, with `--metrics-listen` served.
pub(crate) struct ViewParts {
    pub(crate) url: String,
    pub(crate) builder: jellyfish_notifier::WsNotifierBuilder,
    pub(crate) api: jellyfish_notifier::RoomApi,
    pub(crate) view_metrics: jellyfish_notifier::metrics::RoomsViewMetrics,
}

impl ViewParts {
    pub(crate) fn of(server: &ServerArgs, watch: &WatchArgs) -> Result<Self, Outcome> {
        let (url, builder) = server.notifier()?;
        let api = server.room_api()?;
        let mut watch = Watch::new(watch);
        let builder = builder.metrics(watch.notifier(&url));
        let view_metrics = watch.rooms_view();
        watch.serve()?;
        Ok(Self {
            url,
            builder,
            api,
            view_metrics,
        })
    }
}

pub(crate) async fn run(args: Args) -> Outcome {
    let ViewParts {
        url,
        builder,
        api,
        view_metrics,
    } = match ViewParts::of(&args.server, &args.watch) {
        Ok(parts) => parts,
        Err(outcome) => return outcome,
    };
    let (reporter, failed_rx) = output::ConnectionReporter::start(&url);
    let printer = Printer {
        json: args.json,
        url: url.clone(),
        model: RoomsModel::default(),
        synced: false,
    }
    .start();
    let notifier = match builder
        .subscribe_connection_events(reporter.recipient())
        .try_start()
    {
        Ok(notifier) => notifier,
        Err(err) => return output::notifier_failure(err, &url),
    };
    let _view = RoomsView::builder(api)
        .metrics(view_metrics)
        .notifier(notifier.clone())
        .subscribe(printer.recipient())
        .start();
    output::until_stopped(&notifier, &url, failed_rx).await
}
