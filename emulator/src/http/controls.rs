//! `/emulator/…`: the simulated media side and the faults, as the HTTP face of the [`Emulator`]'s
//! methods. The closed sets in a path (`peer|component`, `connect|disconnect`, the faults, …) are
//! enums; a name outside the set answers 404 saying which names exist.
//!
//! [`Emulator`]: crate::Emulator

use std::marker::PhantomData;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::de::{DeserializeOwned, Deserializer, IntoDeserializer, value};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Data;
use super::reply::{Reply, data, json_body};
use crate::error::ActionError;
use crate::shared::{Shared, lock};
use crate::world::{HlsEvent, TrackOwner};
use jellyfish_notifier::Notification;
use jellyfish_notifier::notification::{TrackType, UnknownNotification, VadStatus};

pub(super) fn routes(config: &mut web::ServiceConfig) {
    // In this order: the first pattern that matches wins (`…/peer/{peer}/connect` before
    // `…/{role}/{id}/{presence}`).
    authorized!(
        config,
        [
            (GET, "", identity),
            (POST, "/room/{room}/peer/{peer}/connect", connect_peer),
            (POST, "/room/{room}/peer/{peer}/disconnect", disconnect_peer),
            (POST, "/room/{room}/peer/{peer}/crash", crash_peer),
            (POST, "/room/{room}/peer/{peer}/metadata", peer_metadata),
            (POST, "/room/{room}/{kind}/{owner}/track", add_track),
            (
                DELETE,
                "/room/{room}/{kind}/{owner}/track/{track}",
                remove_track
            ),
            (
                POST,
                "/room/{room}/{kind}/{owner}/track/{track}/metadata",
                track_metadata
            ),
            (POST, "/room/{room}/component", add_component),
            (
                POST,
                "/room/{room}/component/{component}/crash",
                crash_component
            ),
            (POST, "/room/{room}/hls/{event}", hls_event),
            (POST, "/room/{room}/crash", crash_room),
            (
                POST,
                "/room/{room}/{role}/{id}/{presence}",
                livestream_member
            ),
            (
                POST,
                "/room/{room}/peer/{peer}/channel/{channel}/{change}",
                channel
            ),
            (
                POST,
                "/room/{room}/peer/{peer}/track/{track}/vad",
                voice_activity
            ),
            (POST, "/faults/{fault}", fault),
        ]
    );
}

/// `GET /emulator`: says that this server is the emulator (a real one answers 404), and which
/// server it plays, so that a tool can offer the controls.
async fn identity(shared: Data) -> Reply {
    data(
        StatusCode::OK,
        json!({
            "emulator": "jellyfish-emulator",
            "version": env!("CARGO_PKG_VERSION"),
            "server_version": shared.config.version.to_string(),
        }),
    )
}

/// One of a closed set of names in a path.
trait Segment: DeserializeOwned {
    /// The 404 text's start for a name outside the set: `no {WHAT} "name": use {NAMES}`.
    const WHAT: &'static str;
    const NAMES: &'static str;
}

/// A path segment that is one of `T`'s names, or the text that is not. Extracting the path never
/// fails: the handler asks [`Named::known`] when the real server would look (after the body).
struct Named<T> {
    text: String,
    known: PhantomData<T>,
}

impl<'de, T> Deserialize<'de> for Named<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self {
            text: String::deserialize(deserializer)?,
            known: PhantomData,
        })
    }
}

impl<T: Segment> Named<T> {
    fn known(&self) -> Result<T, ActionError> {
        let text: value::StrDeserializer<'_, value::Error> = self.text.as_str().into_deserializer();
        T::deserialize(text).map_err(|_| {
            ActionError::not_found(format!("no {} {:?}: use {}", T::WHAT, self.text, T::NAMES))
        })
    }
}

/// `…/{kind}/{owner}/track…`: whose track.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum OwnerKind {
    Peer,
    Component,
}

