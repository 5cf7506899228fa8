//! `GET /v4/historicalFunding/{ticker}` (serve.md §4.2.5).

use axum::Json;
use indexer_query::funding::{self, HistoricalFundingFilter, HistoricalFundingResponse};

use crate::ctx::Ctx;
use crate::error::{ApiResult, ErrorBody, Location, ValidationErrorBody};
use crate::routes::validated;

/// Hourly funding ticks of the market, newest first.
#[utoipa::path(get, path = "/v4/historicalFunding/{ticker}", tag = "markets",
    params(
        ("ticker" = String, Path),
        ("limit" = Option<u32>, Query),
        ("effectiveBeforeOrAtHeight" = Option<u64>, Query),
        ("effectiveBeforeOrAt" = Option<String>, Query),
        ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = HistoricalFundingResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_historical_funding(ctx: Ctx) -> ApiResult<Json<HistoricalFundingResponse>> {
    let snapshot = ctx.markets(ctx.path_param("ticker")).await;
    let mut v = ctx.validator();
    let market = v.ticker(Location::Params, "ticker", true, &snapshot);
    let limit = v.limit();
    let height = v.non_negative_int("effectiveBeforeOrAtHeight");
    let before = v.iso_time("effectiveBeforeOrAt");
    ctx.finish(v)?;
    let db = ctx.reader().await?;
    let market = validated(market);
    let filter = HistoricalFundingFilter {
        limit,
        effective_before_or_at_height: height.filter(|h| *h != 0),
        effective_before_or_at: before,
    };
    let historical_funding =
        funding::historical_funding(&db.pool, market.id, &market.ticker, &filter).await?;
    Ok(Json(HistoricalFundingResponse { historical_funding }))
}
