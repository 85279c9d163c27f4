//! Built-in traffic: `lifecycle` plays realistic room lifecycles through the same actions the REST
//! API and controls use; `firehose` pushes notifications as fast as the sockets take them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::{ActionError, Emulator, TrackOwner};
use jellyfish_notifier::notification::*;
use jellyfish_notifier::rooms::*;

/// The `lifecycle` scenario: rooms created, peers added and connected, tracks published, metadata
/// changed, peers leaving, rooms deleted.
#[derive(Clone, Debug, PartialEq)]
pub struct LifecycleConfig {
    /// Rooms per round. Default 2.
    pub rooms: usize,
    /// Peers per room. Default 2.
    pub peers_per_room: usize,
    /// Actions per second (each action emits one or more notifications). Default 20.
    pub rate: f64,
    /// Start again after the last room is deleted, until the future is dropped. Default `false`.
    pub looping: bool,
    /// The `webhookUrl` of every room, if any.
    pub webhook_url: Option<String>,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        Self {
            rooms: 2,
            peers_per_room: 2,
            rate: 20.0,
            looping: false,
            webhook_url: None,
        }
    }
}

/// The `firehose` mode: synthetic notifications pushed to every notification subscriber as fast as
/// their sockets drain, with a bounded queue per socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirehoseConfig {
    /// How many notifications to send; `None` runs until the future is dropped.
    pub total: Option<u64>,
    /// Frames a socket may have queued before the firehose waits for it. Default 1024.
    pub high_water: usize,
}

impl Default for FirehoseConfig {
    fn default() -> Self {
        Self {
            total: Some(100_000),
            high_water: 1024,
        }
    }
}

/// Nanoseconds since the Unix epoch, as firehose room ids carry them.
pub fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// The firehose's `seq`-th notification. Its room id is `fh{seq}@{unix nanos when built}`, so a
/// receiver can check order and measure latency.
pub fn firehose_notification(seq: u64) -> Notification {
    firehose_notification_in(seq, format!("fh{seq}@{}", unix_nanos()))
}

