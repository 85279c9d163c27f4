//! Protobuf ↔ typed model: the decoders webhook handlers and the WebSocket client call, the encoders
//! the emulator and the forwarder use, and [`DecodeError`].
//!
//! Nothing here knows about actors or HTTP. Every function is total: any input, including truncated
//! frames, wrong wire types, garbage and huge length prefixes, gives a value or an error, never a
//! panic, and never allocates more than the input's size.

use prost::Message as _;
use prost::encoding::{self, WireType};

use crate::control::{ApiToken, ControlMessage, EventType};
use crate::notification::*;
use crate::proto::{self, server_message as pb};

/// Why bytes or JSON could not be decoded into notifications.
///
/// Every variant is permanent for the input at hand: decoding the same bytes again gives the same
/// error. The WebSocket client logs and skips such a frame; the webhook extractor answers 400.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The bytes are not a protobuf `ServerMessage` (truncated, wrong wire type, bad UTF-8 in a
    /// string, a length prefix past the end, …).
    #[error("not a valid protobuf ServerMessage: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// A valid but empty `ServerMessage`: no content member at all.
    #[error("the ServerMessage is empty: it has no content member")]
    Empty,
    /// A control message (`auth_request`, `authenticated`, `subscribe_request`,
    /// `subscribe_response`) where a notification was expected.
    #[error("expected a notification, got the `{kind}` control message")]
    ControlMessage {
        /// The control message's member name.
        kind: &'static str,
    },
    /// A `metrics_report` where a notification was expected (the server never sends metrics by
    /// webhook).
    #[error(
        "expected a notification, got a `metrics_report` (metrics are only sent over the WebSocket)"
    )]
    MetricsReport,
    /// A `notification_batch` inside a `notification_batch`, which senders must never emit.
    #[error("a `notification_batch` nested inside another `notification_batch`")]
    NestedBatch,
    /// One item of a `notification_batch` is not a notification.
    #[error("item {index} of the notification_batch: {source}")]
    BatchItem {
        /// The item's position, from 0.
        index: usize,
        /// What is wrong with it.
        source: Box<DecodeError>,
    },
    /// One item of a JSON array of notifications (the crate's own JSON shape) is not one.
    #[error("array item {index}: {source}")]
    JsonArrayItem {
        /// The item's position, from 0.
        index: usize,
        /// What is wrong with it.
        source: Box<DecodeError>,
    },
    /// The JSON body is not the v0.3.0 webhook envelope `{"notification": "<protobuf bytes>"}`.
    #[error("not a Jellyfish v0.3 JSON webhook body: {0}")]
    JsonEnvelope(String),
    /// The body is not JSON at all.
    #[error("the body is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Why a value could not be encoded as the server would send it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// [`Notification::Unknown`] with a field number that is not a valid protobuf field or that this
    /// crate knows as another member, so it would not decode back as the same unknown member.
    #[error(
        "cannot encode an unknown member with field number {field}: it must be above {} and at most {}",
        LAST_KNOWN_MEMBER,
        MAX_FIELD_NUMBER
    )]
    UnknownField {
        /// The offending field number.
        field: u32,
    },
    /// [`Notification::Unknown`] that arrived as JSON with a `"type"` this crate does not know: it
    /// has no protobuf field number, so there is nothing to encode.
    #[error(
        "cannot encode the unknown notification type {kind:?}: it arrived as JSON and has no protobuf field number"
    )]
    NoFieldNumber {
        /// Its JSON `"type"`.
        kind: String,
    },
    /// This crate's JSON shape could not be written (a `serde_json` failure; not expected for
    /// any notification this crate builds).
    #[error("cannot write the notification as JSON: {detail}")]
    Json {
        /// `serde_json`'s words.
        detail: String,
    },
    /// The v0.3.0 JSON envelope carries the protobuf bytes as a JSON string, which only works when
    /// they happen to be valid UTF-8; the real v0.3.0 server fails to send such a notification too.
    #[error(
        "the protobuf encoding of this `{kind}` is not valid UTF-8, so the v0.3 JSON envelope cannot carry it"
    )]
    NotUtf8 {
        /// The notification's member name.
        kind: &'static str,
    },
}

