//! `GET /v4/time` and `GET /v4/height` (serve.md §4.1).

use axum::Json;
use chrono::Utc;
use indexer_query::blocks::{latest_block, BlockHeightResponse, NO_BLOCKS_FOUND};
use serde::Serialize;
use utoipa::ToSchema;

use crate::ctx::Ctx;
use crate::error::{ApiError, ApiResult, ErrorBody, ValidationErrorBody};

/// `{"iso": "2024-05-01T12:34:56.789Z", "epoch": 1714566896.789}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimeResponse {
    pub iso: String,
    /// Seconds since the epoch with fractional milliseconds (a JSON number).
    #[schema(value_type = f64)]
    pub epoch: serde_json::Number,
}

/// Server time.
#[utoipa::path(get, path = "/v4/time", tag = "utility",
    responses((status = 200, body = TimeResponse), (status = 429, body = ErrorBody)))]
pub async fn get_time() -> Json<TimeResponse> {
    let now = indexer_domain::time::truncate_to_millis(Utc::now());
    let millis = now.timestamp_millis();
    // Whole seconds print as an integer, as JavaScript numbers do.
    let epoch = if millis % 1000 == 0 {
        serde_json::Number::from(millis / 1000)
    } else {
        serde_json::Number::from_f64(millis as f64 / 1000.0).expect("finite")
    };
    Json(TimeResponse {
        iso: indexer_domain::time::to_iso(&now),
        epoch,
    })
}

/// The latest indexed block, read from the primary database.
#[utoipa::path(get, path = "/v4/height", tag = "utility",
    responses(
        (status = 200, body = BlockHeightResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 404, description = "`No blocks found`", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_height(ctx: Ctx) -> ApiResult<Json<BlockHeightResponse>> {
    ctx.finish(ctx.validator())?;
    let block = latest_block(&ctx.state.pools().primary)
        .await?
        .ok_or_else(|| ApiError::NotFound(NO_BLOCKS_FOUND.to_owned()))?;
    ctx.record_height(block.height.0);
    Ok(Json(block))
}
