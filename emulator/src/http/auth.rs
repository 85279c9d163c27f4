//! The REST API's bearer token, checked once, as a middleware on every route that needs it.

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
use actix_web::{FromRequest, Handler, HttpRequest, Responder, Route, web};

use super::Data;
use crate::error::ActionError;
use jellyfish_notifier::ApiToken;

/// A route whose handler only runs for a request with the server's token; others get 401
/// `{"errors": "Missing token"}` or `{"errors": "Invalid token"}`, as the real server answers.
pub(super) fn authorized<F, Args>(method: actix_web::http::Method, handler: F) -> Route
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    web::method(method).to(handler).wrap(from_fn(require_token))
}

async fn require_token(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let checked = match req.app_data::<Data>() {
        Some(shared) => check_token(req.request(), &shared.token),
        None => Err(ActionError::new(500, "the emulator's state is missing")),
    };
    match checked {
        Ok(()) => next.call(req).await,
        Err(err) => Ok(req.error_response(err)),
    }
}

/// The `Authorization: Bearer <token>` check.
pub(super) fn check_token(req: &HttpRequest, token: &ApiToken) -> Result<(), ActionError> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match header.and_then(|h| h.strip_prefix("Bearer ")) {
        None => Err(ActionError::new(401, "Missing token")),
        Some(given) if token.matches(given.trim()) => Ok(()),
        Some(_) => Err(ActionError::new(401, "Invalid token")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn the_token_check_answers_as_the_real_server() {
        let token = ApiToken::new("development");
        let table: &[(Option<&str>, Result<(), &str>)] = &[
            (None, Err("Missing token")),
            (Some("development"), Err("Missing token")),
            (Some("Bearer wrong"), Err("Invalid token")),
            (Some("Bearer development"), Ok(())),
            (Some("Bearer  development "), Ok(())),
        ];
        for (header, expected) in table {
            let mut req = TestRequest::default();
            if let Some(header) = header {
                req = req.insert_header(("authorization", *header));
            }
            let got = check_token(&req.to_http_request(), &token);
            let expected = expected.map_err(|message| ActionError::new(401, message));
            assert_eq!(got, expected, "{header:?}");
        }
    }
}