/// One decoded `ServerMessage`, whatever it carries.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum DecodedMessage {
    /// One notification.
    Notification(Notification),
    /// A `notification_batch`, unwrapped in order.
    Batch(Vec<Notification>),
    /// A metrics report.
    Metrics(MetricsReport),
    /// A control message.
    Control(ControlMessage),
}

/// The largest field number the content `oneof` uses (from the table of kinds); anything above
/// is a newer member.
pub(crate) const LAST_KNOWN_MEMBER: u32 = {
    let kinds = Notification::KINDS;
    let mut last = 0;
    let mut i = 0;
    while i < kinds.len() {
        if kinds[i].field > last {
            last = kinds[i].field;
        }
        i += 1;
    }
    last
};
const MAX_FIELD_NUMBER: u32 = (1 << 29) - 1;
const BATCH_MEMBER: u32 = 33;

/// Decodes one protobuf `ServerMessage` (a WebSocket frame or a webhook body) into whatever it
/// carries.
///
/// ```
/// use jellyfish_notifier::codec::{decode_server_message, DecodedMessage};
/// use jellyfish_notifier::control::ControlMessage;
///
/// assert_eq!(
///     decode_server_message(&[0x32, 0x00]).unwrap(),
///     DecodedMessage::Control(ControlMessage::Authenticated)
/// );
/// ```
pub fn decode_server_message(bytes: &[u8]) -> Result<DecodedMessage, DecodeError> {
    let message = proto::ServerMessage::decode(bytes)?;
    decode_content(message.content, bytes, true)
}

/// Decodes one protobuf `ServerMessage` that must carry notifications: a v0.4+ webhook body (or a
/// WebSocket frame). A `notification_batch` is unwrapped in order; a control message or a metrics
/// report is an error that says so.
///
/// ```
/// use jellyfish_notifier::{receive_binary, Notification};
/// use jellyfish_notifier::notification::RoomCreated;
///
/// let body = [0x52, 0x07, 0x0a, 0x05, b'r', b'o', b'o', b'm', b'1'];
/// assert_eq!(
///     receive_binary(&body).unwrap(),
///     vec![Notification::from(RoomCreated::new("room1"))]
/// );
/// assert!(receive_binary(&[0x32, 0x00]).is_err()); // `authenticated` is not a notification
/// ```
pub fn receive_binary(body: &[u8]) -> Result<Vec<Notification>, DecodeError> {
    match decode_server_message(body)? {
        DecodedMessage::Notification(notification) => Ok(vec![notification]),
        DecodedMessage::Batch(notifications) => Ok(notifications),
        DecodedMessage::Metrics(_) => Err(DecodeError::MetricsReport),
        DecodedMessage::Control(control) => Err(DecodeError::ControlMessage {
            kind: control.kind(),
        }),
    }
}

/// Decodes a Jellyfish v0.3.0 JSON webhook body, `{"notification": "<ServerMessage bytes as a JSON
/// string>"}`: the string's UTF-8 bytes are the protobuf.
///
/// ```
/// use jellyfish_notifier::{receive_json, Notification};
/// use jellyfish_notifier::notification::RoomCreated;
///
/// let body = serde_json::json!({"notification": "R\u{7}\n\u{5}room1"});
/// assert_eq!(
///     receive_json(&body).unwrap(),
///     vec![Notification::from(RoomCreated::new("room1"))]
/// );
/// ```
pub fn receive_json(body: &serde_json::Value) -> Result<Vec<Notification>, DecodeError> {
    let object = body.as_object().ok_or_else(|| {
        DecodeError::JsonEnvelope(format!("expected an object, got {}", json_kind(body)))
    })?;
    let notification = object.get("notification").ok_or_else(|| {
        DecodeError::JsonEnvelope("the object has no \"notification\" key".to_owned())
    })?;
    let text = notification.as_str().ok_or_else(|| {
        DecodeError::JsonEnvelope(format!(
            "\"notification\" must be a string of protobuf bytes, got {}",
            json_kind(notification)
        ))
    })?;
    receive_binary(text.as_bytes())
}

