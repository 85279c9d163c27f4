//! The codec against the protocol's hex vectors, round trips for every kind, the v0.3.0 JSON
//! envelope, batches and the errors a person reads.

mod common;

use common::{every_variant, hex};
use jellyfish_notifier::codec::*;
use jellyfish_notifier::control::*;
use jellyfish_notifier::notification::*;

#[test]
fn control_messages_match_the_protocol_vectors() {
    let vectors = [
        (
            "3a0d0a0b646576656c6f706d656e74",
            ControlMessage::AuthRequest {
                token: ApiToken::new("development"),
            },
        ),
        ("3200", ControlMessage::Authenticated),
        (
            "42020801",
            ControlMessage::SubscribeRequest(EventType::ServerNotification),
        ),
        (
            "42020802",
            ControlMessage::SubscribeRequest(EventType::Metrics),
        ),
        (
            "4a020801",
            ControlMessage::SubscribeResponse(EventType::ServerNotification),
        ),
    ];
    for (bytes, message) in vectors {
        let bytes = hex(bytes);
        assert_eq!(
            decode_server_message(&bytes).unwrap(),
            DecodedMessage::Control(message.clone())
        );
        assert_eq!(message.encode(), bytes, "{message:?}");
    }
}

#[test]
fn room_created_matches_the_protocol_vector() {
    let bytes = hex("5207 0a05726f6f6d31");
    let expected = Notification::from(RoomCreated::new("room1"));
    assert_eq!(receive_binary(&bytes).unwrap(), vec![expected.clone()]);
    assert_eq!(expected.encode().unwrap(), bytes);
}

#[test]
fn members_from_16_use_two_byte_tags() {
    let metadata = Notification::from(PeerMetadataUpdated::new("r", "p", "{}"));
    assert_eq!(metadata.encode().unwrap()[..2], [0x82, 0x01]);
    let batch = encode_batch(&[Notification::from(RoomCreated::new("r"))]).unwrap();
    assert_eq!(batch[..2], [0x8a, 0x02]);
    let recording = Notification::from(RecordingStatusChanged::new("rec"));
    assert_eq!(recording.encode().unwrap()[..2], [0x92, 0x02]);
}

#[test]
fn track_added_encodes_fields_in_tag_order_like_the_server() {
    // room_id (1), peer_id (2), then track (4): the order the server's encoder writes.
    let bytes = hex("8a01 13 0a0172 120170 220b 0a0174 1001 1a046e756c6c");
    let expected = Notification::from(TrackAdded::new(
        "r",
        Endpoint::Peer("p".into()),
        Track::new("t", TrackType::Video, Metadata::null()),
    ));
    assert_eq!(receive_binary(&bytes).unwrap(), vec![expected.clone()]);
    assert_eq!(expected.encode().unwrap(), bytes);
}

#[test]
fn peer_crashed_carries_the_v05_reason() {
    let bytes = hex("22 10 0a0172 120170 1a08 74696d656f7574 21");
    let decoded = receive_binary(&bytes).unwrap();
    let Notification::PeerCrashed(crashed) = &decoded[0] else {
        panic!("{decoded:?}")
    };
    assert_eq!(&*crashed.reason, "timeout!");
    assert_eq!(decoded[0].encode().unwrap(), bytes);
}

#[test]
fn a_component_track_names_the_component() {
    let n = Notification::from(TrackRemoved::new(
        "r",
        Endpoint::Component("hls-1".into()),
        Track::new("t", TrackType::Audio, "null"),
    ));
    let decoded = receive_binary(&n.encode().unwrap()).unwrap();
    let Notification::TrackRemoved(removed) = &decoded[0] else {
        panic!()
    };
    assert_eq!(removed.endpoint, Some(Endpoint::Component("hls-1".into())));
    assert_eq!(removed.track.track_type, TrackType::Audio);
}

fn round_trip(texts: [&str; 4], number: i32) {
    for notification in every_variant(texts, number) {
        let bytes = notification.encode().unwrap();
        assert_eq!(
            receive_binary(&bytes).unwrap(),
            vec![notification.clone()],
            "{notification:?}"
        );
        let json = serde_json::to_string(&notification).unwrap();
        assert_eq!(
            serde_json::from_str::<Notification>(&json).unwrap(),
            notification,
            "{json}"
        );
    }
}

