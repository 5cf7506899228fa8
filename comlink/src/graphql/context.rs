//! What resolvers share: the REST request context (so `minHeight`, `X-Indexer-Height`, the
//! reader pool, the market cache and the compliance check behave exactly as on REST), argument
//! validation with the REST messages, and the mapping of REST errors to GraphQL errors
//! (serve.md §6.2).

use std::sync::Arc;

use async_graphql::{Context, Error, ErrorExtensions};
use indexer_query::MarketsSnapshot;

use crate::ctx::Ctx;
use crate::error::{ApiError, COMPLIANCE_BLOCKED_TEXT, GEOBLOCKED_TEXT};
use crate::height::ReadDb;
use crate::params::{MSG_PAGE, MSG_PARENT_SUBACCOUNT_NUMBER, MSG_SUBACCOUNT_NUMBER};

/// The resolver result type.
pub type GqlResult<T> = Result<T, Error>;

/// The REST context of the HTTP request carrying the GraphQL operation.
pub fn request<'a>(ctx: &'a Context<'_>) -> GqlResult<&'a Ctx> {
    ctx.data::<Arc<Ctx>>()
        .map(|ctx| &**ctx)
        .map_err(|_| internal("the request context is missing"))
}

/// The reader pool for this request, honouring `minHeight`.
pub async fn reader(ctx: &Context<'_>) -> GqlResult<ReadDb> {
    request(ctx)?.reader().await.map_err(api_error)
}

/// The market snapshot (reloaded when `ticker` is unknown, as on REST).
pub async fn markets(ctx: &Context<'_>, ticker: Option<&str>) -> GqlResult<Arc<MarketsSnapshot>> {
    Ok(request(ctx)?.markets(ticker).await)
}

/// The compliance and geo check of account-scoped root fields.
pub async fn check_compliance(ctx: &Context<'_>, address: &str) -> GqlResult<()> {
    request(ctx)?
        .check_compliance(Some(address))
        .await
        .map_err(api_error)
}

/// A REST error as the GraphQL error of serve.md §6.2.
pub fn api_error(error: ApiError) -> Error {
    match error {
        ApiError::Validation(errors) => {
            let first = errors.into_iter().next();
            let (msg, param) = first
                .map(|e| (e.msg, e.param))
                .unwrap_or_else(|| ("Invalid value".to_owned(), String::new()));
            bad_input(&param, msg)
        }
        ApiError::BadRequest(msg) => {
            Error::new(msg).extend_with(|_, e| e.set("code", "BAD_USER_INPUT"))
        }
        ApiError::NotFound(msg) => Error::new(msg).extend_with(|_, e| e.set("code", "NOT_FOUND")),
        ApiError::ComplianceBlocked => forbidden("COMPLIANCE_BLOCKED", COMPLIANCE_BLOCKED_TEXT),
        ApiError::Geoblocked => forbidden("GEOBLOCKED", GEOBLOCKED_TEXT),
        ApiError::TooManyRequests => {
            Error::new("Too many requests").extend_with(|_, e| e.set("code", "RATE_LIMITED"))
        }
        ApiError::HeightNotReached { requested, latest } => {
            let latest = latest.map_or("none".to_owned(), |h| h.to_string());
            Error::new(format!(
                "Height {requested} is not indexed yet (latest: {latest})"
            ))
            .extend_with(|_, e| e.set("code", "HEIGHT_NOT_INDEXED"))
        }
        ApiError::Internal(cause) => internal(cause),
        // Errors added to the REST side later (e.g. 401 for API keys) keep their status code.
        #[allow(unreachable_patterns)]
        other => {
            let status = other.status();
            Error::new(status.canonical_reason().unwrap_or("Error"))
                .extend_with(move |_, e| e.set("status", status.as_u16()))
        }
    }
}

/// A query-library error (404 texts, 400 texts, internal failures).
pub fn query_error(error: indexer_query::QueryError) -> Error {
    api_error(error.into())
}

fn forbidden(blocked_code: &'static str, text: &'static str) -> Error {
    Error::new(text).extend_with(|_, e| {
        e.set("code", "FORBIDDEN");
        e.set("blockedCode", blocked_code);
    })
}

/// Logged with its cause; the client sees `Internal Server Error`.
pub fn internal(cause: impl std::fmt::Display) -> Error {
    tracing::error!(error = %cause, "graphql resolver failed");
    Error::new("Internal Server Error").extend_with(|_, e| e.set("code", "INTERNAL_SERVER_ERROR"))
}

/// A failing argument: the REST message, `BAD_USER_INPUT`, the argument name.
pub fn bad_input(param: &str, msg: impl Into<String>) -> Error {
    let param = param.to_owned();
    Error::new(msg.into()).extend_with(move |_, e| {
        e.set("code", "BAD_USER_INPUT");
        e.set("param", param.as_str());
        e.set("location", "argument");
    })
}

/// `limit`: 1 to the configured maximum (default 1000), with the REST message.
pub fn limit(ctx: &Context<'_>, limit: Option<i32>) -> GqlResult<u32> {
    let max = request(ctx)?.state.settings().api_limit;
    match limit {
        None => Ok(max),
        Some(n) if n >= 1 && (n as u32) <= max => Ok(n as u32),
        Some(_) => Err(bad_input(
            "limit",
            format!("limit must be a positive integer that is not greater than max: {max}"),
        )),
    }
}

/// `page`: a positive integer when given.
pub fn page(page: Option<i32>) -> GqlResult<Option<u32>> {
    match page {
        None => Ok(None),
        Some(n) if n >= 1 => Ok(Some(n as u32)),
        Some(_) => Err(bad_input("page", MSG_PAGE)),
    }
}

/// A subaccount number below 128 001, with the REST message.
pub fn subaccount_number(number: i32) -> GqlResult<u32> {
    u32::try_from(number)
        .ok()
        .filter(|n| *n < 128_001)
        .ok_or_else(|| bad_input("subaccountNumber", MSG_SUBACCOUNT_NUMBER))
}

/// A parent subaccount number below 128, with the REST message.
pub fn parent_subaccount_number(number: i32) -> GqlResult<u32> {
    u32::try_from(number)
        .ok()
        .filter(|n| *n < 128)
        .ok_or_else(|| bad_input("parentSubaccountNumber", MSG_PARENT_SUBACCOUNT_NUMBER))
}

/// A dYdX address (bech32, `dydx` prefix) as REST validates it.
pub fn dydx_address(param: &str, address: &str) -> GqlResult<String> {
    crate::params::parse_dydx_address(address)
        .ok_or_else(|| bad_input(param, crate::params::MSG_DYDX_ADDRESS))
}