/// Decodes a JSON webhook body of any shape this crate understands: the v0.3.0 envelope
/// `{"notification": "…"}`, or the crate's own JSON shape as one object or an array of them (what
/// `jellyfish-notify forward --format json` sends).
///
/// ```
/// use jellyfish_notifier::Notification;
/// use jellyfish_notifier::codec::receive_json_body;
/// use jellyfish_notifier::notification::RoomCreated;
///
/// let own = br#"[{"type":"room_created","room_id":"r1"}]"#;
/// assert_eq!(receive_json_body(own).unwrap(), vec![Notification::from(RoomCreated::new("r1"))]);
/// let v03 = br#"{"notification":"R\u0004\n\u0002r1"}"#;
/// assert_eq!(receive_json_body(v03).unwrap(), vec![Notification::from(RoomCreated::new("r1"))]);
/// ```
pub fn receive_json_body(body: &[u8]) -> Result<Vec<Notification>, DecodeError> {
    let value: serde_json::Value = serde_json::from_slice(body)?;
    match &value {
        serde_json::Value::Object(object) if !object.contains_key("type") => receive_json(&value),
        serde_json::Value::Object(_) => Ok(vec![own_shape(value)?]),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                own_shape(item.clone()).map_err(|source| DecodeError::JsonArrayItem {
                    index,
                    source: Box::new(source),
                })
            })
            .collect(),
        other => Err(DecodeError::JsonEnvelope(format!(
            "expected an object or an array of notifications, got {}",
            json_kind(other)
        ))),
    }
}

/// One notification in the crate's JSON shape.
fn own_shape(value: serde_json::Value) -> Result<Notification, DecodeError> {
    if value.get("type").and_then(serde_json::Value::as_str) == Some("metrics_report") {
        return Err(DecodeError::MetricsReport);
    }
    Ok(serde_json::from_value(value)?)
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The Jellyfish v0.3.0 webhook body, for `web::Json<JsonWebhook>` routes.
///
/// Only a v0.3.0 server sends this shape; newer servers POST protobuf, which only the
/// [`Webhook`](crate::Webhook) extractor (or [`receive_binary`]) decodes. Prefer the extractor,
/// which takes every shape.
///
/// ```
/// use jellyfish_notifier::Notification;
/// use jellyfish_notifier::codec::JsonWebhook;
/// use jellyfish_notifier::notification::RoomCreated;
///
/// let room_created = Notification::from(RoomCreated::new("room1"));
/// let body = serde_json::to_string(&JsonWebhook::from_notification(&room_created).unwrap()).unwrap();
/// assert_eq!(body, r#"{"notification":"R\u0007\n\u0005room1"}"#);
///
/// let parsed: JsonWebhook = serde_json::from_str(&body).unwrap();
/// assert_eq!(parsed.notifications().unwrap(), vec![room_created]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JsonWebhook {
    /// The protobuf `ServerMessage` bytes, as a JSON string.
    pub notification: String,
}

impl JsonWebhook {
    /// Decodes the notifications this body carries (the same result as [`receive_json`]).
    pub fn notifications(&self) -> Result<Vec<Notification>, DecodeError> {
        receive_binary(self.notification.as_bytes())
    }

    /// The body a v0.3.0 server sends for a notification.
    pub fn from_notification(notification: &Notification) -> Result<Self, EncodeError> {
        let bytes = notification.encode()?;
        String::from_utf8(bytes)
            .map(|notification| Self { notification })
            .map_err(|_| EncodeError::NotUtf8 {
                kind: notification.kind(),
            })
    }
}

