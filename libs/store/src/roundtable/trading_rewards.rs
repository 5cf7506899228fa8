//! `aggregate_trading_rewards_*`: per-address reward totals per day, ISO week and month.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::StoreError;

/// The newest aggregation of `period`: its start height and end time (`None` while open).
pub async fn latest_aggregation(
    conn: &mut PgConnection,
    period: &str,
) -> Result<Option<(i64, Option<DateTime<Utc>>)>, StoreError> {
    Ok(sqlx::query_as(
        r#"SELECT "startedAtHeight", "endedAt" FROM trading_reward_aggregations
           WHERE period = $1 ORDER BY "startedAtHeight" DESC LIMIT 1"#,
    )
    .bind(period)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Deletes every aggregation of `period` starting at or after `started_at_height`.
pub async fn delete_aggregations_from(
    conn: &mut PgConnection,
    period: &str,
    started_at_height: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        r#"DELETE FROM trading_reward_aggregations WHERE period = $1 AND "startedAtHeight" >= $2"#,
    )
    .bind(period)
    .bind(started_at_height)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// Block time of the earliest trading reward.
pub async fn first_reward_time(
    conn: &mut PgConnection,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(
        sqlx::query_scalar(r#"SELECT min("blockTime") FROM trading_rewards"#)
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// Sum of rewards per address with block time in [`from`, `to`).
pub async fn reward_sums(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(String, BigDecimal)>, StoreError> {
    Ok(sqlx::query_as(
        r#"SELECT address, sum(amount) FROM trading_rewards
           WHERE "blockTime" >= $1 AND "blockTime" < $2
           GROUP BY address ORDER BY address"#,
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await?)
}

/// Rewards to add to one address's aggregation.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregationDelta {
    pub id: Uuid,
    pub address: String,
    pub amount: BigDecimal,
}

/// Adds each delta to its aggregation of (`period`, `started_at_height`), creating the row if
/// needed. Returns the rows written.
pub async fn add_to_aggregations(
    conn: &mut PgConnection,
    period: &str,
    started_at: DateTime<Utc>,
    started_at_height: i64,
    deltas: &[AggregationDelta],
) -> Result<u64, StoreError> {
    if deltas.is_empty() {
        return Ok(0);
    }
    let done = sqlx::query(
        r#"INSERT INTO trading_reward_aggregations
               (id, address, "startedAt", "startedAtHeight", period, amount)
           SELECT u.id, u.address, $4, $5, $6, u.amount
           FROM UNNEST($1::uuid[], $2::text[], $3::numeric[]) AS u(id, address, amount)
           ON CONFLICT (id) DO UPDATE
               SET amount = trading_reward_aggregations.amount + EXCLUDED.amount"#,
    )
    .bind(deltas.iter().map(|d| d.id).collect::<Vec<_>>())
    .bind(deltas.iter().map(|d| d.address.clone()).collect::<Vec<_>>())
    .bind(deltas.iter().map(|d| d.amount.clone()).collect::<Vec<_>>())
    .bind(started_at)
    .bind(started_at_height)
    .bind(period)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// Closes every aggregation of (`period`, `started_at_height`). Returns the rows closed.
pub async fn end_aggregations(
    conn: &mut PgConnection,
    period: &str,
    started_at_height: i64,
    ended_at: DateTime<Utc>,
    ended_at_height: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        r#"UPDATE trading_reward_aggregations SET "endedAt" = $3, "endedAtHeight" = $4
           WHERE period = $1 AND "startedAtHeight" = $2"#,
    )
    .bind(period)
    .bind(started_at_height)
    .bind(ended_at)
    .bind(ended_at_height)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}
