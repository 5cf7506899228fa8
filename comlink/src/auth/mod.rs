//! Who is calling: bot API keys (JWT bearer tokens that lift rate limits, [`jwt`]) and wallet
//! signatures on the P2 POSTs ([`wallet`]).

pub mod jwt;
pub mod wallet;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use crate::error::ApiError;
use crate::state::AppState;

pub use jwt::{ApiKey, JwtSettings, TokenError};

/// Middleware: when API keys are configured and the request carries `Authorization: Bearer
/// <jwt>`, verifies the token and records its [`ApiKey`] for the rate limiter; a bad token is
/// a 401. Without configured keys (or without a bearer token) the request passes untouched.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(settings) = state.settings().api_keys.as_ref() else {
        return next.run(request).await;
    };
    let token = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer_token)
        .map(str::to_owned);
    if let Some(token) = token {
        match settings.verify(&token, Utc::now().timestamp()) {
            Ok(key) => {
                metrics::counter!("comlink_api_key_requests_total").increment(1);
                request.extensions_mut().insert(key);
            }
            Err(error) => {
                tracing::info!(%error, "API key refused");
                return ApiError::Unauthorized(error.to_string()).into_response();
            }
        }
    }
    next.run(request).await
}

/// The token of a `Bearer` authorization (scheme case-insensitive); other schemes are not ours.
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}