impl Notification {
    /// The exact protobuf bytes the real server sends for this notification.
    ///
    /// Fails only for a hand-made [`Notification::Unknown`] whose field number could not decode
    /// back as an unknown member.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        match notification_to_content(self) {
            Ok(content) => Ok(server_message(content)),
            Err(unknown) => encode_unknown(unknown),
        }
    }
}

/// Encodes notifications as one Fishjam Cloud `notification_batch` `ServerMessage`, in order.
pub fn encode_batch(notifications: &[Notification]) -> Result<Vec<u8>, EncodeError> {
    // Built from each item's own encoding, so unknown members keep their field number.
    let mut items = Vec::new();
    for notification in notifications {
        let item = notification.encode()?;
        encoding::encode_key(1, WireType::LengthDelimited, &mut items);
        encoding::encode_varint(item.len() as u64, &mut items);
        items.extend_from_slice(&item);
    }
    let mut bytes = Vec::with_capacity(items.len() + 8);
    encoding::encode_key(BATCH_MEMBER, WireType::LengthDelimited, &mut bytes);
    encoding::encode_varint(items.len() as u64, &mut bytes);
    bytes.extend_from_slice(&items);
    Ok(bytes)
}

fn encode_unknown(unknown: &UnknownNotification) -> Result<Vec<u8>, EncodeError> {
    let Some(field) = unknown.field else {
        return Err(EncodeError::NoFieldNumber {
            kind: unknown.kind.as_deref().unwrap_or_default().to_owned(),
        });
    };
    if field <= LAST_KNOWN_MEMBER || field > MAX_FIELD_NUMBER {
        return Err(EncodeError::UnknownField { field });
    }
    let mut bytes = Vec::with_capacity(6);
    encoding::encode_key(field, WireType::LengthDelimited, &mut bytes);
    encoding::encode_varint(0, &mut bytes);
    Ok(bytes)
}

impl MetricsReport {
    /// The exact protobuf bytes the real server sends for this report.
    pub fn encode(&self) -> Vec<u8> {
        server_message(pb::Content::MetricsReport(pb::MetricsReport {
            metrics: self.raw().to_owned(),
        }))
    }
}

impl ControlMessage {
    /// The exact protobuf bytes of this control message.
    ///
    /// ```
    /// use jellyfish_notifier::control::{ControlMessage, EventType};
    ///
    /// assert_eq!(ControlMessage::SubscribeRequest(EventType::Metrics).encode(), [0x42, 0x02, 0x08, 0x02]);
    /// ```
    pub fn encode(&self) -> Vec<u8> {
        let content = match self {
            Self::AuthRequest { token } => pb::Content::AuthRequest(pb::AuthRequest {
                token: token.expose().to_owned(),
            }),
            Self::Authenticated => pb::Content::Authenticated(pb::Authenticated {}),
            Self::SubscribeRequest(event_type) => {
                pb::Content::SubscribeRequest(pb::SubscribeRequest {
                    event_type: event_type.to_i32(),
                })
            }
            Self::SubscribeResponse(event_type) => {
                pb::Content::SubscribeResponse(pb::SubscribeResponse {
                    event_type: event_type.to_i32(),
                })
            }
        };
        server_message(content)
    }
}

fn server_message(content: pb::Content) -> Vec<u8> {
    proto::ServerMessage {
        content: Some(content),
    }
    .encode_to_vec()
}

fn decode_content(
    content: Option<pb::Content>,
    bytes: &[u8],
    batch_allowed: bool,
) -> Result<DecodedMessage, DecodeError> {
    let Some(content) = content else {
        return match last_field_number(bytes) {
            Some(field) => Ok(DecodedMessage::Notification(Notification::from(
                UnknownNotification::field(field),
            ))),
            None => Err(DecodeError::Empty),
        };
    };
    match content_to_message(content) {
        Member::Decoded(message) => Ok(message),
        Member::Batch(batch) if batch_allowed => {
            decode_batch(batch, bytes).map(DecodedMessage::Batch)
        }
        Member::Batch(_) => Err(DecodeError::NestedBatch),
    }
}

