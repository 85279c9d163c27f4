//! `POST /room`'s body, validated as the server does.

use serde_json::Value;

use jellyfish_notifier::rooms::{RoomConfig, RoomType};

use crate::error::ActionError;

/// Validates `POST /room`'s body as the server does.
pub(super) fn parse_room_config(body: &Value) -> Result<RoomConfig, ActionError> {
    let object = match body {
        Value::Null => return Ok(RoomConfig::default()),
        Value::Object(object) => object,
        _ => return Err(ActionError::bad_request("Invalid request body structure")),
    };
    let field = |name: &str| object.get(name).filter(|v| !v.is_null());
    let positive = |name: &str, message: String| -> Result<Option<u32>, ActionError> {
        match field(name) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .filter(|n| *n >= 1)
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| ActionError::bad_request(message)),
        }
    };
    let max_peers = positive("maxPeers", "maxPeers must be a number".to_owned())?;
    let peerless_purge_timeout = positive(
        "peerlessPurgeTimeout",
        "Expected peerlessPurgeTimeout to be a positive integer, got: ".to_owned()
            + &field("peerlessPurgeTimeout")
                .map(Value::to_string)
                .unwrap_or_default(),
    )?;
    let peer_disconnected_timeout = positive(
        "peerDisconnectedTimeout",
        "Expected peerDisconnectedTimeout to be a positive integer, got: ".to_owned()
            + &field("peerDisconnectedTimeout")
                .map(Value::to_string)
                .unwrap_or_default(),
    )?;
    let video_codec = match field("videoCodec") {
        None => None,
        Some(v) => Some(
            serde_json::from_value(v.clone())
                .map_err(|_| ActionError::bad_request("videoCodec must be 'h264' or 'vp8'"))?,
        ),
    };
    let webhook_url = match field("webhookUrl") {
        None => None,
        Some(v) => Some(
            v.as_str()
                .filter(|url| valid_webhook_url(url))
                .map(str::to_owned)
                .ok_or_else(|| ActionError::bad_request("Expected webhookUrl to be valid URL"))?,
        ),
    };
    let room_id = match field("roomId") {
        None => None,
        Some(Value::String(id)) => Some(id.as_str().into()),
        Some(_) => return Err(ActionError::bad_request("roomId must be a string")),
    };
    let room_type = match field("roomType") {
        None => None,
        Some(v) => match serde_json::from_value::<RoomType>(v.clone()) {
            Ok(RoomType::Other(other)) => {
                return Err(ActionError::bad_request(format!(
                    "Invalid room type: {other}"
                )));
            }
            Ok(known) => Some(known),
            Err(_) => return Err(ActionError::bad_request("roomType must be a string")),
        },
    };
    let flag = |name: &str| -> Result<Option<bool>, ActionError> {
        match field(name) {
            None => Ok(None),
            Some(v) => v
                .as_bool()
                .map(Some)
                .ok_or_else(|| ActionError::bad_request(format!("{name} must be a boolean"))),
        }
    };
    Ok(RoomConfig {
        room_id,
        max_peers,
        video_codec,
        webhook_url,
        peerless_purge_timeout,
        peer_disconnected_timeout,
        room_type,
        public: flag("public")?,
        batch_webhook_notifications: flag("batchWebhookNotifications")?,
    })
}

/// The server requires a scheme, a host and a path.
fn valid_webhook_url(url: &str) -> bool {
    let Ok(uri) = url.parse::<awc::http::Uri>() else {
        return false;
    };
    let has_path = uri.path_and_query().is_some_and(|p| !p.path().is_empty())
        && url
            .split("://")
            .nth(1)
            .is_some_and(|rest| rest.contains('/'));
    matches!(uri.scheme_str(), Some("http" | "https"))
        && uri.host().is_some_and(|h| !h.is_empty())
        && has_path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_need_scheme_host_and_path() {
        let table = [
            ("http://localhost:5003/webhook", true),
            ("https://backend.example.com/jellyfish", true),
            ("http://localhost:5003/", true),
            ("http://localhost:5003", false),
            ("localhost:5003/webhook", false),
            ("ftp://host/path", false),
            ("not a url", false),
            ("", false),
        ];
        for (url, valid) in table {
            assert_eq!(valid_webhook_url(url), valid, "{url}");
        }
    }
}
