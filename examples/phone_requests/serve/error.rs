//! [`ApiError`]: why a request failed, as an HTTP status and a JSON body `{"error": "…"}`. The
//! message says what went wrong and where (the row, the column); it never holds a phone number,
//! a key or a database password.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::AppError;
use crate::model::PHONE_CONTEXT;

/// A failed request.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

/// The JSON body of every error response.
#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

impl ApiError {
    /// `400`: the request itself is wrong (its body, its path, its query); `message` says how.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// `400` for a value the application's checks refused (`input::…`).
    pub fn invalid(error: &AppError) -> Self {
        Self::bad_request(error.to_string())
    }

    /// `404`: no phone request has this id.
    pub fn not_found(id: i32) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: format!("no phone request has id {id}"),
        }
    }

    /// `500`: the stored phone number of row `id` does not decrypt. The body names the row, the
    /// column and the library's reason (unknown key version, tampered, malformed), never the value.
    pub fn undecryptable(id: i32, error: encrypted_field::Error) -> Self {
        let error = error.in_column(PHONE_CONTEXT);
        // The error names the column (`in_column`) and the reason.
        let message = format!("phone request {id}: cannot decrypt: {error}");
        eprintln!("{message}");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message,
        }
    }

    /// `500`: the key ring could not be used (no key, or none to compute a blind index with).
    pub fn keys(action: &str, error: &encrypted_field::Error) -> Self {
        eprintln!("{action}: {error}");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("{action}: {error}"),
        }
    }

    /// `500`: the database failed. The details go to stderr, the client gets what was being done.
    pub fn database(action: &str, error: &AppError) -> Self {
        eprintln!("{action}: {error}");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("{action}: the database failed (the service's log has the details)"),
        }
    }

    /// `503`: no database connection became free in time.
    pub fn busy(error: &impl std::fmt::Display) -> Self {
        eprintln!("waiting for a database connection: {error}");
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "no database connection became free in time; try again".to_owned(),
        }
    }

    /// `500`: the request's work stopped without an answer (a panic in a blocking task).
    pub fn aborted(error: &impl std::fmt::Display) -> Self {
        eprintln!("a request's work stopped: {error}");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "the request's work stopped without an answer".to_owned(),
        }
    }

    /// The status, for tests.
    #[cfg(test)]
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: &self.message,
        };
        (self.status, Json(body)).into_response()
    }
}