/// A content member, with the batch left for [`decode_content`] (it needs the raw bytes).
enum Member {
    Decoded(DecodedMessage),
    Batch(pb::NotificationBatch),
}

fn decode_batch(
    batch: pb::NotificationBatch,
    bytes: &[u8],
) -> Result<Vec<Notification>, DecodeError> {
    // prost keeps no trace of an unknown member, so an item without content is re-read from the
    // raw bytes to learn its field number.
    let raw_items: Vec<&[u8]> = if batch.notifications.iter().any(|m| m.content.is_none()) {
        raw_batch_items(bytes)
    } else {
        Vec::new()
    };
    batch
        .notifications
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let raw = raw_items.get(index).copied().unwrap_or_default();
            let wrap = |source| DecodeError::BatchItem {
                index,
                source: Box::new(source),
            };
            match decode_content(item.content, raw, false).map_err(wrap)? {
                DecodedMessage::Notification(notification) => Ok(notification),
                DecodedMessage::Metrics(_) => Err(wrap(DecodeError::MetricsReport)),
                DecodedMessage::Control(control) => Err(wrap(DecodeError::ControlMessage {
                    kind: control.kind(),
                })),
                DecodedMessage::Batch(_) => Err(wrap(DecodeError::NestedBatch)),
            }
        })
        .collect()
}

/// Walks the top-level fields of a message that prost already accepted, yielding each field number
/// and, for length-delimited fields, the payload.
fn top_level_fields(mut buf: &[u8]) -> impl Iterator<Item = (u32, Option<&[u8]>)> {
    std::iter::from_fn(move || {
        if buf.is_empty() {
            return None;
        }
        let (field, wire_type) = encoding::decode_key(&mut buf).ok()?;
        if wire_type == WireType::LengthDelimited {
            let len = usize::try_from(encoding::decode_varint(&mut buf).ok()?).ok()?;
            let payload = buf.get(..len)?;
            buf = &buf[len..];
            Some((field, Some(payload)))
        } else {
            encoding::skip_field(wire_type, field, &mut buf, Default::default()).ok()?;
            Some((field, None))
        }
    })
}

fn last_field_number(bytes: &[u8]) -> Option<u32> {
    top_level_fields(bytes).last().map(|(field, _)| field)
}

fn raw_batch_items(bytes: &[u8]) -> Vec<&[u8]> {
    top_level_fields(bytes)
        .filter_map(|(field, payload)| (field == BATCH_MEMBER).then_some(payload).flatten())
        .flat_map(top_level_fields)
        .filter_map(|(field, payload)| (field == 1).then_some(payload).flatten())
        .collect()
}

/// Conversion between a model field and its prost field `P` (generic, so that the blanket impls
/// for text and number fields do not overlap).
trait Wire<P>: Sized {
    fn from_proto(proto: P) -> Self;
    fn to_proto(&self) -> P;
}

impl<T: TextField> Wire<String> for T {
    fn from_proto(proto: String) -> Self {
        proto.into()
    }
    fn to_proto(&self) -> String {
        self.as_ref().to_owned()
    }
}

/// Protobuf enums are `int32` on the wire; an unknown value is kept.
impl<T: NumberField> Wire<i32> for T {
    fn from_proto(proto: i32) -> Self {
        T::from_wire(proto)
    }
    fn to_proto(&self) -> i32 {
        self.to_wire()
    }
}