#[test]
fn every_kind_round_trips_through_protobuf_and_json() {
    round_trip(["room-1", "peer-1", "track-1", r#"{"name":"Alice"}"#], 1);
    round_trip(
        [
            "pokój",
            "użytkownik 🎥",
            "トラック",
            r#"{"name":"Zoë 🎤","emoji":"\u{1F600}"}"#,
        ],
        2,
    );
}

#[test]
fn empty_strings_and_default_enums_round_trip() {
    round_trip(["", "", "", ""], 0);
}

#[test]
fn long_texts_and_unknown_enum_values_round_trip() {
    let long = "x".repeat(70_000);
    round_trip([&long, "p", "t", "null"], 77);
    round_trip(["r", "p", "t", "null"], -5);
}

#[test]
fn every_kind_has_its_own_type_name() {
    let all = every_variant(["a", "b", "c", "d"], 1);
    let mut kinds: Vec<_> = all.iter().map(Notification::kind).collect();
    kinds.sort();
    kinds.dedup();
    assert_eq!(kinds.len(), 29, "28 known kinds plus unknown");
}

#[test]
fn an_unknown_member_decodes_as_unknown_with_its_field() {
    // Field 40, length-delimited, carrying a string field: what a newer server might send.
    let bytes = hex("c202 03 0a0161");
    assert_eq!(
        receive_binary(&bytes).unwrap(),
        vec![Notification::from(UnknownNotification::field(40))]
    );
    // A varint member works too.
    assert_eq!(
        receive_binary(&hex("c002 05")).unwrap(),
        vec![Notification::from(UnknownNotification::field(40))]
    );
}

#[test]
fn an_unknown_member_that_would_be_misread_cannot_be_encoded() {
    for field in [0, 10, 34, 1 << 29] {
        let err = Notification::from(UnknownNotification::field(field))
            .encode()
            .unwrap_err();
        assert!(
            matches!(err, EncodeError::UnknownField { field: f } if f == field),
            "{err}"
        );
    }
    assert!(
        Notification::from(UnknownNotification::field(35))
            .encode()
            .is_ok()
    );
}

#[test]
fn batches_unwrap_in_order_including_unknown_items() {
    let items = vec![
        Notification::from(RoomCreated::new("r")),
        Notification::from(UnknownNotification::field(99)),
        Notification::from(PeerAdded::new("r", "p")),
    ];
    let bytes = encode_batch(&items).unwrap();
    assert_eq!(receive_binary(&bytes).unwrap(), items);
    assert_eq!(
        decode_server_message(&bytes).unwrap(),
        DecodedMessage::Batch(items)
    );
    assert_eq!(receive_binary(&encode_batch(&[]).unwrap()).unwrap(), vec![]);
}

#[test]
fn a_nested_batch_is_rejected() {
    let inner = encode_batch(&[Notification::from(RoomCreated::new("r"))]).unwrap();
    // Wrap the inner batch's ServerMessage as item 0 of an outer batch.
    let mut items = vec![0x0a, inner.len() as u8];
    items.extend_from_slice(&inner);
    let mut outer = vec![0x8a, 0x02, items.len() as u8];
    outer.extend_from_slice(&items);
    let err = receive_binary(&outer).unwrap_err();
    assert_eq!(
        err.to_string(),
        "item 0 of the notification_batch: a `notification_batch` nested inside another `notification_batch`"
    );
}

#[test]
fn a_control_message_in_a_batch_names_the_item() {
    let mut bytes = hex("8a02 08");
    bytes.extend(hex("0a02 3200")); // item 0: authenticated
    bytes.extend(hex("0a02 5200")); // item 1: room_created
    let err = receive_binary(&bytes).unwrap_err();
    assert_eq!(
        err.to_string(),
        "item 0 of the notification_batch: expected a notification, got the `authenticated` control message"
    );
}

#[test]
fn control_messages_and_metrics_are_not_webhook_notifications() {
    let err = receive_binary(&hex("4a020801")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "expected a notification, got the `subscribe_response` control message"
    );
    let report = MetricsReport::new(r#"{"a":1}"#).encode();
    let err = receive_binary(&report).unwrap_err();
    assert!(matches!(err, DecodeError::MetricsReport), "{err}");
    assert_eq!(
        decode_server_message(&report).unwrap(),
        DecodedMessage::Metrics(MetricsReport::new(r#"{"a":1}"#))
    );
}

#[test]
fn garbage_gives_a_readable_protobuf_error() {
    let err = receive_binary(&hex("5207 0a05726f6f")).unwrap_err(); // truncated
    assert!(matches!(err, DecodeError::Protobuf(_)));
    assert!(
        err.to_string()
            .starts_with("not a valid protobuf ServerMessage:"),
        "{err}"
    );
    let err = receive_binary(&hex("50 01")).unwrap_err(); // room_created as a varint: wrong wire type
    assert!(matches!(err, DecodeError::Protobuf(_)), "{err}");
    let err = receive_binary(&hex("5205 0a03 ff fe fd")).unwrap_err(); // invalid UTF-8 id
    assert!(matches!(err, DecodeError::Protobuf(_)), "{err}");
    let err = receive_binary(&hex("52 ffffffffffffffff7f")).unwrap_err(); // huge length prefix
    assert!(matches!(err, DecodeError::Protobuf(_)), "{err}");
    assert!(matches!(
        receive_binary(&[]).unwrap_err(),
        DecodeError::Empty
    ));
}

#[test]
fn the_v03_json_envelope_decodes_with_control_characters_escaped() {
    // What the v0.3.0 server's JSON encoder writes for room_created{"room1"}: the tag byte 0x52 is
    // `R`, the length bytes 0x07 and 0x05 are control characters escaped as \u00XX, 0x0a is \n.
    let body = r#"{"notification":"R\u0007\n\u0005room1"}"#;
    let value: serde_json::Value = serde_json::from_str(body).unwrap();
    let expected = vec![Notification::from(RoomCreated::new("room1"))];
    assert_eq!(receive_json(&value).unwrap(), expected);

    let webhook: JsonWebhook = serde_json::from_str(body).unwrap();
    assert_eq!(webhook.notifications().unwrap(), expected);
    assert_eq!(
        serde_json::to_string(&JsonWebhook::from_notification(&expected[0]).unwrap()).unwrap(),
        body
    );

    // Uppercase hex escapes decode the same.
    let upper: serde_json::Value =
        serde_json::from_str(r#"{"notification":"R\u0007\u000A\u0005room1"}"#).unwrap();
    assert_eq!(receive_json(&upper).unwrap(), expected);
}

#[test]
fn every_v03_notification_round_trips_through_the_json_envelope() {
    // v0.3.0 knew members 1–15; their encodings with short texts are valid UTF-8.
    for notification in every_variant(["room", "peer", "track", "{}"], 0) {
        let Ok(bytes) = notification.encode() else {
            continue;
        };
        if bytes[0] >= 0x80 {
            continue; // two-byte tags (members ≥ 16) did not exist in v0.3.0
        }
        let envelope = JsonWebhook::from_notification(&notification).unwrap();
        let value = serde_json::to_value(&envelope).unwrap();
        assert_eq!(receive_json(&value).unwrap(), vec![notification]);
    }
}

#[test]
fn a_notification_whose_bytes_are_not_utf8_cannot_use_the_json_envelope() {
    let long_id = "r".repeat(200); // its length prefix 0xc8 0x01 is not UTF-8
    let err =
        JsonWebhook::from_notification(&Notification::from(RoomCreated::new(long_id))).unwrap_err();
    assert!(
        matches!(
            err,
            EncodeError::NotUtf8 {
                kind: "room_created"
            }
        ),
        "{err}"
    );
}

#[test]
fn malformed_json_envelopes_say_what_is_wrong() {
    let cases = [
        (
            serde_json::json!([1]),
            "not a Jellyfish v0.3 JSON webhook body: expected an object, got an array",
        ),
        (
            serde_json::json!({"other": 1}),
            "not a Jellyfish v0.3 JSON webhook body: the object has no \"notification\" key",
        ),
        (
            serde_json::json!({"notification": 5}),
            "not a Jellyfish v0.3 JSON webhook body: \"notification\" must be a string of protobuf bytes, got a number",
        ),
    ];
    for (body, message) in cases {
        assert_eq!(receive_json(&body).unwrap_err().to_string(), message);
    }
    let err = receive_json(&serde_json::json!({"notification": "\u{1}"})).unwrap_err();
    assert!(matches!(err, DecodeError::Protobuf(_)), "{err}");
}

#[test]
fn the_api_token_never_shows_in_debug_output() {
    let message = ControlMessage::AuthRequest {
        token: ApiToken::new("s3cr3t-token"),
    };
    let debug = format!(
        "{message:?} {:?}",
        decode_server_message(&message.encode()).unwrap()
    );
    assert!(!debug.contains("s3cr3t"), "{debug}");
    assert!(debug.contains("<redacted>"));
}
