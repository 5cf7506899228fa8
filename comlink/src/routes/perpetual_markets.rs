//! `GET /v4/perpetualMarkets` (serve.md §4.2.1).

use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::Json;
use indexer_query::markets::{self, PerpetualMarketsResponse};

use crate::ctx::Ctx;
use crate::error::{ApiError, ApiResult, ErrorBody, Location, ValidationErrorBody};
use crate::height::ReadDb;
use crate::response_cache::HeightCache;

/// Every perpetual market keyed by ticker (perpetual id order), or exactly one.
#[utoipa::path(get, path = "/v4/perpetualMarkets", tag = "markets",
    params(
        ("limit" = Option<u32>, Query, description = "1…1000, default 1000"),
        ("ticker" = Option<String>, Query, description = "one market, e.g. BTC-USD"),
        ("market" = Option<String>, Query, description = "alias of ticker"),
        ("minHeight" = Option<u64>, Query, description = "serve data at least this fresh")),
    responses(
        (status = 200, body = PerpetualMarketsResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_perpetual_markets(ctx: Ctx) -> ApiResult<Response> {
    let wanted = ctx.query_param("ticker").or(ctx.query_param("market"));
    let snapshot = ctx.markets(wanted).await;
    let mut v = ctx.validator();
    let limit = v.limit();
    let ticker = v.ticker(Location::Query, "ticker", false, &snapshot);
    let market = v.ticker(Location::Query, "market", false, &snapshot);
    ctx.finish(v)?;
    let db = ctx.reader().await?;
    let response = match (ticker, market) {
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest(
                "Only one of ticker or market may be provided".to_owned(),
            ))
        }
        (Some(one), None) | (None, Some(one)) => {
            markets::perpetual_market(&db.pool, &one.ticker).await?
        }
        (None, None) => return every_market(&db, limit, ctx.state.perpetual_markets_cache()).await,
    };
    Ok(Json(response).into_response())
}

/// Every market, from the body cached for the reader's height when there is one (a block is
/// what changes them; see `response_cache`).
async fn every_market(db: &ReadDb, limit: u32, cache: &HeightCache) -> ApiResult<Response> {
    let key = limit.to_string();
    if let Some(body) = db.height.and_then(|height| cache.get(&key, height)) {
        return Ok(json_bytes(body));
    }
    let response = markets::perpetual_markets(&db.pool, limit).await?;
    let body = Bytes::from(
        serde_json::to_vec(&response)
            .map_err(|e| ApiError::Internal(format!("serialising markets: {e}")))?,
    );
    if let Some(height) = db.height {
        cache.put(&key, height, body.clone());
    }
    Ok(json_bytes(body))
}

fn json_bytes(body: Bytes) -> Response {
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}
