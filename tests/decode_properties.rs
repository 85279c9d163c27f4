//! Property tests: random and mutated bytes never panic the decoders, whatever decodes re-encodes to
//! the same values, and generated notifications round-trip through protobuf and JSON.

mod common;

use jellyfish_notifier::codec::*;
use jellyfish_notifier::control::*;
use jellyfish_notifier::*;
use proptest::prelude::*;

/// Whatever decodes must encode back to something that decodes to the same value.
fn check_decoded(bytes: &[u8]) {
    let _ = receive_binary(bytes);
    let _ = receive_json(&serde_json::json!({ "notification": String::from_utf8_lossy(bytes) }));
    match decode_server_message(bytes) {
        Ok(DecodedMessage::Notification(n)) => {
            let again = n.encode().expect("a decoded notification encodes");
            assert_eq!(receive_binary(&again).unwrap(), vec![n]);
        }
        Ok(DecodedMessage::Batch(items)) => {
            let again = encode_batch(&items).expect("a decoded batch encodes");
            assert_eq!(receive_binary(&again).unwrap(), items);
        }
        Ok(DecodedMessage::Metrics(report)) => {
            assert_eq!(
                decode_server_message(&report.encode()).unwrap(),
                DecodedMessage::Metrics(report)
            );
        }
        Ok(DecodedMessage::Control(control)) => {
            assert_eq!(
                decode_server_message(&control.encode()).unwrap(),
                DecodedMessage::Control(control)
            );
        }
        Ok(other) => panic!("unexpected {other:?}"),
        Err(err) => assert!(!err.to_string().is_empty()),
    }
}

fn valid_encodings() -> Vec<Vec<u8>> {
    let mut all: Vec<Vec<u8>> = common::every_variant(["room", "péer", "track", "{\"a\":1}"], 1)
        .iter()
        .map(|n| n.encode().unwrap())
        .collect();
    all.push(encode_batch(&common::every_variant(["r", "p", "t", "null"], 2)).unwrap());
    all.push(MetricsReport::new("{\"room_id=r\":{}}").encode());
    all.push(
        ControlMessage::AuthRequest {
            token: ApiToken::new("development"),
        }
        .encode(),
    );
    all
}

fn seed_corpus() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/frame_decoder");
    let seeds: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .expect("the seed corpus is committed")
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    assert!(seeds.len() > 30, "{} seeds", seeds.len());
    seeds
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
    Remove(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(i, x)| Mutation::Flip(i, x)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    let len = bytes.len();
    match *mutation {
        Mutation::Flip(i, x) => bytes[i % len] ^= x,
        Mutation::Truncate(i) => bytes.truncate(i % len),
        Mutation::Insert(i, b) => bytes.insert(i % (len + 1), b),
        Mutation::Remove(i) => {
            bytes.remove(i % len);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        check_decoded(&bytes);
    }

    #[test]
    fn mutated_seed_corpus_frames_never_panic(
        which in any::<usize>(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        // The fuzzers' seed corpus (the protocol vectors and one frame of every kind), mutated.
        let seeds = seed_corpus();
        let mut bytes = seeds[which % seeds.len()].clone();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        check_decoded(&bytes);
    }

    #[test]
    fn bytes_that_look_like_server_messages_never_panic(
        tag in 0u32..80,
        wire_type in 0u8..6,
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        // A plausible key first, so the decoder gets past the outer layer more often than with pure noise.
        let mut bytes = Vec::new();
        prost::encoding::encode_varint(u64::from(tag << 3 | u32::from(wire_type)), &mut bytes);
        bytes.push(body.len() as u8);
        bytes.extend(body);
        check_decoded(&bytes);
    }

    #[test]
    fn mutated_valid_frames_never_panic(
        which in any::<usize>(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let all = valid_encodings();
        let mut bytes = all[which % all.len()].clone();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        check_decoded(&bytes);
    }

    #[test]
    fn random_json_webhook_bodies_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = receive_json_body(&bytes);
    }

    #[test]
    fn json_shaped_webhook_bodies_never_panic(
        kind in "[a-z_]{0,24}",
        room in any::<String>(),
        extra in proptest::collection::vec((any::<String>(), any::<i64>()), 0..4),
        wrap in 0u8..3,
    ) {
        let mut object = serde_json::json!({"type": kind, "room_id": room});
        for (key, value) in extra {
            object[key] = serde_json::json!(value);
        }
        let body = match wrap {
            0 => object,
            1 => serde_json::json!([object, object]),
            _ => serde_json::json!({"notification": room}),
        };
        let _ = receive_json_body(&serde_json::to_vec(&body).unwrap());
    }

    #[test]
    fn generated_notifications_round_trip(
        texts in proptest::array::uniform4(any::<String>()),
        number in any::<i32>(),
    ) {
        let texts = [texts[0].as_str(), texts[1].as_str(), texts[2].as_str(), texts[3].as_str()];
        for n in common::every_variant(texts, number) {
            let bytes = n.encode().unwrap();
            prop_assert_eq!(receive_binary(&bytes).unwrap(), vec![n.clone()]);
            let json = serde_json::to_string(&n).unwrap();
            prop_assert_eq!(serde_json::from_str::<Notification>(&json).unwrap(), n);
        }
    }
}
