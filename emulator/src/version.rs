//! Which server release the emulator behaves as.

use std::fmt;
use std::str::FromStr;

use jellyfish_notifier::Notification;
use jellyfish_notifier::notification::ServerRelease;

/// Which server release the emulator behaves as. It decides which notifications exist and the
/// webhook body format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ServerVersion {
    /// Jellyfish v0.3.0: members 1–15, JSON webhooks (`{"notification": "<protobuf bytes>"}`).
    V0_3,
    /// Jellyfish v0.4: adds track and peer-metadata notifications; protobuf webhooks.
    V0_4,
    /// Jellyfish v0.5.0: adds `peer_added`, `peer_deleted` and `peer_crashed.reason`.
    #[default]
    V0_5,
    /// Fishjam Cloud: every member up to 34 with `peer_type`, agent and VAPI peers, livestreams,
    /// channels, voice activity, track forwarding and recordings; the Cloud REST shapes and routes
    /// (also under `/api/v1/connect/{fishjam_id}`); batched webhooks for rooms that ask; no metrics
    /// (a `subscribe_request` for them drops the connection, as Cloud's socket process crashes on
    /// an event type it does not know).
    Cloud,
}

impl ServerVersion {
    /// The version string the health endpoint reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V0_3 => "0.3.0",
            Self::V0_4 => "0.4.2",
            Self::V0_5 => "0.5.0",
            Self::Cloud => "cloud",
        }
    }

    /// Whether this is Fishjam Cloud.
    pub fn is_cloud(self) -> bool {
        self == Self::Cloud
    }

    /// Whether this release has the notification at all.
    pub fn emits(self, notification: &Notification) -> bool {
        notification
            .since()
            .is_some_and(|since| since <= self.release())
    }

    /// The release whose notifications this version sends.
    pub fn release(self) -> ServerRelease {
        match self {
            Self::V0_3 => ServerRelease::Jellyfish0_3,
            Self::V0_4 => ServerRelease::Jellyfish0_4,
            Self::V0_5 => ServerRelease::Jellyfish0_5,
            Self::Cloud => ServerRelease::FishjamCloud,
        }
    }

    /// Whether webhook bodies are the v0.3.0 JSON envelope (else raw protobuf).
    pub fn json_webhooks(self) -> bool {
        self == Self::V0_3
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A server version the emulator does not speak: [`ServerVersion`]'s `FromStr` error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unsupported server version {given:?}: expected 0.3, 0.4, 0.5 or cloud")]
pub struct ParseVersionError {
    /// What was given (without a leading `v`).
    pub given: String,
}

impl FromStr for ServerVersion {
    type Err = ParseVersionError;

    /// Accepts `0.3`, `0.4`, `0.5`, with or without a patch number or a leading `v`, and `cloud`.
    fn from_str(text: &str) -> Result<Self, ParseVersionError> {
        if ["cloud", "fishjam-cloud", "fishjam"].contains(&text.to_ascii_lowercase().as_str()) {
            return Ok(Self::Cloud);
        }
        let text = text.strip_prefix('v').unwrap_or(text);
        let mut parts = text.split('.');
        match (parts.next(), parts.next()) {
            (Some("0"), Some("3")) => Ok(Self::V0_3),
            (Some("0"), Some("4")) => Ok(Self::V0_4),
            (Some("0"), Some("5")) => Ok(Self::V0_5),
            _ => Err(ParseVersionError {
                given: text.to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_an_unknown_one_is_a_typed_error_naming_it() {
        for (text, version) in [
            ("0.3", ServerVersion::V0_3),
            ("v0.4.2", ServerVersion::V0_4),
            ("0.5.0", ServerVersion::V0_5),
            ("Cloud", ServerVersion::Cloud),
        ] {
            assert_eq!(text.parse::<ServerVersion>(), Ok(version), "{text}");
        }
        let error = "v9.9".parse::<ServerVersion>().unwrap_err();
        assert_eq!(
            error,
            ParseVersionError {
                given: "9.9".to_owned()
            }
        );
        assert_eq!(
            error.to_string(),
            "unsupported server version \"9.9\": expected 0.3, 0.4, 0.5 or cloud"
        );
    }
}
