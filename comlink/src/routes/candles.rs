//! `GET /v4/candles/perpetualMarkets/{ticker}` (serve.md §4.2.4).

use axum::Json;
use indexer_domain::CandleResolution;
use indexer_query::candles::{self, CandlesFilter, CandlesResponse};

use crate::ctx::Ctx;
use crate::error::{ApiResult, ErrorBody, Location, ValidationErrorBody};
use crate::routes::validated;

const MSG_RESOLUTION: &str =
    "resolution must be a valid Candle Resolution, one of 1MIN,5MINS,15MINS,30MINS,1HOUR,4HOURS,1DAY";

/// Candles of one resolution, newest first; `fromISO` inclusive, `toISO` exclusive.
#[utoipa::path(get, path = "/v4/candles/perpetualMarkets/{ticker}", tag = "markets",
    params(
        ("ticker" = String, Path),
        ("resolution" = String, Query, description = "1MIN, 5MINS, 15MINS, 30MINS, 1HOUR, 4HOURS, 1DAY"),
        ("limit" = Option<u32>, Query),
        ("fromISO" = Option<String>, Query),
        ("toISO" = Option<String>, Query),
        ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = CandlesResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_candles(ctx: Ctx) -> ApiResult<Json<CandlesResponse>> {
    let snapshot = ctx.markets(ctx.path_param("ticker")).await;
    let mut v = ctx.validator();
    let market = v.ticker(Location::Params, "ticker", true, &snapshot);
    let resolution: Option<CandleResolution> = v.one_of("resolution", true, MSG_RESOLUTION);
    let limit = v.limit();
    let from_iso = v.iso_time("fromISO");
    let to_iso = v.iso_time("toISO");
    ctx.finish(v)?;
    let db = ctx.reader().await?;
    let filter = CandlesFilter {
        resolution: validated(resolution),
        limit,
        from_iso,
        to_iso,
    };
    let candles = candles::candles(&db.pool, &validated(market).ticker, &filter).await?;
    Ok(Json(CandlesResponse { candles }))
}
