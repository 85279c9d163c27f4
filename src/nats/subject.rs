//! Subjects: where each notification goes in the stream's subject hierarchy.

use std::borrow::Cow;

use super::NO_ROOM;
use crate::notification::Notification;

/// A room id as one subject token: bytes outside `A-Z a-z 0-9 - _` become `%XX`.
///
/// ```
/// use jellyfish_notifier::nats::subject_token;
///
/// assert_eq!(subject_token("lobby-1"), "lobby-1");
/// assert_eq!(subject_token("a.b *>~ %"), "a%2Eb%20%2A%3E%7E%20%25");
/// ```
pub fn subject_token(room_id: &str) -> Cow<'_, str> {
    if !room_id.is_empty() && room_id.bytes().all(plain) {
        return Cow::Borrowed(room_id);
    }
    let mut token = String::with_capacity(room_id.len() * 3);
    push_token(&mut token, room_id);
    Cow::Owned(token)
}

/// Whether a room id's byte stands for itself in a subject token.
fn plain(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'
}

/// Appends [`subject_token`]`(room_id)` to `out`, without a copy of its own.
fn push_token(out: &mut String, room_id: &str) {
    if room_id.is_empty() {
        // An empty room id still needs a token; `%` never starts a plain one.
        out.push('%');
        return;
    }
    for byte in room_id.bytes() {
        if plain(byte) {
            out.push(char::from(byte));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xF)]));
        }
    }
}

/// The subject of a notification: `<prefix>.<room token>.<kind>`, or `<prefix>.~.<kind>`.
pub fn notification_subject(prefix: &str, notification: &Notification) -> String {
    subject_with_token(prefix, notification).0
}

/// [`notification_subject`], and where the room's token lies in it: made in one string, the
/// token escaped straight into it (the bridge makes one per notification it sends).
pub(crate) fn subject_with_token(
    prefix: &str,
    notification: &Notification,
) -> (String, std::ops::Range<usize>) {
    let room = notification.room_id();
    let kind = notification.kind();
    let longest = room.map_or(NO_ROOM.len(), |room| room.len() * 3);
    let mut subject = String::with_capacity(prefix.len() + longest + kind.len() + 2);
    subject.push_str(prefix);
    subject.push('.');
    let start = subject.len();
    match room {
        Some(room) => push_token(&mut subject, room),
        None => subject.push_str(NO_ROOM),
    }
    let token = start..subject.len();
    subject.push('.');
    subject.push_str(kind);
    (subject, token)
}

/// The subject of the notifier's gap messages: `<prefix>.~.gap`.
pub fn gap_subject(prefix: &str) -> String {
    format!("{prefix}.{NO_ROOM}.gap")
}

/// The subject of metrics reports: `<prefix>.metrics`.
pub fn metrics_subject(prefix: &str) -> String {
    format!("{prefix}.metrics")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_tokens_cannot_break_the_subject_hierarchy() {
        for room in ["a.b", "*", ">", "a b", "~", "%41", "tab\there", "ünï"] {
            let token = subject_token(room);
            assert!(
                token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_%".contains(&b)),
                "{room:?} → {token:?}"
            );
            assert_ne!(token, NO_ROOM);
        }
        // Distinct rooms, distinct tokens.
        assert_ne!(subject_token("a.b"), subject_token("a%2Eb"));
        assert_eq!(subject_token(""), "%");
    }
}
