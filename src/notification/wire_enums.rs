//! The protobuf enums ([`TrackType`], [`PeerType`], [`VadStatus`], [`RecordingStatus`]): each keeps
//! values it does not know, so a newer server never fails decoding.

use std::fmt;

use serde::de;

/// Defines a protobuf enum as a Rust enum that keeps values it does not know (`Unknown(n)`), so a
/// newer server never fails decoding and re-encoding gives the same bytes.
macro_rules! wire_enum {
    (
        $(#[$doc:meta])*
        $name:ident { $($(#[$vdoc:meta])* $variant:ident = $num:literal, $json:literal;)* }
    ) => {
        $(#[$doc])*
        ///
        /// Serializes as its lowercase short name; a value this crate does not know serializes as
        /// the bare number and is kept as `Unknown(n)`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
            /// A value this version of the crate does not know, kept as sent.
            Unknown(i32),
        }

        impl $name {
            /// The enum for a wire value.
            pub const fn from_i32(value: i32) -> Self {
                match value {
                    $($num => Self::$variant,)*
                    other => Self::Unknown(other),
                }
            }

            /// The wire value.
            pub const fn to_i32(self) -> i32 {
                match self {
                    $(Self::$variant => $num,)*
                    Self::Unknown(other) => other,
                }
            }

            /// The lowercase short name used in the JSON shape, or `None` for `Unknown`.
            pub const fn name(self) -> Option<&'static str> {
                match self {
                    $(Self::$variant => Some($json),)*
                    Self::Unknown(_) => None,
                }
            }

            fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($json => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::from_i32(0)
            }
        }

        impl crate::notification::NumberField for $name {
            fn from_wire(value: i32) -> Self {
                Self::from_i32(value)
            }
            fn to_wire(self) -> i32 {
                self.to_i32()
            }
        }

        impl From<i32> for $name {
            fn from(value: i32) -> Self {
                Self::from_i32(value)
            }
        }

        impl From<$name> for i32 {
            fn from(value: $name) -> i32 {
                value.to_i32()
            }
        }

        /// Parses the short name (`"video"`) or the wire number (`"1"`).
        impl std::str::FromStr for $name {
            type Err = crate::notification::wire_enums::ParseNameError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                const NAMES: &[&str] = &[$($json),*];
                Self::from_name(text)
                    .or_else(|| text.parse::<i32>().ok().map(Self::from_i32))
                    .ok_or_else(|| crate::notification::wire_enums::ParseNameError {
                        expecting: stringify!($name),
                        names: NAMES,
                        given: text.to_owned(),
                    })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self.name() {
                    Some(name) => f.write_str(name),
                    None => write!(f, "{}", self.to_i32()),
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self.name() {
                    Some(name) => serializer.serialize_str(name),
                    None => serializer.serialize_i32(self.to_i32()),
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                const NAMES: &[&str] = &[$($json),*];
                deserializer.deserialize_any(crate::notification::wire_enums::WireEnumVisitor {
                    expecting: stringify!($name),
                    names: NAMES,
                    from_name: Self::from_name,
                    from_i32: Self::from_i32,
                })
            }
        }
    };
}
pub(crate) use wire_enum;

/// A name that is none of an enum's short names, from `FromStr` on [`TrackType`], [`PeerType`], ….
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{given:?} is not a {expecting}: expected one of {names:?} or a wire number")]
pub struct ParseNameError {
    pub(crate) expecting: &'static str,
    pub(crate) names: &'static [&'static str],
    pub(crate) given: String,
}

/// Shared visitor behind every `wire_enum!`: a short name or a wire number.
pub(crate) struct WireEnumVisitor<T> {
    pub(crate) expecting: &'static str,
    pub(crate) names: &'static [&'static str],
    pub(crate) from_name: fn(&str) -> Option<T>,
    pub(crate) from_i32: fn(i32) -> T,
}

impl<T> de::Visitor<'_> for WireEnumVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {} name or wire number", self.expecting)
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<T, E> {
        (self.from_name)(name).ok_or_else(|| de::Error::unknown_variant(name, self.names))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<T, E> {
        i32::try_from(value)
            .map(self.from_i32)
            .map_err(|_| de::Error::invalid_value(de::Unexpected::Signed(value), &self))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<T, E> {
        i32::try_from(value)
            .map(self.from_i32)
            .map_err(|_| de::Error::invalid_value(de::Unexpected::Unsigned(value), &self))
    }
}

wire_enum! {
    /// The kind of a media track.
    TrackType {
        /// The server did not say.
        Unspecified = 0, "unspecified";
        /// A video track.
        Video = 1, "video";
        /// An audio track.
        Audio = 2, "audio";
    }
}

wire_enum! {
    /// The kind of a peer. Only Fishjam Cloud sets it; Jellyfish servers always send `Unspecified`.
    PeerType {
        /// Not set (every Jellyfish server).
        Unspecified = 0, "unspecified";
        /// A WebRTC peer.
        Webrtc = 1, "webrtc";
        /// An agent peer.
        Agent = 2, "agent";
        /// A VAPI peer.
        Vapi = 3, "vapi";
    }
}

wire_enum! {
    /// Voice activity on a track (Fishjam Cloud).
    VadStatus {
        /// Not set.
        Unspecified = 0, "unspecified";
        /// The speaker went silent.
        Silence = 1, "silence";
        /// The speaker started speaking.
        Speech = 2, "speech";
    }
}

wire_enum! {
    /// State of a recording (Fishjam Cloud).
    RecordingStatus {
        /// Not set.
        Unspecified = 0, "unspecified";
        /// Recording is in progress.
        Active = 1, "active";
        /// Recording has finished.
        Finished = 2, "finished";
        /// The recording is available for download.
        Available = 3, "available";
        /// Recording failed.
        Failed = 4, "failed";
    }
}
