//! Server addresses as users give them: `host:port` with a `secure` flag (as the official SDKs take
//! them) or a full base URL whose path prefix is kept.

/// The path of the server notification WebSocket.
pub const SERVER_WEBSOCKET_PATH: &str = "/socket/server/websocket";

/// A server address that cannot be used: the address as given and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid server address {address:?}: {problem}")]
pub struct AddressError {
    address: String,
    problem: AddressProblem,
}

impl AddressError {
    /// The address as given.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// What is wrong with it.
    pub fn problem(&self) -> &AddressProblem {
        &self.problem
    }
}

/// What is wrong with a server address. Fixing the address is the only remedy: retrying never helps.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressProblem {
    /// A scheme other than `ws`, `wss`, `http` or `https`.
    #[error("the scheme must be ws, wss, http or https")]
    Scheme,
    /// Nothing before the path.
    #[error("it has no host")]
    NoHost,
    /// `user:password@host`: the server authenticates with the API token instead.
    #[error("credentials in the address are not supported; use the token")]
    Credentials,
    /// A port that is not a number from 0 to 65535.
    #[error("the port must be a number from 0 to 65535")]
    Port,
    /// A `?query` or `#fragment`.
    #[error("the address takes no query string or fragment")]
    QueryOrFragment,
    /// The URL built from it does not parse (a character a URL cannot hold, …).
    #[error("{0}")]
    Url(String),
}

/// A parsed server address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ServerAddress {
    /// The word, when the address was a bare word taken as a Fishjam ID.
    fishjam_id: Option<String>,
    secure: bool,
    authority: String,
    /// The path prefix, without a trailing slash (empty for none).
    prefix: String,
}

impl ServerAddress {
    /// Parses a bare Fishjam ID, `host:port`, `[v6]:port`, or a `ws://`, `wss://`, `http://` or
    /// `https://` base URL (a scheme in the address wins over `secure`).
    pub(crate) fn parse(address: &str, secure: bool) -> Result<Self, AddressError> {
        let invalid = |problem: AddressProblem| AddressError {
            address: address.to_owned(),
            problem,
        };
        let trimmed = address.trim();
        if is_fishjam_id(trimmed) {
            // As the official SDKs resolve an ID (`get_fishjam_url` / `getFishjamUrl`).
            return Ok(Self {
                fishjam_id: Some(trimmed.to_owned()),
                secure: true,
                authority: FISHJAM_CLOUD_HOST.to_owned(),
                prefix: format!("{FISHJAM_CLOUD_CONNECT_PATH}/{trimmed}"),
            });
        }
        let (secure, rest) = match trimmed.split_once("://") {
            Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
                "ws" | "http" => (false, rest),
                "wss" | "https" => (true, rest),
                _ => return Err(invalid(AddressProblem::Scheme)),
            },
            None => (secure, trimmed),
        };
        let (authority, path) = match rest.find('/') {
            Some(slash) => rest.split_at(slash),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(invalid(AddressProblem::NoHost));
        }
        if authority.contains('@') {
            return Err(invalid(AddressProblem::Credentials));
        }
        if let Some(port) = port_of(authority)
            && port.parse::<u16>().is_err()
        {
            return Err(invalid(AddressProblem::Port));
        }
        if path.contains(['?', '#']) {
            return Err(invalid(AddressProblem::QueryOrFragment));
        }
        let path = path.trim_end_matches('/');
        let prefix = path.strip_suffix(SERVER_WEBSOCKET_PATH).unwrap_or(path);
        let parsed = Self {
            fishjam_id: None,
            secure,
            authority: authority.to_owned(),
            prefix: prefix.to_owned(),
        };
        parsed
            .websocket_url()
            .parse::<awc::http::Uri>()
            .map_err(|err| invalid(AddressProblem::Url(err.to_string())))?;
        Ok(parsed)
    }

    /// How this address was read, when a bare word was taken as a Fishjam ID: what errors about
    /// it must say, since a compose service or host name without a port reads the same way.
    pub(crate) fn as_fishjam_id(&self) -> Option<FishjamIdAddress> {
        self.fishjam_id.as_ref().map(|id| FishjamIdAddress {
            id: id.clone(),
            url: self.http_url(""),
        })
    }

    /// The host (the authority without its port).
    #[cfg_attr(not(feature = "rustls"), allow(dead_code))]
    pub(crate) fn host(&self) -> &str {
        match self.authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(v6),
            None => self
                .authority
                .rsplit_once(':')
                .map_or(self.authority.as_str(), |(host, _)| host),
        }
    }

    /// `ws(s)://authority/prefix/socket/server/websocket`.
    pub(crate) fn websocket_url(&self) -> String {
        let scheme = if self.secure { "wss" } else { "ws" };
        format!(
            "{scheme}://{}{}{SERVER_WEBSOCKET_PATH}",
            self.authority, self.prefix
        )
    }

    /// `http(s)://authority/prefix` followed by `path` (which starts with `/`).
    pub(crate) fn http_url(&self, path: &str) -> String {
        let scheme = if self.secure { "https" } else { "http" };
        format!("{scheme}://{}{}{path}", self.authority, self.prefix)
    }
}

