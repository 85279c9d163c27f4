//! Decoding cost per notification kind: `receive_binary` and the WebSocket frame decoder
//! (`decode_server_message`) against bare prost decoding of the same bytes, in the same run.
//!
//! `cargo bench --bench decode`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jellyfish_notifier::codec::*;
use jellyfish_notifier::notification::*;
use jellyfish_notifier::*;
use prost::Message as _;

fn inputs() -> Vec<(&'static str, Vec<u8>)> {
    let small = Notification::from(PeerConnected::new(
        "9f6e1c2a-5b1d-4c8e-9a7f-2d3b4c5d6e7f",
        "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    ));
    let track = Notification::from(TrackAdded::new(
        "9f6e1c2a-5b1d-4c8e-9a7f-2d3b4c5d6e7f",
        Endpoint::Peer("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d".into()),
        Track::new(
            "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d:5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
            TrackType::Video,
            r#"{"source":"camera","label":"Zoë's caméra 🎥","lang":"日本語","simulcast":true}"#,
        ),
    ));
    let mut metrics = String::from("{");
    let mut room = 0;
    while metrics.len() < 100 * 1024 {
        metrics.push_str(&format!(
            "\"room_id=room-{room}\":{{\"endpoint_id=peer-{room}\":{{\"track_id=t-{room}\":{{\"inbound-rtp.bytes_received-per-second\":68355.6,\"inbound-rtp.packets\":{room}}}}}}},"
        ));
        room += 1;
    }
    metrics.push_str("\"rooms\":1}");
    vec![
        ("small room event", small.encode().unwrap()),
        ("track event, unicode metadata", track.encode().unwrap()),
        (
            "100 KiB metrics report",
            MetricsReport::new(metrics).encode(),
        ),
    ]
}

fn decode(c: &mut Criterion) {
    for (name, bytes) in inputs() {
        let mut group = c.benchmark_group(format!("decode/{name}"));
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function("prost ServerMessage (baseline)", |b| {
            b.iter(|| proto::ServerMessage::decode(black_box(bytes.as_slice())).unwrap())
        });
        group.bench_function("decode_server_message (WebSocket frame)", |b| {
            b.iter(|| decode_server_message(black_box(bytes.as_slice())).unwrap())
        });
        if !name.contains("metrics") {
            group.bench_function("receive_binary (webhook)", |b| {
                b.iter(|| receive_binary(black_box(bytes.as_slice())).unwrap())
            });
        }
        group.finish();
    }
}

criterion_group!(benches, decode);
criterion_main!(benches);
