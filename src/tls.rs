//! TLS for `wss://` and `https://` (feature `rustls`): the webpki roots plus any root certificates
//! the application adds, and how a certificate that does not verify is told apart from a network
//! failure (it is final: retrying cannot fix it).

use std::sync::Arc;

use rustls::pki_types::CertificateDer;

/// Root certificates to trust besides the webpki roots (a private CA, a self-signed test server).
#[derive(Clone, Debug, Default)]
pub(crate) struct ExtraRoots(Vec<CertificateDer<'static>>);

impl ExtraRoots {
    pub(crate) fn add(&mut self, der: Vec<u8>) {
        self.0.push(CertificateDer::from(der));
    }

    /// A client configuration: the webpki roots and these, HTTP/1.1 only (a WebSocket upgrade
    /// cannot run over HTTP/2).
    pub(crate) fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, String> {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for (index, certificate) in self.0.iter().enumerate() {
            roots.add(certificate.clone()).map_err(|err| {
                format!("root certificate {index} is not a usable X.509 certificate: {err}")
            })?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| err.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// The certificate error inside a connection error, if the server's certificate did not verify.
pub(crate) fn certificate_error(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut source = Some(err);
    while let Some(err) = source {
        if let Some(rustls::Error::InvalidCertificate(reason)) = err.downcast_ref::<rustls::Error>()
        {
            return Some(reason.to_string());
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(found) = certificate_error(inner)
        {
            return Some(found);
        }
        source = err.source();
    }
    None
}

/// Whether a connection error is rustls reading plain text where a TLS record should be: the
/// server at that port does not speak TLS (a `wss://` or `https://` address for a plain one).
pub(crate) fn plain_text_answer(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(err) = source {
        if let Some(rustls::Error::InvalidMessage(_)) = err.downcast_ref::<rustls::Error>() {
            return true;
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && plain_text_answer(inner)
        {
            return true;
        }
        source = err.source();
    }
    false
}

/// Whether a failed request met a server that does not speak TLS ([`plain_text_answer`]).
pub(crate) fn request_met_plain_text(err: &awc::error::SendRequestError) -> bool {
    match err {
        awc::error::SendRequestError::Connect(awc::error::ConnectError::Io(io)) => {
            plain_text_answer(io)
        }
        _ => false,
    }
}

/// The certificate error behind a failed request, if that is why it failed.
pub(crate) fn request_certificate_error(err: &awc::error::SendRequestError) -> Option<String> {
    match err {
        awc::error::SendRequestError::Connect(awc::error::ConnectError::Io(io)) => {
            certificate_error(io)
        }
        _ => None,
    }
}
