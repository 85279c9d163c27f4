//! The crate's stable JSON shape, pinned byte for byte.

mod common;

use jellyfish_notifier::codec::*;
use jellyfish_notifier::forward::*;
use jellyfish_notifier::notification::*;
use jellyfish_notifier::rooms_view::*;
use jellyfish_notifier::*;
use serde_json::json;

#[test]
fn track_events_name_their_endpoint_and_keep_metadata_as_text() {
    let added = Notification::from(TrackAdded::new(
        "r1",
        Endpoint::Peer("p1".into()),
        Track::new("t1", TrackType::Video, r#"{"source":"camera"}"#),
    ));
    assert_eq!(
        serde_json::to_string(&added).unwrap(),
        r#"{"type":"track_added","room_id":"r1","peer_id":"p1","track":{"id":"t1","type":"video","metadata":"{\"source\":\"camera\"}"}}"#
    );
    let removed = Notification::from(TrackRemoved::new(
        "r1",
        Endpoint::Component("c1".into()),
        Track::new("t1", TrackType::Audio, "null"),
    ));
    assert_eq!(
        serde_json::to_value(&removed).unwrap(),
        json!({"type":"track_removed","room_id":"r1","component_id":"c1","track":{"id":"t1","type":"audio","metadata":"null"}})
    );
}

#[test]
fn defaults_are_included_and_enums_are_short_names() {
    let n = Notification::from(PeerCrashed::new("r", "p", ""));
    assert_eq!(
        serde_json::to_value(&n).unwrap(),
        json!({"type":"peer_crashed","room_id":"r","peer_id":"p","reason":"","peer_type":"unspecified"})
    );
    let n = Notification::from(PeerAdded {
        peer_type: PeerType::Webrtc,
        ..PeerAdded::new("r", "p")
    });
    assert_eq!(serde_json::to_value(&n).unwrap()["peer_type"], "webrtc");
    let n = Notification::from(VadNotification {
        status: VadStatus::Speech,
        ..VadNotification::new("r", "p", "t")
    });
    assert_eq!(
        serde_json::to_value(&n).unwrap(),
        json!({"type":"vad_notification","room_id":"r","peer_id":"p","track_id":"t","status":"speech"})
    );
}

#[test]
fn unknown_members_and_enum_values_keep_their_numbers() {
    assert_eq!(
        serde_json::to_string(&Notification::from(UnknownNotification::field(40))).unwrap(),
        r#"{"type":"unknown","field":40}"#
    );
    let n = Notification::from(PeerConnected {
        peer_type: PeerType::from_i32(9),
        ..PeerConnected::new("r", "p")
    });
    let value = serde_json::to_value(&n).unwrap();
    assert_eq!(value["peer_type"], 9);
    assert_eq!(serde_json::from_value::<Notification>(value).unwrap(), n);
}

#[test]
fn track_forwarding_shows_absent_tracks_as_null() {
    let n = Notification::from(TrackForwarding {
        room_id: "r".into(),
        peer_id: "p".into(),
        composition_url: "http://c".into(),
        input_id: "i".into(),
        audio_track: None,
        video_track: Some(Track::new("v", TrackType::Video, "null")),
    });
    assert_eq!(
        serde_json::to_value(&n).unwrap(),
        json!({"type":"track_forwarding","room_id":"r","peer_id":"p","composition_url":"http://c","input_id":"i",
               "audio_track":null,"video_track":{"id":"v","type":"video","metadata":"null"}})
    );
}

#[test]
fn json_deserialization_errors_are_readable() {
    let err = serde_json::from_str::<Notification>(r#"{"type":"peer_connected","room_id":"r"}"#)
        .unwrap_err();
    assert!(err.to_string().contains("missing field `peer_id`"), "{err}");
    let err = serde_json::from_str::<Notification>(r#"{"type":7}"#).unwrap_err();
    assert!(
        err.to_string().contains("\"type\" must be a string"),
        "{err}"
    );
    let err = serde_json::from_str::<Notification>(r#"{"room_id":"r"}"#).unwrap_err();
    assert!(err.to_string().contains("missing field `type`"), "{err}");
    let err = serde_json::from_str::<Notification>(
        r#"{"type":"peer_added","room_id":"r","peer_id":"p","peer_type":"martian"}"#,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("unknown variant `martian`"),
        "{err}"
    );
}

#[test]
fn every_kind_round_trips_through_serde_json_value_too() {
    for n in common::every_variant(["r", "p", "t", "{\"a\":[1,2]}"], 2) {
        let value = serde_json::to_value(&n).unwrap();
        assert_eq!(value["type"], n.kind());
        assert_eq!(serde_json::from_value::<Notification>(value).unwrap(), n);
    }
}

#[test]
fn metrics_reports_serialize_as_parsed_json_and_keep_the_raw_text() {
    let raw = r#"{"room_id=r1": {"endpoint_id=p1": {"track_id=t1": {"inbound-rtp.bytes_received-per-second": 68355.6}}}, "total": 1e3}"#;
    let report = MetricsReport::new(raw);
    let text = serde_json::to_string(&report).unwrap();
    assert_eq!(
        text,
        format!(r#"{{"type":"metrics_report","metrics":{raw}}}"#)
    );
    let back: MetricsReport = serde_json::from_str(&text).unwrap();
    assert_eq!(back.raw(), raw, "the server's text survives verbatim");
    assert_eq!(
        back.json().unwrap()["room_id=r1"]["endpoint_id=p1"]["track_id=t1"]["inbound-rtp.bytes_received-per-second"],
        68355.6
    );
}

#[test]
fn a_metrics_report_that_is_not_json_serializes_as_a_string() {
    let report = MetricsReport::new("not {json");
    assert!(report.json().is_err());
    let text = serde_json::to_string(&report).unwrap();
    assert_eq!(text, r#"{"type":"metrics_report","metrics":"not {json"}"#);
    assert_eq!(
        serde_json::from_str::<MetricsReport>(&text).unwrap(),
        report
    );
    // A string that is itself JSON text stays a JSON string.
    let quoted = MetricsReport::new(r#""{}""#);
    let text = serde_json::to_string(&quoted).unwrap();
    assert_eq!(
        serde_json::from_str::<MetricsReport>(&text).unwrap(),
        quoted
    );
}

#[test]
fn metrics_debug_output_is_bounded() {
    let big = format!("{{\"k\":\"{}\"}}", "é".repeat(100_000));
    let debug = format!("{:?}", MetricsReport::new(big.clone()));
    assert!(debug.len() < 400, "{} bytes", debug.len());
    assert!(debug.contains(&format!("({} bytes)", big.len())));
}

#[test]
fn a_json_notification_of_an_unknown_type_decodes_to_unknown() {
    let n: Notification =
        serde_json::from_str(r#"{"type":"no_such_thing","room_id":"r","x":[1]}"#).unwrap();
    assert_eq!(
        n,
        Notification::from(UnknownNotification {
            field: None,
            kind: Some("no_such_thing".into()),
        })
    );
    assert_eq!(n.kind(), "unknown");
    assert_eq!(
        serde_json::to_value(&n).unwrap(),
        json!({"type": "unknown", "kind": "no_such_thing"})
    );
    assert!(matches!(
        n.encode(),
        Err(EncodeError::NoFieldNumber { kind }) if kind == "no_such_thing"
    ));
    let batch =
        receive_json_body(br#"[{"type":"room_created","room_id":"r"},{"type":"brand_new"}]"#)
            .unwrap();
    assert_eq!(batch[1].kind(), "unknown");
}

/// What a status page or a log collector gets from the reports: durations in seconds, errors as
/// their message, enums tagged in snake_case.
#[test]
fn reports_and_events_serialize_for_a_status_page() {
    let event = ConnectionEvent::Disconnected {
        reason: DisconnectReason::Dropped,
        retry_in: std::time::Duration::from_millis(250),
        attempt: 2,
    };
    assert_eq!(
        serde_json::to_value(&event).unwrap(),
        json!({"event": "disconnected", "reason": "the connection ended without a close frame", "retry_in": 0.25, "attempt": 2})
    );
    assert_eq!(
        serde_json::to_value(ConnectionEvent::Ready { gap: None }).unwrap(),
        json!({"event": "ready", "gap": null})
    );
    assert_eq!(
        serde_json::to_value(ConnectionState::Failed(NotifierError::Shutdown)).unwrap(),
        json!({"failed": "the notifier was shut down"})
    );
    let report = serde_json::to_value(SyncReport {
        scope: SyncScope::Room("r1".into()),
        reason: SyncReason::Gap(Some(std::time::Duration::from_millis(1500))),
        rooms: 1,
        synthesized: 2,
        replayed: 0,
        took: std::time::Duration::from_millis(5),
        in_sync: true,
        at: std::time::SystemTime::now(),
    })
    .unwrap();
    assert_eq!(report["scope"], json!({"room": "r1"}));
    assert_eq!(report["reason"], json!({"gap": 1.5}));
    assert_eq!(report["took"], json!(0.005));
    assert_eq!(report["in_sync"], json!(true));
    let stats = serde_json::to_value(RoomsViewStats::default()).unwrap();
    assert_eq!(stats["synced"], json!(false));
    let forwarded = serde_json::to_value(ForwarderStats::default()).unwrap();
    assert_eq!(forwarded["delivered"], json!(0));
}

/// Every event a component sends serializes to JSON (what `--log-format json` and users' log
/// pipelines write), failures included, each with its name in `"event"`.
#[test]
fn every_event_variant_serializes_with_its_name() {
    use std::time::Duration;
    fn named(event: &impl serde::Serialize) -> (String, serde_json::Value) {
        let text = serde_json::to_string(event)
            .unwrap_or_else(|error| panic!("does not serialize: {error}"));
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let name = value["event"].as_str().unwrap_or_default().to_owned();
        (name, value)
    }
    let seconds = Duration::from_millis(1500);
    let reason = DisconnectReason::Closed {
        code: 4000,
        reason: "bye".into(),
    };
    let connection = [
        ConnectionEvent::Connecting { attempt: 1 },
        ConnectionEvent::Ready { gap: Some(seconds) },
        ConnectionEvent::Ready { gap: None },
        ConnectionEvent::Disconnected {
            reason: reason.clone(),
            retry_in: seconds,
            attempt: 2,
        },
        ConnectionEvent::Failed(NotifierError::InvalidToken),
        ConnectionEvent::Failed(NotifierError::RetriesExhausted {
            attempts: 3,
            last_error: reason,
        }),
        ConnectionEvent::MetricsUnsupported,
        ConnectionEvent::NotificationsDropped {
            subscription: notifier::SubscriptionId::new(7),
            total: 4,
        },
    ];
    let names: Vec<String> = connection.iter().map(|e| named(e).0).collect();
    assert_eq!(
        names,
        [
            "connecting",
            "ready",
            "ready",
            "disconnected",
            "failed",
            "failed",
            "metrics_unsupported",
            "notifications_dropped"
        ]
    );
    let (_, failed) = named(&ConnectionEvent::Failed(NotifierError::InvalidToken));
    assert_eq!(
        failed["error"],
        NotifierError::InvalidToken.to_string(),
        "{failed}"
    );

    let about = About::of(&Notification::from(RoomCreated::new("r1")));
    let reasons = [
        RetryReason::Status { status: 503 },
        RetryReason::Failed(TransportError::Timeout),
        RetryReason::Failed(TransportError::Connect {
            detail: "refused".into(),
        }),
        RetryReason::SpoolRead {
            path: "/spool/1".into(),
            detail: "EMFILE".into(),
        },
    ];
    let causes = [
        DropCause::QueueFull { limit: 1 },
        DropCause::SpoolFull { limit: 1 },
        DropCause::SpoolWrite {
            path: "/spool/1".into(),
            detail: "ENOSPC".into(),
        },
        DropCause::SpoolCorrupt {
            path: "/spool/1".into(),
            offset: 4,
            bytes: 8,
        },
        DropCause::SpoolGone {
            path: "/spool/1".into(),
        },
        DropCause::Encode(
            Notification::from(UnknownNotification::field(2))
                .encode()
                .unwrap_err(),
        ),
        DropCause::GaveUp {
            attempts: 3,
            reason: RetryReason::Failed(TransportError::Timeout),
        },
    ];
    let mut forward = vec![
        ForwardEvent::Delivered {
            about: about.clone(),
            status: 200,
            attempts: 1,
        },
        ForwardEvent::Rejected {
            about: about.clone(),
            status: 400,
        },
        ForwardEvent::SpoolFailing {
            path: "/spool/1".into(),
            error: "ENOSPC".into(),
            queued: 3,
        },
        ForwardEvent::SpoolRecovered {
            path: "/spool/1".into(),
        },
    ];
    forward.extend(reasons.into_iter().map(|reason| ForwardEvent::Retrying {
        about: about.clone(),
        reason,
        retry_in: seconds,
    }));
    forward.extend(causes.into_iter().map(|cause| ForwardEvent::Dropped {
        about: Some(about.clone()),
        cause,
        total: 1,
    }));
    for event in &forward {
        let (name, value) = named(event);
        assert!(!name.is_empty(), "{value}");
    }
}

/// The NATS bridge's events, failures included.
#[cfg(feature = "nats")]
#[test]
fn every_bridge_event_serializes_with_its_name() {
    use jellyfish_notifier::nats::{BridgeEvent, NatsError};
    let stream = "JELLYFISH".to_owned();
    let events = [
        BridgeEvent::Ready,
        BridgeEvent::Retrying {
            error: NatsError::NotConnected,
            queued: 2,
            retry_in: std::time::Duration::from_millis(250),
        },
        BridgeEvent::Dropped { total: 1 },
        BridgeEvent::StreamRecreated {
            stream: stream.clone(),
        },
        BridgeEvent::StreamGone {
            stream: stream.clone(),
            unpublished: 3,
        },
        BridgeEvent::Disconnected {
            server: "n1 (127.0.0.1:4222)".into(),
        },
        BridgeEvent::Reconnected {
            server: "n2 (127.0.0.1:4223)".into(),
        },
        BridgeEvent::LeaderElected {
            stream: stream.clone(),
            leader: "n2".into(),
        },
        BridgeEvent::QuorumLost {
            stream: stream.clone(),
        },
        BridgeEvent::GaveUp {
            attempts: 3,
            error: NatsError::Connect {
                url: "nats://127.0.0.1:4222".into(),
                detail: "refused".into(),
            },
            unpublished: 1,
        },
        BridgeEvent::StreamLimits {
            stream,
            limits: "max_msgs=100".into(),
        },
    ];
    let names: Vec<String> = events
        .iter()
        .map(|event| {
            let value = serde_json::to_value(event).unwrap();
            value["event"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "ready",
            "retrying",
            "dropped",
            "stream_recreated",
            "stream_gone",
            "disconnected",
            "reconnected",
            "leader_elected",
            "quorum_lost",
            "gave_up",
            "stream_limits"
        ]
    );
}