/// A bare word that was taken as a Fishjam ID, as errors about it show it: the word, the URL it
/// became, and how to give a host of that name instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FishjamIdAddress {
    /// The word as given.
    pub id: String,
    /// The Fishjam Cloud URL it became.
    pub url: String,
}

impl std::fmt::Display for FishjamIdAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let id = &self.id;
        write!(
            f,
            "{id:?} was taken as a Fishjam ID, so the address is {}; for a host of that name give a port or a scheme ({id}:5002 or http://{id})",
            self.url
        )
    }
}

/// Where Fishjam Cloud serves a Fishjam ID: `https://fishjam.io/api/v1/connect/{id}`.
pub(crate) const FISHJAM_CLOUD_HOST: &str = "fishjam.io";
const FISHJAM_CLOUD_CONNECT_PATH: &str = "/api/v1/connect";

/// A Fishjam ID as the Cloud dashboard shows it: one word of letters, digits, `-` and `_`. A host
/// needs a dot, a port or a scheme to be told apart (`localhost` is always a host): the official
/// SDKs take any string without a scheme for an ID, which would make `localhost:5002` one.
fn is_fishjam_id(text: &str) -> bool {
    !text.is_empty()
        && !text.eq_ignore_ascii_case("localhost")
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The port part of `host:port` or `[v6]:port`, if there is one.
fn port_of(authority: &str) -> Option<&str> {
    match authority.strip_prefix('[') {
        Some(v6) => v6.split_once(']')?.1.strip_prefix(':'),
        None => authority.rsplit_once(':').map(|(_, port)| port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_word_taken_as_a_fishjam_id_says_so_and_how_to_give_a_host() {
        let address = ServerAddress::parse("jellyfish", false).unwrap();
        let note = address
            .as_fishjam_id()
            .expect("taken as a Fishjam ID")
            .to_string();
        assert_eq!(
            note,
            "\"jellyfish\" was taken as a Fishjam ID, so the address is \
             https://fishjam.io/api/v1/connect/jellyfish; for a host of that name give a port or a \
             scheme (jellyfish:5002 or http://jellyfish)"
        );
        for host in [
            "jellyfish:5002",
            "http://jellyfish",
            "localhost",
            "jelly.fish",
        ] {
            let address = ServerAddress::parse(host, false).unwrap();
            assert_eq!(address.as_fishjam_id(), None, "{host}");
        }
    }

    #[test]
    fn a_bare_fishjam_id_resolves_as_the_official_sdks_do() {
        let table: &[(&str, &str, &str)] = &[
            (
                "a1b2c3d4e5f6",
                "wss://fishjam.io/api/v1/connect/a1b2c3d4e5f6/socket/server/websocket",
                "https://fishjam.io/api/v1/connect/a1b2c3d4e5f6/room",
            ),
            (
                " 0123-abcd_EF ",
                "wss://fishjam.io/api/v1/connect/0123-abcd_EF/socket/server/websocket",
                "https://fishjam.io/api/v1/connect/0123-abcd_EF/room",
            ),
            // A full Cloud URL keeps its prefix, trailing slash or not.
            (
                "https://fishjam.io/api/v1/connect/a1b2c3d4e5f6/",
                "wss://fishjam.io/api/v1/connect/a1b2c3d4e5f6/socket/server/websocket",
                "https://fishjam.io/api/v1/connect/a1b2c3d4e5f6/room",
            ),
            // Hosts stay hosts.
            (
                "localhost",
                "ws://localhost/socket/server/websocket",
                "http://localhost/room",
            ),
            (
                "localhost:5002",
                "ws://localhost:5002/socket/server/websocket",
                "http://localhost:5002/room",
            ),
            (
                "jellyfish.example.com",
                "ws://jellyfish.example.com/socket/server/websocket",
                "http://jellyfish.example.com/room",
            ),
        ];
        for (address, websocket, rest) in table {
            let parsed = ServerAddress::parse(address, false).unwrap();
            assert_eq!(parsed.websocket_url(), *websocket, "{address}");
            assert_eq!(parsed.http_url("/room"), *rest, "{address}");
        }
    }

    #[test]
    fn rest_urls_keep_the_prefix_and_follow_the_scheme() {
        let address =
            ServerAddress::parse("https://fishjam.io/api/v1/connect/abc/", false).unwrap();
        assert_eq!(
            address.http_url("/room"),
            "https://fishjam.io/api/v1/connect/abc/room"
        );
        let address = ServerAddress::parse("localhost:5002", true).unwrap();
        assert_eq!(
            address.http_url("/room/r1"),
            "https://localhost:5002/room/r1"
        );
    }
}
