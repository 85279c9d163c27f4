//! [`ForwardTarget`]: where a forwarder POSTs, parsed once at the builder, so the rest of the
//! forwarder cannot hold an address it could never reach.

use std::fmt;
use std::str::FromStr;

use awc::http::Uri;

/// An `http://` (or, with the `rustls` feature, `https://`) URL with a host and a valid port:
/// what [`WebhookForwarder::builder`](super::WebhookForwarder::builder) takes.
///
/// ```
/// use jellyfish_notifier::forward::{ForwardTarget, TargetError};
///
/// let target: ForwardTarget = "http://127.0.0.1:8080/webhook".parse().unwrap();
/// assert_eq!(target.as_str(), "http://127.0.0.1:8080/webhook");
/// assert!(matches!("http://".parse::<ForwardTarget>(), Err(TargetError::Invalid { .. } | TargetError::NoHost { .. })));
/// assert!(matches!("http://127.0.0.1:99999/".parse::<ForwardTarget>(), Err(TargetError::Port { .. })));
/// assert!(matches!("ftp://host/".parse::<ForwardTarget>(), Err(TargetError::Scheme { .. })));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardTarget {
    uri: Uri,
    text: String,
}

/// Why a forward target is not one: each names the URL given.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// Not a URL at all.
    #[error("{url:?} is not a URL: {source}")]
    Invalid {
        /// What was given.
        url: String,
        /// Why it does not parse.
        #[source]
        source: InvalidUri,
    },
    /// A scheme other than `http` or `https` (or none).
    #[error("{url:?} must start with http:// or https://")]
    Scheme {
        /// What was given.
        url: String,
    },
    /// No host to connect to.
    #[error("{url:?} has no host")]
    NoHost {
        /// What was given.
        url: String,
    },
    /// A port that is not a number from 1 to 65535.
    #[error("{url:?} has port {port:?}, not a number from 1 to 65535")]
    Port {
        /// What was given.
        url: String,
        /// The port as written.
        port: String,
    },
    /// `https://`, and this build has no TLS (enable the `rustls` feature).
    #[error("{url:?} is https://, and this build has no TLS (enable the `rustls` feature)")]
    TlsUnavailable {
        /// What was given.
        url: String,
    },
}

/// Why a text is not a URL, in the HTTP library's words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidUri(String);

impl ForwardTarget {
    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The parsed URL.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }
}

impl fmt::Display for ForwardTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for ForwardTarget {
    type Err = TargetError;

    fn from_str(url: &str) -> Result<Self, TargetError> {
        let owned = || url.to_owned();
        if !url.contains("://") {
            return Err(TargetError::Scheme { url: owned() });
        }
        let uri: Uri =
            url.parse()
                .map_err(|error: awc::http::uri::InvalidUri| TargetError::Invalid {
                    url: owned(),
                    source: InvalidUri(error.to_string()),
                })?;
        match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("http") => {}
            Some("https") if cfg!(feature = "rustls") => {}
            Some("https") => return Err(TargetError::TlsUnavailable { url: owned() }),
            _ => return Err(TargetError::Scheme { url: owned() }),
        }
        let Some(authority) = uri.authority() else {
            return Err(TargetError::NoHost { url: owned() });
        };
        if authority.host().is_empty() {
            return Err(TargetError::NoHost { url: owned() });
        }
        // The HTTP library takes a port it cannot read (`:99999`) as no port at all: read it here.
        if let Some(port) = port_text(authority.as_str())
            && !port.parse::<u16>().is_ok_and(|port| port != 0)
        {
            return Err(TargetError::Port {
                url: owned(),
                port: port.to_owned(),
            });
        }
        Ok(Self { uri, text: owned() })
    }
}

/// The port of an authority (`user@host:port`, `[::1]:port`) as written, if it has one.
fn port_text(authority: &str) -> Option<&str> {
    let host_and_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, rest)| rest);
    let after_host = match host_and_port.strip_prefix('[') {
        Some(bracketed) => &bracketed[bracketed.find(']')? + 1..],
        None => &host_and_port[host_and_port.find(':')?..],
    };
    after_host.strip_prefix(':')
}

impl TryFrom<&str> for ForwardTarget {
    type Error = TargetError;
    fn try_from(url: &str) -> Result<Self, TargetError> {
        url.parse()
    }
}

impl TryFrom<String> for ForwardTarget {
    type Error = TargetError;
    fn try_from(url: String) -> Result<Self, TargetError> {
        url.parse()
    }
}

impl TryFrom<&String> for ForwardTarget {
    type Error = TargetError;
    fn try_from(url: &String) -> Result<Self, TargetError> {
        url.parse()
    }
}

impl From<std::convert::Infallible> for TargetError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (what is given, whether it is a target, or which error).
    #[test]
    fn targets_parse_as_the_table_says() {
        let table: &[(&str, Result<&str, &str>)] = &[
            (
                "http://127.0.0.1:8080/webhook",
                Ok("http://127.0.0.1:8080/webhook"),
            ),
            ("http://localhost/hook?x=1", Ok("http://localhost/hook?x=1")),
            ("HTTP://localhost:80/", Ok("HTTP://localhost:80/")),
            ("http://[::1]:9000/", Ok("http://[::1]:9000/")),
            ("http://", Err("invalid")),
            ("http:///path", Err("invalid")),
            ("http://127.0.0.1:99999/", Err("port")),
            ("http://127.0.0.1:0/", Err("port")),
            ("http://127.0.0.1:/", Err("port")),
            ("http://[::1]:70000/", Err("port")),
            ("http://user:pw@host:8080/", Ok("http://user:pw@host:8080/")),
            ("ftp://host/", Err("scheme")),
            ("localhost:8080/hook", Err("scheme")),
            ("/webhook", Err("scheme")),
            ("", Err("scheme")),
            ("http://exa mple/", Err("invalid")),
        ];
        for (given, expected) in table {
            let parsed = given.parse::<ForwardTarget>();
            let got = match &parsed {
                Ok(target) => Ok(target.as_str()),
                Err(TargetError::Invalid { .. }) => Err("invalid"),
                Err(TargetError::Scheme { .. }) => Err("scheme"),
                Err(TargetError::NoHost { .. }) => Err("no host"),
                Err(TargetError::Port { .. }) => Err("port"),
                Err(TargetError::TlsUnavailable { .. }) => Err("tls"),
            };
            assert_eq!(got, *expected, "{given:?}: {parsed:?}");
            if let Err(error) = parsed {
                assert!(error.to_string().contains(&format!("{given:?}")), "{error}");
            }
        }
        let https = "https://example.com/hook".parse::<ForwardTarget>();
        if cfg!(feature = "rustls") {
            assert!(https.is_ok());
        } else {
            assert!(matches!(https, Err(TargetError::TlsUnavailable { .. })));
        }
    }
}
