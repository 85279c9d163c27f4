//! [`Server`]: where a Jellyfish or Fishjam server is and how to authenticate, from code or from
//! the environment the official SDKs and this crate's CLI read, and the clients made from it.

use crate::control::ApiToken;
use crate::notifier::WsNotifierBuilder;
use crate::room_api::{RoomApi, RoomApiBuilder, RoomApiError};
use crate::{WsNotifier, notifier};

/// A server's address and token, with the `secure` flag for a `host:port` address: what both the
/// notifier and the Room API need, given once.
///
/// [`Server::from_env`] reads the same variables as the `jellyfish-notify` command line: the
/// address from `JF_SERVER_ADDRESS`, else `FISHJAM_URL`, else `FISHJAM_ID` (else
/// `localhost:5002`), the token from `JF_SERVER_API_TOKEN`, else `FISHJAM_MANAGEMENT_TOKEN` (else
/// `development`). Empty variables count as unset. The token never shows in `Debug` output.
///
/// ```no_run
/// use jellyfish_notifier::Server;
///
/// # #[actix::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = Server::from_env();
/// let notifier = server.notifier().start();
/// let rooms = server.room_api()?.list_rooms().await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Server {
    address: String,
    token: ApiToken,
    secure: bool,
}

impl Server {
    /// Where the address comes from in [`Server::from_env`], first set wins.
    pub const ADDRESS_VARIABLES: [&'static str; 3] =
        ["JF_SERVER_ADDRESS", "FISHJAM_URL", "FISHJAM_ID"];
    /// Where the token comes from in [`Server::from_env`], first set wins.
    pub const TOKEN_VARIABLES: [&'static str; 2] =
        ["JF_SERVER_API_TOKEN", "FISHJAM_MANAGEMENT_TOKEN"];
    /// The address when no variable is set: a local Jellyfish.
    pub const DEFAULT_ADDRESS: &'static str = "localhost:5002";
    /// The token when no variable is set: a local Jellyfish's development token.
    pub const DEFAULT_TOKEN: &'static str = "development";

    /// A server at `address` (as [`WsNotifier::start`] takes it) with `token`.
    pub fn new(address: impl Into<String>, token: impl Into<ApiToken>) -> Self {
        Self {
            address: address.into(),
            token: token.into(),
            secure: false,
        }
    }

    /// The server the environment names (see the type's docs for the variables and defaults).
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`Server::from_env`] over any source of variables (a config file, a test's map).
    ///
    /// ```
    /// use jellyfish_notifier::Server;
    ///
    /// let server = Server::from_lookup(|name| match name {
    ///     "FISHJAM_ID" => Some("a1b2c3".to_owned()),
    ///     "FISHJAM_MANAGEMENT_TOKEN" => Some("secret".to_owned()),
    ///     _ => None,
    /// });
    /// assert_eq!(server.address(), "a1b2c3");
    /// assert_eq!(
    ///     server.websocket_url().unwrap(),
    ///     "wss://fishjam.io/api/v1/connect/a1b2c3/socket/server/websocket"
    /// );
    /// assert!(!format!("{server:?}").contains("secret"));
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let first = |names: &[&str]| {
            names
                .iter()
                .find_map(|name| lookup(name).filter(|value| !value.trim().is_empty()))
        };
        Self::new(
            first(&Self::ADDRESS_VARIABLES).unwrap_or_else(|| Self::DEFAULT_ADDRESS.to_owned()),
            first(&Self::TOKEN_VARIABLES).unwrap_or_else(|| Self::DEFAULT_TOKEN.to_owned()),
        )
    }

    /// Another address.
    pub fn with_address(mut self, address: impl Into<String>) -> Self {
        self.address = address.into();
        self
    }

    /// Another token.
    pub fn with_token(mut self, token: impl Into<ApiToken>) -> Self {
        self.token = token.into();
        self
    }

    /// `wss://` and `https://` for a `host:port` address (a URL's scheme wins). Default `false`.
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// The address as given.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The server WebSocket URL the address resolves to.
    pub fn websocket_url(&self) -> Result<String, crate::address::AddressError> {
        notifier::server_websocket_url(self.address.as_str(), self.secure)
    }

    /// A notifier builder for this server.
    pub fn notifier(&self) -> WsNotifierBuilder {
        WsNotifier::builder(self.address.as_str(), self.token.clone()).secure(self.secure)
    }

    /// A Room API builder for this server (for a timeout or a root certificate).
    pub fn room_api_builder(&self) -> RoomApiBuilder {
        RoomApi::builder(self.address.as_str(), self.token.clone()).secure(self.secure)
    }

    /// A Room API client for this server.
    pub fn room_api(&self) -> Result<RoomApi, RoomApiError> {
        self.room_api_builder().build()
    }
}
