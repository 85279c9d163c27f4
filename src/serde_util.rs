//! How reports serialize what serde has no human shape for: durations as seconds (a number),
//! errors as their message.

use std::fmt::Display;
use std::time::Duration;

use serde::Serializer;

/// A duration as a number of seconds (`0.25`).
pub(crate) fn seconds<S: Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

/// An optional duration as a number of seconds, or `null`.
pub(crate) fn opt_seconds<S: Serializer>(
    duration: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match duration {
        Some(duration) => seconds(duration, serializer),
        None => serializer.serialize_none(),
    }
}

/// A value as its `Display` text.
#[cfg_attr(not(feature = "nats"), allow(dead_code))]
pub(crate) fn display<S: Serializer, T: Display>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// An error in a variant of its own, as `{"error": "<its message>"}`: what an internally tagged
/// enum's newtype variant needs (serde cannot tag a bare string), so that it reads
/// `{"event": "failed", "error": "…"}`.
pub(crate) fn error_field<S: Serializer, T: Display>(
    error: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct as _;
    let mut fields = serializer.serialize_struct("Failed", 1)?;
    fields.serialize_field("error", &format_args!("{error}").to_string())?;
    fields.end()
}
