//! `GET /v4/sparklines` (serve.md §4.2.6).

use axum::Json;
use chrono::Utc;
use indexer_domain::SparklineTimePeriod;
use indexer_query::json::OrderedMap;
use indexer_query::{sparklines, Numeric};

use crate::ctx::Ctx;
use crate::error::{ApiResult, ErrorBody, ValidationErrorBody};
use crate::routes::validated;

const MSG_TIME_PERIOD: &str = "timePeriod must be a valid Time Period, one of ONE_DAY,SEVEN_DAYS";

/// Close prices of every market, newest first: hourly candles of the last day or 4-hour candles
/// of the last week. A bare object keyed by ticker.
#[utoipa::path(get, path = "/v4/sparklines", tag = "markets",
    params(("timePeriod" = String, Query, description = "ONE_DAY or SEVEN_DAYS"),
        ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = std::collections::HashMap<String, Vec<Numeric>>),
        (status = 400, body = ValidationErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_sparklines(ctx: Ctx) -> ApiResult<Json<OrderedMap<Vec<Numeric>>>> {
    let mut v = ctx.validator();
    let period: Option<SparklineTimePeriod> = v.one_of("timePeriod", true, MSG_TIME_PERIOD);
    ctx.finish(v)?;
    let db = ctx.reader().await?;
    let markets = ctx.markets(None).await;
    let series = sparklines::sparklines(&db.pool, &markets, validated(period), Utc::now()).await?;
    Ok(Json(series))
}