impl Segment for OwnerKind {
    const WHAT: &'static str = "such endpoint kind";
    const NAMES: &'static str = "peer or component";
}

/// `…/hls/{event}`.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum HlsKind {
    Playable,
    Uploaded,
    UploadCrashed,
}

impl Segment for HlsKind {
    const WHAT: &'static str = "HLS event";
    const NAMES: &'static str = "playable, uploaded or upload_crashed";
}

/// `…/{role}/{id}/…` of a livestream (Fishjam Cloud).
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Role {
    Streamer,
    Viewer,
}

impl Segment for Role {
    const WHAT: &'static str = "livestream member";
    const NAMES: &'static str = "streamer or viewer";
}

/// `…/{presence}` of a livestream member.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Presence {
    Connect,
    Disconnect,
}

impl Segment for Presence {
    const WHAT: &'static str = "action";
    const NAMES: &'static str = "connect or disconnect";
}

/// `…/channel/{channel}/{change}` (Fishjam Cloud).
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ChannelChange {
    Add,
    Remove,
}

impl Segment for ChannelChange {
    const WHAT: &'static str = "channel action";
    const NAMES: &'static str = "add or remove";
}

/// `/faults/{fault}`.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Fault {
    Drop,
    Close,
    Malformed,
    Unknown,
    Delay,
}

impl Segment for Fault {
    const WHAT: &'static str = "fault";
    const NAMES: &'static str = "drop, close, malformed, unknown or delay";
}

/// Runs a control action with the JSON body parsed: 204 for no result, else `{"data": result}`.
fn control<T: Serialize>(
    shared: &Shared,
    body: &[u8],
    action: impl FnOnce(&Shared, Value) -> Result<T, ActionError>,
) -> Reply {
    let body = json_body(body)?;
    let result = serde_json::to_value(action(shared, body)?).unwrap_or(Value::Null);
    if result.is_null() {
        Ok(HttpResponse::NoContent().finish())
    } else {
        data(StatusCode::OK, result)
    }
}

