//! Trading rewards per block and per period (serve.md §4.3.15–§4.3.16).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, QueryBuilder};
use utoipa::ToSchema;

use crate::json::{IntString, IsoTime, Numeric};
use crate::QueryError;

/// `HistoricalBlockTradingReward`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
#[sqlx(rename_all = "camelCase")]
pub struct BlockTradingReward {
    pub trading_reward: Numeric,
    pub created_at: IsoTime,
    pub created_at_height: IntString,
}

/// `HistoricalTradingRewardAggregation`; the open period has no end.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
#[sqlx(rename_all = "camelCase")]
pub struct TradingRewardAggregation {
    pub trading_reward: Numeric,
    pub started_at: IsoTime,
    pub started_at_height: IntString,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<IsoTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at_height: Option<IntString>,
    pub period: String,
}

/// `{"rewards": [...]}` of `/v4/historicalBlockTradingRewards/{address}`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct BlockTradingRewardsResponse {
    pub rewards: Vec<BlockTradingReward>,
}

/// `{"rewards": [...]}` of `/v4/historicalTradingRewardAggregations/{address}`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TradingRewardAggregationsResponse {
    pub rewards: Vec<TradingRewardAggregation>,
}

/// Upper bounds shared by both reward routes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RewardsFilter {
    pub limit: u32,
    pub starting_before_or_at: Option<DateTime<Utc>>,
    pub starting_before_or_at_height: Option<i64>,
}

/// Rewards of every block, newest first.
pub async fn block_rewards(
    pool: &PgPool,
    address: &str,
    filter: &RewardsFilter,
) -> Result<Vec<BlockTradingReward>, QueryError> {
    let mut query = QueryBuilder::new(
        r#"SELECT amount AS "tradingReward", "blockTime" AS "createdAt",
                  "blockHeight" AS "createdAtHeight"
           FROM trading_rewards WHERE address = "#,
    );
    query.push_bind(address);
    if let Some(time) = filter.starting_before_or_at {
        query.push(r#" AND "blockTime" <= "#).push_bind(time);
    }
    if let Some(height) = filter.starting_before_or_at_height {
        query.push(r#" AND "blockHeight" <= "#).push_bind(height);
    }
    query.push(r#" ORDER BY "blockHeight" DESC LIMIT "#);
    query.push_bind(i64::from(filter.limit));
    Ok(query.build_query_as().fetch_all(pool).await?)
}

/// Rewards summed per period, newest period first (periods without rewards are absent).
pub async fn aggregated_rewards(
    pool: &PgPool,
    address: &str,
    period: &str,
    filter: &RewardsFilter,
) -> Result<Vec<TradingRewardAggregation>, QueryError> {
    let mut query = QueryBuilder::new(
        r#"SELECT amount AS "tradingReward", "startedAt", "startedAtHeight", "endedAt",
                  "endedAtHeight", period
           FROM trading_reward_aggregations WHERE address = "#,
    );
    query.push_bind(address);
    query.push(" AND period = ").push_bind(period);
    if let Some(time) = filter.starting_before_or_at {
        query.push(r#" AND "startedAt" <= "#).push_bind(time);
    }
    if let Some(height) = filter.starting_before_or_at_height {
        query
            .push(r#" AND "startedAtHeight" <= "#)
            .push_bind(height);
    }
    query.push(r#" ORDER BY "startedAtHeight" DESC LIMIT "#);
    query.push_bind(i64::from(filter.limit));
    Ok(query.build_query_as().fetch_all(pool).await?)
}