/// The firehose's `seq`-th notification, of the same kind and bytes, in `room`: many of them in
/// a few rooms are a server's busy rooms.
pub fn firehose_notification_in(seq: u64, room: String) -> Notification {
    let peer = "peer-1";
    let track = || {
        Track::new(
            "peer-1:video",
            TrackType::Video,
            r#"{"source":"camera","label":"Zoë's camera 🎥"}"#,
        )
    };
    match seq % 6 {
        0 => Notification::from(RoomCreated::new(room)),
        1 => Notification::from(PeerConnected::new(room, peer)),
        2 => Notification::from(TrackAdded::new(room, Endpoint::Peer(peer.into()), track())),
        3 => Notification::from(PeerMetadataUpdated::new(room, peer, r#"{"name":"Zoë"}"#)),
        4 => Notification::from(PeerDisconnected::new(room, peer)),
        _ => Notification::from(RoomDeleted::new(room)),
    }
}

impl Emulator {
    /// Plays the `lifecycle` scenario. Returns the number of actions played (for ever if looping).
    pub async fn run_lifecycle(&self, config: &LifecycleConfig) -> Result<u64, ActionError> {
        let pause = Duration::from_secs_f64(1.0 / config.rate.max(0.001));
        let mut actions = 0u64;
        let mut round = 0u64;
        loop {
            round += 1;
            let mut step = async |action: &mut dyn FnMut() -> Result<(), ActionError>| {
                action()?;
                actions += 1;
                tokio::time::sleep(pause).await;
                Ok::<_, ActionError>(())
            };
            let mut rooms = Vec::new();
            for r in 0..config.rooms {
                let body = json!({"roomId": format!("lifecycle-{round}-{r}"), "webhookUrl": config.webhook_url});
                let mut id = String::new();
                step(&mut || {
                    id = self.create_room(&body)?.id.to_string();
                    Ok(())
                })
                .await?;
                rooms.push(id);
            }
            let mut peers = Vec::new();
            for room in &rooms {
                for p in 0..config.peers_per_room {
                    let mut peer = String::new();
                    step(&mut || {
                        peer = self.add_peer(room)?.peer.id.to_string();
                        Ok(())
                    })
                    .await?;
                    step(&mut || self.connect_peer(room, &peer)).await?;
                    let owner = TrackOwner::Peer(peer.as_str().into());
                    let mut track = String::new();
                    step(&mut || {
                        let metadata = json!({"source": "camera", "peer": p});
                        track = self.add_track(room, &owner, TrackType::Video, metadata)?;
                        Ok(())
                    })
                    .await?;
                    step(&mut || {
                        self.add_track(room, &owner, TrackType::Audio, json!(null))
                            .map(drop)
                    })
                    .await?;
                    step(&mut || {
                        self.update_peer_metadata(room, &peer, json!({"name": format!("Peer {p}")}))
                    })
                    .await?;
                    step(&mut || {
                        self.update_track_metadata(
                            room,
                            &owner,
                            &track,
                            json!({"source": "screen"}),
                        )
                    })
                    .await?;
                    peers.push((room.clone(), peer));
                }
            }
            if self.server_version().is_cloud() {
                self.cloud_round(
                    round,
                    &rooms,
                    &peers,
                    config.webhook_url.as_deref(),
                    &mut step,
                )
                .await?;
            }
            for (room, peer) in &peers {
                step(&mut || self.disconnect_peer(room, peer)).await?;
                step(&mut || self.delete_peer(room, peer)).await?;
            }
            for room in &rooms {
                step(&mut || self.delete_room(room)).await?;
            }
            if !config.looping {
                return Ok(actions);
            }
        }
    }

    /// What a Cloud round adds while its peers are connected, so that every kind Fishjam Cloud
    /// sends appears at least once: track forwarding, a data channel, voice activity, a
    /// livestream streamer and viewer, a recording, an agent peer that crashes and a room that
    /// crashes. (`track_forwarding_removed` follows when the peers leave.)
    async fn cloud_round(
        &self,
        round: u64,
        rooms: &[String],
        peers: &[(String, String)],
        webhook_url: Option<&str>,
        step: &mut impl AsyncFnMut(
            &mut dyn FnMut() -> Result<(), ActionError>,
        ) -> Result<(), ActionError>,
    ) -> Result<(), ActionError> {
        let Some(room) = rooms.first() else {
            return Ok(());
        };
        step(&mut || self.forward_tracks(room, "https://rtc.fishjam.io/api/composition/demo"))
            .await?;
        if let Some((room, peer)) = peers.first() {
            step(&mut || self.channel(room, peer, "chat", true)).await?;
            step(&mut || self.channel(room, peer, "chat", false)).await?;
            let audio = self
                .rooms()
                .into_iter()
                .filter(|r| r.id == room.as_str())
                .flat_map(|r| r.peers)
                .filter(|p| p.id == peer.as_str())
                .flat_map(|p| p.tracks)
                .find(|t| t.track_type == TrackType::Audio)
                .map(|t| t.id.to_string());
            if let Some(audio) = audio {
                step(&mut || self.voice_activity(room, peer, &audio, VadStatus::Speech)).await?;
                step(&mut || self.voice_activity(room, peer, &audio, VadStatus::Silence)).await?;
            }
        }
        let streamer = format!("streamer-{round}");
        let viewer = format!("viewer-{round}");
        step(&mut || self.streamer(room, &streamer, true)).await?;
        step(&mut || self.viewer(room, &viewer, true)).await?;
        step(&mut || self.viewer(room, &viewer, false)).await?;
        step(&mut || self.streamer(room, &streamer, false)).await?;
        let mut recording = String::new();
        step(&mut || {
            recording = self.start_recording("https://rtc.fishjam.io/api/composition/demo")?;
            Ok(())
        })
        .await?;
        step(&mut || self.stop_recording(&recording)).await?;
        let mut agent = String::new();
        step(&mut || {
            let options = PeerOptions::Agent(AgentOptions::default());
            agent = self.add_peer_with(room, &options)?.peer.id.to_string();
            Ok(())
        })
        .await?;
        step(&mut || self.connect_peer(room, &agent)).await?;
        step(&mut || self.crash_peer(room, &agent, "agent process exited")).await?;
        let mut doomed = String::new();
        step(&mut || {
            doomed = self
                .create_room(&json!({"webhookUrl": webhook_url}))?
                .id
                .to_string();
            Ok(())
        })
        .await?;
        step(&mut || self.crash_room(&doomed)).await?;
        Ok(())
    }

    /// Runs the `firehose`: synthetic notifications ([`firehose_notification`]) pushed to every
    /// notification subscriber as fast as their sockets drain. Returns how many were pushed.
    pub async fn run_firehose(&self, config: &FirehoseConfig) -> u64 {
        let mut seq = 0u64;
        while config.total.is_none_or(|total| seq < total) {
            if self.shared.deepest_queue() >= config.high_water {
                tokio::time::sleep(Duration::from_micros(200)).await;
                continue;
            }
            self.push_notification(&firehose_notification(seq));
            seq += 1;
            if seq.is_multiple_of(256) {
                tokio::task::yield_now().await;
            }
        }
        seq
    }
}
