//! Which ways a connection can end are worth another attempt: a pure function with a table test.

use super::NotifierError;
use crate::control::ServerClose;

/// What to do after a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// Reconnect after the backoff delay.
    Retry,
    /// Stop: retrying cannot help.
    Fatal(NotifierError),
}

/// Classifies a close frame from the server.
///
/// `1000 "invalid token"` means the token is wrong; `1000 "invalid auth request"` and any `1003`
/// mean this client broke the protocol. Retrying cannot fix either, and retrying a wrong token would
/// hammer the server. Every other close (the server restarting, going away, a proxy's 1006, a normal
/// close without those reasons) is retried.
pub(crate) fn classify_close(code: u16, reason: &str) -> Disposition {
    match ServerClose::from_frame(code, reason) {
        ServerClose::InvalidToken => Disposition::Fatal(NotifierError::InvalidToken),
        close if close.is_final() => Disposition::Fatal(NotifierError::Protocol {
            code,
            reason: reason.to_owned(),
        }),
        _ => Disposition::Retry,
    }
}

/// Classifies an HTTP status that refused the WebSocket upgrade.
///
/// Server errors, 408 and 429 are passing conditions and are retried. Any other 4xx (a wrong path,
/// a proxy denying access) and any 1xx–3xx answer (a web page or a redirect: the address is not a
/// WebSocket endpoint) will not change by itself and is fatal.
pub(crate) fn classify_upgrade_status(status: u16) -> Disposition {
    match status {
        408 | 429 => Disposition::Retry,
        100..=499 => Disposition::Fatal(NotifierError::UpgradeRejected { status }),
        _ => Disposition::Retry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_frames_are_classified_as_the_protocol_requires() {
        use Disposition::*;
        let protocol = |code: u16, reason: &str| {
            Fatal(NotifierError::Protocol {
                code,
                reason: reason.to_owned(),
            })
        };
        let table: &[(u16, &str, Disposition)] = &[
            (1000, "invalid token", Fatal(NotifierError::InvalidToken)),
            (
                1000,
                "invalid auth request",
                protocol(1000, "invalid auth request"),
            ),
            (
                1003,
                "operation not allowed",
                protocol(1003, "operation not allowed"),
            ),
            (1003, "", protocol(1003, "")),
            (1000, "", Retry),
            (1000, "bye", Retry),
            (1001, "going away", Retry),
            (1006, "", Retry),
            (1011, "internal error", Retry),
            (1012, "service restart", Retry),
            (4000, "invalid token", Retry),
            (1000, "Invalid Token", Retry),
        ];
        for (code, reason, expected) in table {
            assert_eq!(
                &classify_close(*code, reason),
                expected,
                "{code} {reason:?}"
            );
        }
    }

    #[test]
    fn upgrade_refusals_are_retried_unless_they_cannot_change() {
        let table: &[(u16, bool)] = &[
            (500, true),
            (502, true),
            (503, true),
            (408, true),
            (429, true),
            (400, false),
            (401, false),
            (403, false),
            (404, false),
            (200, false),
            (204, false),
            (301, false),
            (302, false),
        ];
        for (status, retried) in table {
            assert_eq!(
                classify_upgrade_status(*status) == Disposition::Retry,
                *retried,
                "{status}"
            );
        }
    }
}
