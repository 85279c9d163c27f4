//! The metrics report the server would send, built from the rooms.

use serde_json::Value;

use jellyfish_notifier::rooms::PeerStatus;

use super::World;

impl World {
    /// The metrics report the server would send now: global counters plus one nested object per
    /// room (`room_id=…`) → endpoint (`endpoint_id=…`) → track (`track_id=…`).
    pub(crate) fn metrics(&self, tick: u64) -> Value {
        let mut report = serde_json::Map::new();
        let mut total_tracks = 0u64;
        for room in self.rooms.values() {
            let mut room_json = serde_json::Map::new();
            for peer in room
                .peers
                .iter()
                .filter(|p| p.status == PeerStatus::Connected)
            {
                let mut endpoint = serde_json::Map::new();
                endpoint.insert("ice.binding_requests_received".into(), (tick * 2).into());
                endpoint.insert("ice.bytes_sent".into(), (tick * 1_200).into());
                for (index, track) in peer.tracks.iter().enumerate() {
                    total_tracks += 1;
                    let rate = 50_000.0 + 1_000.0 * index as f64 + (tick % 10) as f64 * 0.5;
                    let mut track_json = serde_json::Map::new();
                    track_json.insert("inbound-rtp.bytes_received-per-second".into(), rate.into());
                    track_json.insert("inbound-rtp.packets".into(), (tick * 90).into());
                    track_json.insert(
                        "track.kind".into(),
                        track.track_type.name().unwrap_or("video").into(),
                    );
                    endpoint.insert(format!("track_id={}", track.id), track_json.into());
                }
                room_json.insert(format!("endpoint_id={}", peer.id), endpoint.into());
            }
            report.insert(format!("room_id={}", room.id), room_json.into());
        }
        report.insert("rooms".into(), self.rooms.len().into());
        report.insert("tracks".into(), total_tracks.into());
        Value::Object(report)
    }
}
