//! Every error response body of serve.md §2.2–§2.3, and the 503 of `minHeight` (beyond.md §3).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use indexer_query::QueryError;
use serde::Serialize;
use utoipa::ToSchema;

/// Where a validated parameter came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Location {
    /// The query string.
    Query,
    /// A path segment (express-validator calls these `params`).
    Params,
    Body,
    Headers,
}

/// One failed parameter check (express-validator's shape).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FieldError {
    /// The raw received value (a string, or an array for a repeated parameter); absent when the
    /// parameter was missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<FieldValue>)]
    pub value: Option<serde_json::Value>,
    pub msg: String,
    pub param: String,
    pub location: Location,
}

/// The schema of [`FieldError::value`]: the value as received, a list for a repeated parameter.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum FieldValue {
    One(String),
    Repeated(Vec<String>),
}

/// `{"errors":[{value?, msg, param, location}]}` (400).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ValidationErrorBody {
    pub errors: Vec<FieldError>,
}

/// `{"errors":[{"msg": "...", "code"?: "..."}]}` (400 semantic, 403, 404, 429, 500, 503).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    pub errors: Vec<ErrorMessage>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorMessage {
    /// `GEOBLOCKED` or `COMPLIANCE_BLOCKED` on 403 only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    pub msg: String,
}

/// `{"error":"Not Found","errorCode":404}`: the body of an unknown route.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteNotFoundBody {
    pub error: &'static str,
    pub error_code: u16,
}

/// The legal text of a compliance block (serve.md §2.3, verbatim).
pub const COMPLIANCE_BLOCKED_TEXT: &str = "Because this address appears to be a resident of, or trading from, a jurisdiction that violates our terms of use, or has engaged in activity that violates our terms of use, this address has been blocked.";
/// The legal text of a geo block (serve.md §2.3, verbatim).
pub const GEOBLOCKED_TEXT: &str = "Because you appear to be a resident of, or trading from, a jurisdiction that violates our terms of use, or have engaged in activity that violates our terms of use, you have been blocked. You may withdraw your funds from the protocol at any time.";

/// Why a request failed.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// Parameter validation (400 with per-parameter entries).
    Validation(Vec<FieldError>),
    /// A semantic parameter error (400 with a message only).
    BadRequest(String),
    NotFound(String),
    ComplianceBlocked,
    Geoblocked,
    TooManyRequests,
    /// A bearer API key that is malformed, forged, expired or uses a refused algorithm (401).
    Unauthorized(String),
    /// `minHeight` is above every database this instance can read (503).
    HeightNotReached {
        requested: i64,
        latest: Option<i64>,
    },
    /// Anything unexpected; the cause is logged, the client sees `Internal Server Error`.
    Internal(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) | ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::ComplianceBlocked | ApiError::Geoblocked => StatusCode::FORBIDDEN,
            ApiError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::HeightNotReached { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn message(code: Option<&'static str>, msg: impl Into<String>) -> ErrorBody {
        ErrorBody {
            errors: vec![ErrorMessage {
                code,
                msg: msg.into(),
            }],
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(error: QueryError) -> Self {
        match error {
            QueryError::NotFound(text) => ApiError::NotFound(text),
            QueryError::InvalidParam(text) => ApiError::BadRequest(text),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match self {
            ApiError::Validation(errors) => {
                (status, Json(ValidationErrorBody { errors })).into_response()
            }
            ApiError::BadRequest(msg) | ApiError::NotFound(msg) => {
                (status, Json(Self::message(None, msg))).into_response()
            }
            ApiError::ComplianceBlocked => (
                status,
                Json(Self::message(
                    Some("COMPLIANCE_BLOCKED"),
                    COMPLIANCE_BLOCKED_TEXT,
                )),
            )
                .into_response(),
            ApiError::Geoblocked => (
                status,
                Json(Self::message(Some("GEOBLOCKED"), GEOBLOCKED_TEXT)),
            )
                .into_response(),
            ApiError::TooManyRequests => {
                (status, Json(Self::message(None, "Too many requests"))).into_response()
            }
            ApiError::Unauthorized(msg) => (
                status,
                [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
                Json(Self::message(None, msg)),
            )
                .into_response(),
            ApiError::HeightNotReached { requested, latest } => {
                let latest_text = latest.map_or("none".to_owned(), |h| h.to_string());
                let mut response = (
                    status,
                    Json(Self::message(
                        None,
                        format!("Height {requested} is not indexed yet (latest: {latest_text})"),
                    )),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                response
            }
            ApiError::Internal(cause) => {
                tracing::error!(error = %cause, "request failed");
                (status, Json(Self::message(None, "Internal Server Error"))).into_response()
            }
        }
    }
}

/// The response of an unknown path or method.
pub fn route_not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(RouteNotFoundBody {
            error: "Not Found",
            error_code: 404,
        }),
    )
        .into_response()
}

/// Documents the two statuses any route can answer: 500 (unexpected failure) and 503
/// (`minHeight` not reached yet, beyond.md §3), both with [`ErrorBody`].
pub struct ServerErrorResponses;

impl utoipa::Modify for ServerErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let response = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("ErrorBody")))
                            .build(),
                    )
                    .build(),
            )
        };
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                responses
                    .entry("500".to_owned())
                    .or_insert_with(|| response("Internal Server Error"));
                responses.entry("503".to_owned()).or_insert_with(|| {
                    response("`minHeight` is not indexed yet (`Height H is not indexed yet (latest: L)`, `Retry-After: 1`)")
                });
            }
        }
    }
}
