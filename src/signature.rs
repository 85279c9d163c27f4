//! Fishjam Cloud's webhook signature: `x-fishjam-signature-256: sha256=<lowercase hex HMAC-SHA256 of
//! the raw body>`. The open-source server signs nothing; verifying is opt-in.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::control::ApiToken;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "x-fishjam-signature-256";

/// The header value Fishjam Cloud sends for `body`: `sha256=` and the lowercase hex HMAC-SHA256.
///
/// ```
/// use jellyfish_notifier::webhook::{sign_webhook, verify_webhook_signature};
///
/// let signature = sign_webhook("secret", b"body");
/// assert!(signature.starts_with("sha256="));
/// assert!(verify_webhook_signature("secret", b"body", &signature));
/// assert!(!verify_webhook_signature("other", b"body", &signature));
/// ```
///
/// The secret is the same [`ApiToken`] type the webhook config and the forwarder take (a `&str` or
/// `String` converts), so it never shows in `Debug` output.
pub fn sign_webhook(secret: impl Into<ApiToken>, body: &[u8]) -> String {
    sign(&secret.into(), body)
}

/// [`sign_webhook`] without a conversion, for the crate's own senders.
pub(crate) fn sign(secret: &ApiToken, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(
            mac(secret.expose().as_bytes(), body)
                .finalize()
                .into_bytes()
        )
    )
}

/// Whether `header` is a valid signature of `body` under `secret`. The `sha256=` prefix is optional;
/// the comparison takes the same time wherever the signatures differ.
pub fn verify_webhook_signature(secret: impl Into<ApiToken>, body: &[u8], header: &str) -> bool {
    verify(&secret.into(), body, header)
}

/// [`verify_webhook_signature`] without a conversion, for the extractor.
pub(crate) fn verify(secret: &ApiToken, body: &[u8], header: &str) -> bool {
    let hex_digest = header.trim();
    let hex_digest = hex_digest.strip_prefix("sha256=").unwrap_or(hex_digest);
    let Ok(expected) = hex::decode(hex_digest) else {
        return false;
    };
    mac(secret.expose().as_bytes(), body)
        .verify_slice(&expected)
        .is_ok()
}

fn mac(secret: &[u8], body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_4231_test_vector() {
        // RFC 4231 test case 2.
        let signature = sign_webhook("Jefe", b"what do ya want for nothing?");
        assert_eq!(
            signature,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_prefix_is_optional_and_tampering_is_caught() {
        let signature = sign_webhook("k", b"body");
        let bare = signature.trim_start_matches("sha256=");
        assert!(verify_webhook_signature("k", b"body", bare));
        assert!(!verify_webhook_signature("k", b"bodY", &signature));
        assert!(!verify_webhook_signature("k", b"body", "sha256=zz"));
        assert!(!verify_webhook_signature("k", b"body", ""));
        let upper = signature.to_uppercase().replace("SHA256=", "sha256=");
        assert!(
            verify_webhook_signature("k", b"body", &upper),
            "hex case does not matter"
        );
    }
}