impl Wire<Option<proto::Track>> for Option<Track> {
    fn from_proto(proto: Option<proto::Track>) -> Self {
        proto.map(|track| Track {
            id: track.id.into(),
            track_type: TrackType::from_i32(track.r#type),
            metadata: track.metadata.into(),
        })
    }
    fn to_proto(&self) -> Option<proto::Track> {
        self.as_ref().map(|track| proto::Track {
            id: track.id.to_proto(),
            r#type: track.track_type.to_i32(),
            metadata: track.metadata.to_proto(),
        })
    }
}

/// A track notification always carries its track; a server that left it out sent the default one.
impl Wire<Option<proto::Track>> for Track {
    fn from_proto(proto: Option<proto::Track>) -> Self {
        Option::<Track>::from_proto(proto).unwrap_or_default()
    }
    fn to_proto(&self) -> Option<proto::Track> {
        Some(proto::Track {
            id: self.id.to_proto(),
            r#type: self.track_type.to_i32(),
            metadata: self.metadata.to_proto(),
        })
    }
}

/// The codec's arms in both directions, derived from the table of kinds: each payload field
/// converts with [`Wire`]; `endpoint` rows also map their `endpoint_info` oneof.
macro_rules! define_codec {
    ($(
        $(#[$doc:meta])*
        $number:literal $name:literal $variant:ident since $since:ident $(endpoint $module:ident)?
        { $($(#[$fdoc:meta])* $field:ident: $ty:ty,)* }
        [ $($(#[$xdoc:meta])* $xfield:ident: $xty:ty,)* ];
    )*) => {
        /// What a content member carries.
        fn content_to_message(content: pb::Content) -> Member {
            let notification = match content {
                $(pb::Content::$variant(p) => {
                    #[allow(clippy::needless_update, unused_mut)]
                    let mut payload = $variant {
                        $($field: Wire::from_proto(p.$field),)*
                        $($xfield: Wire::from_proto(p.$xfield),)*
                        ..Default::default()
                    };
                    $(payload.endpoint = p.endpoint_info.map(|endpoint| match endpoint {
                        pb::$module::EndpointInfo::PeerId(id) => Endpoint::Peer(id.into()),
                        pb::$module::EndpointInfo::ComponentId(id) => Endpoint::Component(id.into()),
                    });)?
                    Notification::from(payload)
                })*
                pb::Content::Authenticated(_) => return control(ControlMessage::Authenticated),
                pb::Content::AuthRequest(request) => {
                    return control(ControlMessage::AuthRequest { token: ApiToken::new(request.token) });
                }
                pb::Content::SubscribeRequest(request) => {
                    return control(ControlMessage::SubscribeRequest(EventType::from_i32(request.event_type)));
                }
                pb::Content::SubscribeResponse(response) => {
                    return control(ControlMessage::SubscribeResponse(EventType::from_i32(response.event_type)));
                }
                pb::Content::MetricsReport(report) => {
                    return Member::Decoded(DecodedMessage::Metrics(MetricsReport::new(report.metrics)));
                }
                pb::Content::NotificationBatch(batch) => return Member::Batch(batch),
            };
            Member::Decoded(DecodedMessage::Notification(notification))
        }

        /// The content member of a notification, or the unknown one back.
        fn notification_to_content(notification: &Notification) -> Result<pb::Content, &UnknownNotification> {
            Ok(match notification {
                $(Notification::$variant(n) => {
                    #[allow(clippy::needless_update, unused_mut)]
                    let mut message = pb::$variant {
                        $($field: n.$field.to_proto(),)*
                        $($xfield: n.$xfield.to_proto(),)*
                        ..Default::default()
                    };
                    $(message.endpoint_info = n.endpoint.as_ref().map(|endpoint| match endpoint {
                        Endpoint::Peer(id) => pb::$module::EndpointInfo::PeerId(id.to_proto()),
                        Endpoint::Component(id) => pb::$module::EndpointInfo::ComponentId(id.to_proto()),
                    });)?
                    pb::Content::$variant(message)
                })*
                Notification::Unknown(unknown) => return Err(unknown),
            })
        }
    };
}

crate::notification::with_kinds!(define_codec);

fn control(message: ControlMessage) -> Member {
    Member::Decoded(DecodedMessage::Control(message))
}
