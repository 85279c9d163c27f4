//! How every route answers: `{"data": …}`, 204, or the real server's `{"errors": …}`.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde_json::Value;

use crate::error::ActionError;
use jellyfish_notifier::rooms::{DataResponse, ErrorResponse};

pub(super) type Reply = Result<HttpResponse, ActionError>;

pub(super) fn error(status: u16, message: impl Into<String>) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST)).json(
        ErrorResponse {
            errors: message.into(),
        },
    )
}

/// Answers as the real server does: the status and `{"errors": "…"}`.
impl actix_web::ResponseError for ActionError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST)
    }

    fn error_response(&self) -> HttpResponse {
        error(self.status, self.message.clone())
    }
}

/// Parses an optional JSON body; an empty body is `null`.
pub(super) fn json_body(body: &[u8]) -> Result<Value, ActionError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body)
        .map_err(|_| ActionError::bad_request("Invalid request body structure"))
}

pub(super) fn data<T: serde::Serialize>(status: StatusCode, data: T) -> Reply {
    Ok(HttpResponse::build(status).json(DataResponse { data }))
}

pub(super) fn no_content(result: Result<(), ActionError>) -> Reply {
    result.map(|()| HttpResponse::NoContent().finish())
}
