//! `GET /v4/vault/v1/*` (serve.md §4.5): megavault and per-vault PnL history, megavault
//! positions.
//!
//! The two PnL routes are expensive (every vault's ticks plus every vault's equity), so their
//! JSON is kept in Redis (`v4/vault/mv_pnl/{resolution}`, `v4/vault/vaults_pnl/{resolution}`,
//! each with its `…/timestamp/{resolution}` key) and served from there while younger than
//! `VAULT_CACHE_TTL_MS`. A request with `minHeight` skips a cached answer older than that
//! height.

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use indexer_query::vaults::{
    self, MegavaultHistoricalPnlResponse, MegavaultPositionsResponse, PnlTickInterval,
    VaultsHistoricalPnlResponse,
};
use redis::AsyncCommands;

use crate::ctx::Ctx;
use crate::error::{ApiError, ApiResult, ErrorBody, ValidationErrorBody};

const MSG_RESOLUTION: &str = "type must be one of hour,day";

/// Which cached PnL answer (the reference's Redis key names).
#[derive(Clone, Copy)]
enum PnlKind {
    Megavault,
    Vaults,
}

impl PnlKind {
    fn key_name(self) -> &'static str {
        match self {
            PnlKind::Megavault => "mv_pnl",
            PnlKind::Vaults => "vaults_pnl",
        }
    }
}

/// The megavault's PnL: all vaults plus the main vault subaccount, summed per hour.
#[utoipa::path(get, path = "/v4/vault/v1/megavault/historicalPnl", tag = "vaults",
    params(("resolution" = Option<String>, Query, description = "`hour` or `day` (default)"),
        ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = MegavaultHistoricalPnlResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 429, body = ErrorBody),
        (status = 500, body = ErrorBody)))]
pub async fn get_megavault_historical_pnl(ctx: Ctx) -> ApiResult<Response> {
    pnl_response(&ctx, PnlKind::Megavault).await
}

/// Each vault's PnL history, by ticker.
#[utoipa::path(get, path = "/v4/vault/v1/vaults/historicalPnl", tag = "vaults",
    params(("resolution" = Option<String>, Query, description = "`hour` or `day` (default)"),
        ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = VaultsHistoricalPnlResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 429, body = ErrorBody),
        (status = 500, body = ErrorBody)))]
pub async fn get_vaults_historical_pnl(ctx: Ctx) -> ApiResult<Response> {
    pnl_response(&ctx, PnlKind::Vaults).await
}

/// Each vault's USDC balance, open position in its market and equity, by ticker.
#[utoipa::path(get, path = "/v4/vault/v1/megavault/positions", tag = "vaults",
    params(("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = MegavaultPositionsResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 429, body = ErrorBody),
        (status = 500, body = ErrorBody)))]
pub async fn get_megavault_positions(ctx: Ctx) -> ApiResult<Json<MegavaultPositionsResponse>> {
    ctx.finish(ctx.validator())?;
    let db = ctx.reader().await?;
    let markets = ctx.markets(None).await;
    Ok(Json(vaults::megavault_positions(&db.pool, &markets).await?))
}

async fn pnl_response(ctx: &Ctx, kind: PnlKind) -> ApiResult<Response> {
    let mut v = ctx.validator();
    let interval: Option<PnlTickInterval> = v.one_of("resolution", false, MSG_RESOLUTION);
    ctx.finish(v)?;
    let interval = interval.unwrap_or_default();
    let min_height = ctx.min_height().ok().flatten().unwrap_or(0);
    if let Some((body, height)) = cached(ctx, kind, interval).await {
        if height >= min_height {
            ctx.record_height(height);
            return Ok(json(body));
        }
    }
    let db = ctx.reader().await?;
    let markets = ctx.markets(None).await;
    let settings = ctx.state.settings();
    let window = &settings.vault_pnl_window;
    let now = Utc::now();
    let body = match kind {
        PnlKind::Megavault => serde_json::to_string(
            &vaults::megavault_historical_pnl(&db.pool, &markets, interval, window, now).await?,
        ),
        PnlKind::Vaults => serde_json::to_string(
            &vaults::vaults_historical_pnl(&db.pool, &markets, interval, window, now).await?,
        ),
    }
    .map_err(|error| ApiError::Internal(error.to_string()))?;
    store(ctx, kind, interval, &body, db.height.unwrap_or(0)).await;
    Ok(json(body))
}

fn json(body: String) -> Response {
    ([(CONTENT_TYPE, "application/json; charset=utf-8")], body).into_response()
}

fn keys(ctx: &Ctx, kind: PnlKind, interval: PnlTickInterval) -> (String, String) {
    let prefix = ctx.state.cache().keys().prefix();
    let (name, resolution) = (kind.key_name(), interval.as_str());
    (
        format!("{prefix}v4/vault/{name}/{resolution}"),
        format!("{prefix}v4/vault/{name}/timestamp/{resolution}"),
    )
}

/// The cached body and the height it was read at, when younger than the TTL. Redis errors
/// count as a miss.
async fn cached(ctx: &Ctx, kind: PnlKind, interval: PnlTickInterval) -> Option<(String, i64)> {
    let (body_key, stamp_key) = keys(ctx, kind, interval);
    let mut conn = ctx.state.cache().conn();
    let (body, stamp): (Option<String>, Option<String>) = conn
        .mget(&[body_key, stamp_key])
        .await
        .inspect_err(|error| tracing::warn!(%error, "reading the vault PnL cache failed"))
        .ok()?;
    let (written_ms, height) = stamp?
        .split_once(':')
        .and_then(|(ms, height)| Some((ms.parse::<i64>().ok()?, height.parse::<i64>().ok()?)))?;
    let age_ms = Utc::now().timestamp_millis() - written_ms;
    let ttl_ms = ctx.state.settings().vault_cache_ttl.as_millis() as i64;
    (0..ttl_ms).contains(&age_ms).then_some((body?, height))
}

async fn store(ctx: &Ctx, kind: PnlKind, interval: PnlTickInterval, body: &str, height: i64) {
    let (body_key, stamp_key) = keys(ctx, kind, interval);
    let stamp = format!("{}:{height}", Utc::now().timestamp_millis());
    let mut conn = ctx.state.cache().conn();
    let written: Result<(), redis::RedisError> = redis::pipe()
        .atomic()
        .set(body_key, body)
        .ignore()
        .set(stamp_key, stamp)
        .ignore()
        .query_async(&mut conn)
        .await;
    if let Err(error) = written {
        tracing::warn!(%error, "writing the vault PnL cache failed");
    }
}