/// The body's text member `key`, or empty.
fn text(body: &Value, key: &str) -> String {
    body.get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

#[derive(Deserialize)]
struct PeerPath {
    room: String,
    peer: String,
}

async fn connect_peer(path: web::Path<PeerPath>, body: web::Bytes, shared: Data) -> Reply {
    control(&shared, &body, |s, _| {
        s.emit(|w| w.connect_peer(&path.room, &path.peer))
    })
}

async fn disconnect_peer(path: web::Path<PeerPath>, body: web::Bytes, shared: Data) -> Reply {
    control(&shared, &body, |s, _| {
        s.emit(|w| w.disconnect_peer(&path.room, &path.peer))
    })
}

async fn crash_peer(path: web::Path<PeerPath>, body: web::Bytes, shared: Data) -> Reply {
    control(&shared, &body, |s, body| {
        let reason = text(&body, "reason");
        s.emit(|w| w.crash_peer(&path.room, &path.peer, &reason))
    })
}

async fn peer_metadata(path: web::Path<PeerPath>, body: web::Bytes, shared: Data) -> Reply {
    control(&shared, &body, |s, body| {
        s.emit(|w| w.update_peer_metadata(&path.room, &path.peer, body))
    })
}

#[derive(Deserialize)]
struct OwnerPath {
    room: String,
    kind: Named<OwnerKind>,
    owner: String,
}

impl OwnerPath {
    fn owner(&self) -> Result<TrackOwner, ActionError> {
        Ok(match self.kind.known()? {
            OwnerKind::Peer => TrackOwner::Peer(self.owner.as_str().into()),
            OwnerKind::Component => TrackOwner::Component(self.owner.as_str().into()),
        })
    }
}

#[derive(Deserialize)]
struct TrackPath {
    #[serde(flatten)]
    owner: OwnerPath,
    track: String,
}

#[derive(Deserialize)]
struct NewTrack {
    #[serde(rename = "type", default)]
    track_type: Option<String>,
    #[serde(default)]
    metadata: Value,
}

async fn add_track(path: web::Path<OwnerPath>, body: web::Bytes, shared: Data) -> Reply {
    control(&shared, &body, |s, body| {
        let owner = path.owner()?;
        let track: NewTrack = if body.is_null() {
            NewTrack {
                track_type: None,
                metadata: Value::Null,
            }
        } else {
            serde_json::from_value(body)
                .map_err(|err| ActionError::bad_request(format!("Invalid track: {err}")))?
        };
        let track_type = match track.track_type.as_deref() {
            None | Some("video") => TrackType::Video,
            Some("audio") => TrackType::Audio,
            Some(other) => {
                return Err(ActionError::bad_request(format!(
                    "Invalid track type {other:?}: use audio or video"
                )));
            }
        };
        let id = s.act(|w| w.add_track(&path.room, &owner, track_type, track.metadata))?;
        Ok(json!({ "id": id }))
    })
}

async fn remove_track(path: web::Path<TrackPath>, body: web::Bytes, shared: Data) -> Reply {
    control(&shared, &body, |s, _| {
        let owner = path.owner.owner()?;
        s.emit(|w| w.remove_track(&path.owner.room, &owner, &path.track))
    })
}

async fn track_metadata(path: web::Path<TrackPath>, body: web::Bytes, shared: Data) -> Reply {
    control(&shared, &body, |s, body| {
        let owner = path.owner.owner()?;
        s.emit(|w| w.update_track_metadata(&path.owner.room, &owner, &path.track, body))
    })
}

#[derive(Deserialize)]
struct RoomPath {
    room: String,
}

async fn add_component(path: web::Path<RoomPath>, body: web::Bytes, shared: Data) -> Reply {
    control(&shared, &body, |s, body| {
        let kind = text(&body, "type");
        let id = s.act(|w| Ok((w.add_component(&path.room, &kind)?, Vec::new())))?;
        Ok(json!({ "id": id }))
    })
}

#[derive(Deserialize)]
struct ComponentPath {
    room: String,
    component: String,
}

async fn crash_component(path: web::Path<ComponentPath>, body: web::Bytes, shared: Data) -> Reply {
    control(&shared, &body, |s, _| {
        s.emit(|w| w.crash_component(&path.room, &path.component))
    })
}

#[derive(Deserialize)]
struct HlsPath {
    room: String,
    event: Named<HlsKind>,
}

async fn hls_event(path: web::Path<HlsPath>, body: web::Bytes, shared: Data) -> Reply {
    control(&shared, &body, |s, body| {
        let event = match path.event.known()? {
            HlsKind::Playable => HlsEvent::Playable {
                component_id: text(&body, "componentId"),
            },
            HlsKind::Uploaded => HlsEvent::Uploaded,
            HlsKind::UploadCrashed => HlsEvent::UploadCrashed,
        };
        s.emit(|w| w.hls_event(&path.room, &event))
    })
}

async fn crash_room(path: web::Path<RoomPath>, body: web::Bytes, shared: Data) -> Reply {
    control(&shared, &body, |s, _| s.emit(|w| w.crash_room(&path.room)))
}

#[derive(Deserialize)]
struct MemberPath {
    room: String,
    role: Named<Role>,
    id: String,
    presence: Named<Presence>,
}

/// `POST /emulator/room/{room}/streamer|viewer/{id}/connect|disconnect` (Fishjam Cloud).
async fn livestream_member(path: web::Path<MemberPath>, body: web::Bytes, shared: Data) -> Reply {
    control(&shared, &body, |s, _| {
        let connected = matches!(path.presence.known()?, Presence::Connect);
        let (room, id) = (&path.room, &path.id);
        match path.role.known()? {
            Role::Streamer => s.emit(|w| w.streamer(room, id, connected)),
            Role::Viewer => s.emit(|w| w.viewer(room, id, connected)),
        }
    })
}

#[derive(Deserialize)]
struct ChannelPath {
    room: String,
    peer: String,
    channel: String,
    change: Named<ChannelChange>,
}

/// `POST /emulator/room/{room}/peer/{peer}/channel/{channel}/add|remove` (Fishjam Cloud).
async fn channel(path: web::Path<ChannelPath>, body: web::Bytes, shared: Data) -> Reply {
    control(&shared, &body, |s, _| {
        let added = matches!(path.change.known()?, ChannelChange::Add);
        s.emit(|w| w.channel(&path.room, &path.peer, &path.channel, added))
    })
}

#[derive(Deserialize)]
struct VadPath {
    room: String,
    peer: String,
    track: String,
}

/// `POST /emulator/room/{room}/peer/{peer}/track/{track}/vad` `{"status": "speech"|"silence"}`.
async fn voice_activity(path: web::Path<VadPath>, body: web::Bytes, shared: Data) -> Reply {
    control(&shared, &body, |s, body| {
        let status = match body.get("status").and_then(Value::as_str) {
            Some("speech") => VadStatus::Speech,
            Some("silence") => VadStatus::Silence,
            _ => {
                return Err(ActionError::bad_request(
                    "status must be \"speech\" or \"silence\"",
                ));
            }
        };
        s.emit(|w| w.voice_activity(&path.room, &path.peer, &path.track, status))
    })
}

#[derive(Deserialize)]
struct FaultPath {
    fault: Named<Fault>,
}

/// `POST /emulator/faults/{fault}`: answers how many sockets it reached.
async fn fault(path: web::Path<FaultPath>, body: web::Bytes, shared: Data) -> Reply {
    control(&shared, &body, |s, body| {
        let number = |key: &str| body.get(key).and_then(Value::as_u64);
        let sockets = match path.fault.known()? {
            Fault::Drop => s.drop_connections(),
            Fault::Close => {
                let code = number("code")
                    .and_then(|c| u16::try_from(c).ok())
                    .unwrap_or(1011);
                let reason = body.get("reason").and_then(Value::as_str).unwrap_or("");
                s.close_connections(code, reason)
            }
            Fault::Malformed => {
                s.send_malformed();
                lock(&s.sockets).open.len()
            }
            Fault::Unknown => {
                let field = number("field")
                    .and_then(|f| u32::try_from(f).ok())
                    .unwrap_or(99);
                s.push_notification(&Notification::from(UnknownNotification::field(field)));
                lock(&s.sockets).open.len()
            }
            Fault::Delay => {
                s.set_frame_delay(Duration::from_millis(number("ms").unwrap_or(0)));
                lock(&s.sockets).open.len()
            }
        };
        Ok(json!({ "sockets": sockets }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named<T>(text: &str) -> Named<T> {
        Named {
            text: text.to_owned(),
            known: PhantomData,
        }
    }

    #[test]
    fn a_name_outside_the_set_answers_404_with_the_names_that_exist() {
        let err = named::<Fault>("bogus").known().err().unwrap();
        assert_eq!(err.status, 404);
        assert_eq!(
            err.message,
            r#"no fault "bogus": use drop, close, malformed, unknown or delay"#
        );
        let err = named::<OwnerKind>("foo").known().err().unwrap();
        assert_eq!(
            err.message,
            r#"no such endpoint kind "foo": use peer or component"#
        );
    }

    #[test]
    fn names_are_the_snake_case_variants() {
        assert!(matches!(
            named::<HlsKind>("upload_crashed").known(),
            Ok(HlsKind::UploadCrashed)
        ));
        assert!(matches!(named::<Fault>("delay").known(), Ok(Fault::Delay)));
        assert!(named::<Fault>("Delay").known().is_err(), "case matters");
    }
}
