//! `GET /v4/historicalBlockTradingRewards/{address}` and
//! `GET /v4/historicalTradingRewardAggregations/{address}` (serve.md §4.3.15–§4.3.16).

use axum::Json;
use indexer_domain::TradingRewardAggregationPeriod;
use indexer_query::rewards::{
    self, BlockTradingRewardsResponse, RewardsFilter, TradingRewardAggregationsResponse,
};

use crate::ctx::Ctx;
use crate::error::{ApiResult, ErrorBody, Location, ValidationErrorBody};
use crate::params::{Validator, MSG_ADDRESS};
use crate::routes::validated;

const MSG_PERIOD: &str =
    "period must be a valid Trading Reward Aggregation Period, one of DAILY,WEEKLY,MONTHLY";

/// Rewards of every block, newest first.
#[utoipa::path(get, path = "/v4/historicalBlockTradingRewards/{address}", tag = "accounts",
    params(("address" = String, Path), ("limit" = Option<u32>, Query),
        ("startingBeforeOrAt" = Option<String>, Query),
        ("startingBeforeOrAtHeight" = Option<u64>, Query), ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = BlockTradingRewardsResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_block_rewards(ctx: Ctx) -> ApiResult<Json<BlockTradingRewardsResponse>> {
    let mut v = ctx.validator();
    let address = v.dydx_address(Location::Params, MSG_ADDRESS);
    let filter = filter(&mut v);
    ctx.finish(v)?;
    let db = ctx.reader().await?;
    let rewards = rewards::block_rewards(&db.pool, &validated(address), &filter).await?;
    Ok(Json(BlockTradingRewardsResponse { rewards }))
}

/// Rewards summed per day, week or month, newest first.
#[utoipa::path(get, path = "/v4/historicalTradingRewardAggregations/{address}", tag = "accounts",
    params(("address" = String, Path), ("period" = String, Query, description = "DAILY, WEEKLY or MONTHLY"),
        ("limit" = Option<u32>, Query), ("startingBeforeOrAt" = Option<String>, Query),
        ("startingBeforeOrAtHeight" = Option<u64>, Query), ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = TradingRewardAggregationsResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_aggregated_rewards(
    ctx: Ctx,
) -> ApiResult<Json<TradingRewardAggregationsResponse>> {
    let mut v = ctx.validator();
    let address = v.dydx_address(Location::Params, MSG_ADDRESS);
    let period: Option<TradingRewardAggregationPeriod> = v.one_of("period", true, MSG_PERIOD);
    let filter = filter(&mut v);
    ctx.finish(v)?;
    let db = ctx.reader().await?;
    let rewards = rewards::aggregated_rewards(
        &db.pool,
        &validated(address),
        validated(period).as_str(),
        &filter,
    )
    .await?;
    Ok(Json(TradingRewardAggregationsResponse { rewards }))
}

fn filter(v: &mut Validator<'_>) -> RewardsFilter {
    RewardsFilter {
        limit: v.limit(),
        starting_before_or_at: v.iso_time("startingBeforeOrAt"),
        starting_before_or_at_height: v.non_negative_int("startingBeforeOrAtHeight"),
    }
}
