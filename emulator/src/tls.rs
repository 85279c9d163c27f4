//! The certificate the emulator serves `https` and `wss` with.

use std::io;
use std::sync::Arc;

/// A certificate chain and its private key, for serving `https` and `wss`.
#[derive(Clone)]
pub(crate) struct TlsIdentity {
    pub(crate) chain: Vec<Vec<u8>>,
    pub(crate) key: Vec<u8>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("certificates", &self.chain.len())
            .field("key", &"<redacted>")
            .finish()
    }
}

impl TlsIdentity {
    /// A rustls server configuration (HTTP/1.1: the WebSocket upgrade needs it).
    pub(crate) fn server_config(&self) -> io::Result<rustls::ServerConfig> {
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
        let chain: Vec<CertificateDer<'static>> = self
            .chain
            .iter()
            .cloned()
            .map(CertificateDer::from)
            .collect();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|err| io::Error::other(format!("the emulator's TLS certificate: {err}")))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}
