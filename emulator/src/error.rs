//! The one error every REST and control action returns: an HTTP status and the server's text.

/// A failed REST or control action: the HTTP status and the server's `errors` text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct ActionError {
    /// The HTTP status the real server answers with.
    pub status: u16,
    /// The server's message.
    pub message: String,
}

impl ActionError {
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }

    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, message)
    }

    pub(crate) fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}
