//! `aggregate_trading_rewards_{daily,weekly,monthly}` (ops.md §1.4 #16–18): per-address reward
//! totals per UTC day, ISO week (from Monday) and calendar month, behind the historical
//! trading-reward aggregation endpoints.
//!
//! Each run processes one window of `trading_rewards` (by block time), from the progress marker
//! to the earliest of: the start of the latest block's minute, the next UTC midnight, and the
//! marker + `AGGREGATE_TRADING_REWARDS_MAX_INTERVAL_SIZE_MS`. The window's sums are added to the
//! rows keyed by (address, period, startedAtHeight); a window ending on a period boundary closes
//! every row of that period (`endedAt`, `endedAtHeight` = last block before the boundary).
//!
//! Unlike the reference (marker in Redis, written after the Postgres commit, so a crash in
//! between counted a window twice), the marker lives in Postgres `persistent_cache` and moves in
//! the same transaction as the totals: a window is counted exactly once. Without a marker
//! (first run, or a database restored from elsewhere) the latest open aggregation of the period
//! is deleted and processing restarts at the end of the last closed one, or at the first reward.

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Duration as TimeDelta, DurationRound, TimeZone, Utc};
use indexer_domain::ids::trading_reward_aggregation_uuid;
use indexer_domain::time::to_iso;
use indexer_domain::TradingRewardAggregationPeriod as Period;
use indexer_store::roundtable::blocks::{first_block_at_or_after, latest_block};
use indexer_store::roundtable::trading_rewards::{self as store, AggregationDelta};
use indexer_store::roundtable::watermarks::{lock_watermark, set_watermark};
use sqlx::PgConnection;

use crate::jobs::Deps;
use crate::metrics;
use crate::scheduler::{Job, RunContext};
use crate::JobError;

/// The `persistent_cache` key of a period's progress marker (an ISO time: everything before it
/// is aggregated).
pub fn watermark_key(period: Period) -> String {
    format!("aggregateTradingRewardsProcessedTime/{period}")
}

/// Start of the period containing `time`: UTC midnight, Monday of the ISO week, first of the
/// month.
pub fn period_start(period: Period, time: DateTime<Utc>) -> DateTime<Utc> {
    let day = time
        .duration_trunc(TimeDelta::days(1))
        .expect("days truncate");
    match period {
        Period::Daily => day,
        Period::Weekly => day - TimeDelta::days(i64::from(day.weekday().num_days_from_monday())),
        Period::Monthly => Utc
            .with_ymd_and_hms(day.year(), day.month(), 1, 0, 0, 0)
            .single()
            .expect("first of a month exists"),
    }
}

/// End of the window starting at `start`: the earliest of the latest block's minute, the next
/// UTC midnight, and `start + max_interval`.
pub fn window_end(
    start: DateTime<Utc>,
    latest_block_time: DateTime<Utc>,
    max_interval: std::time::Duration,
) -> DateTime<Utc> {
    let block_minute = latest_block_time
        .duration_trunc(TimeDelta::minutes(1))
        .expect("minutes truncate");
    let next_midnight = (start + TimeDelta::days(1))
        .duration_trunc(TimeDelta::days(1))
        .expect("days truncate");
    let capped = start + TimeDelta::from_std(max_interval).unwrap_or(TimeDelta::days(1));
    block_minute.min(next_midnight).min(capped)
}

pub struct AggregateTradingRewards {
    deps: Deps,
    period: Period,
    max_interval: std::time::Duration,
    chunk_size: usize,
}

impl AggregateTradingRewards {
    pub fn new(
        deps: Deps,
        period: Period,
        max_interval: std::time::Duration,
        chunk_size: usize,
    ) -> Self {
        Self {
            deps,
            period,
            max_interval,
            chunk_size,
        }
    }

    /// The start of the next window when there is no marker; `None` while there are no rewards.
    async fn recover_start(
        &self,
        conn: &mut PgConnection,
    ) -> Result<Option<DateTime<Utc>>, JobError> {
        let period = self.period.as_str();
        if let Some((height, None)) = store::latest_aggregation(conn, period).await? {
            let deleted = store::delete_aggregations_from(conn, period, height).await?;
            tracing::info!(
                period,
                height,
                deleted,
                "no progress marker: deleted the open aggregation to recount it"
            );
        }
        if let Some((_, Some(ended_at))) = store::latest_aggregation(conn, period).await? {
            return Ok(Some(ended_at));
        }
        Ok(store::first_reward_time(conn).await?)
    }

    async fn block_at_or_after(
        conn: &mut PgConnection,
        time: DateTime<Utc>,
    ) -> Result<i64, JobError> {
        first_block_at_or_after(&mut *conn, time)
            .await?
            .ok_or_else(|| JobError::Invalid(format!("no block at or after {}", to_iso(&time))))
    }

    /// Aggregates one window inside `conn`'s transaction; returns the window's end, or `None`
    /// when there is nothing to do yet.
    async fn aggregate(&self, conn: &mut PgConnection) -> Result<Option<DateTime<Utc>>, JobError> {
        let key = watermark_key(self.period);
        let start = match lock_watermark(conn, &key).await? {
            Some(text) => DateTime::parse_from_rfc3339(&text)
                .map_err(|e| JobError::Invalid(format!("{key} = {text:?}: {e}")))?
                .with_timezone(&Utc),
            None => match self.recover_start(conn).await? {
                Some(start) => start,
                None => {
                    tracing::debug!(period = %self.period, "no trading rewards yet");
                    return Ok(None);
                }
            },
        };
        let Some((_, latest_time)) = latest_block(&mut *conn).await? else {
            return Ok(None);
        };
        let end = window_end(start, latest_time, self.max_interval);
        if end <= start {
            set_watermark(conn, &key, &to_iso(&start)).await?;
            return Ok(None);
        }
        let period = self.period.as_str();
        let started_at = period_start(self.period, start);
        let sums = store::reward_sums(conn, start, end).await?;
        let closes = period_start(self.period, end) == end;
        if !sums.is_empty() || closes {
            let started_at_height = Self::block_at_or_after(conn, started_at).await?;
            let deltas: Vec<AggregationDelta> = sums
                .into_iter()
                .map(|(address, amount)| AggregationDelta {
                    id: trading_reward_aggregation_uuid(
                        &address,
                        self.period,
                        started_at_height as u32,
                    ),
                    address,
                    amount,
                })
                .collect();
            for chunk in deltas.chunks(self.chunk_size.max(1)) {
                store::add_to_aggregations(conn, period, started_at, started_at_height, chunk)
                    .await?;
            }
            metrics::count_labeled(
                "roundtable_trading_reward_aggregations_written_total",
                "period",
                period.to_string(),
                deltas.len() as u64,
            );
            if closes {
                let ended_at_height = Self::block_at_or_after(conn, end).await? - 1;
                let closed =
                    store::end_aggregations(conn, period, started_at_height, end, ended_at_height)
                        .await?;
                tracing::info!(period, started_at = %to_iso(&started_at), closed, "period closed");
            }
        }
        set_watermark(conn, &key, &to_iso(&end)).await?;
        Ok(Some(end))
    }
}

#[async_trait]
impl Job for AggregateTradingRewards {
    async fn run(&self, _ctx: &RunContext) -> Result<(), JobError> {
        let mut tx = self.deps.pools.primary.begin().await?;
        let processed = self.aggregate(&mut tx).await?;
        tx.commit().await?;
        if let Some(end) = processed {
            tracing::debug!(period = %self.period, processed_until = %to_iso(&end), "trading rewards aggregated");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn periods_start_at_midnight_monday_and_the_first() {
        // 2025-03-05 is a Wednesday.
        let t = at(2025, 3, 5, 15, 42);
        assert_eq!(period_start(Period::Daily, t), at(2025, 3, 5, 0, 0));
        assert_eq!(period_start(Period::Weekly, t), at(2025, 3, 3, 0, 0));
        assert_eq!(period_start(Period::Monthly, t), at(2025, 3, 1, 0, 0));
        // A Monday midnight starts its own week.
        assert_eq!(
            period_start(Period::Weekly, at(2025, 3, 3, 0, 0)),
            at(2025, 3, 3, 0, 0)
        );
    }

    #[test]
    fn windows_stop_at_the_block_minute_midnight_or_the_size_cap() {
        let hour = std::time::Duration::from_secs(3600);
        let start = at(2025, 3, 5, 10, 0);
        // Latest block 10:20:59 → 10:20.
        let block = at(2025, 3, 5, 10, 20) + TimeDelta::seconds(59);
        assert_eq!(window_end(start, block, hour), at(2025, 3, 5, 10, 20));
        // Far behind the chain: one hour at most.
        assert_eq!(
            window_end(start, at(2025, 3, 9, 0, 0), hour),
            at(2025, 3, 5, 11, 0)
        );
        // Never across midnight.
        let late = at(2025, 3, 5, 23, 30);
        assert_eq!(
            window_end(late, at(2025, 3, 9, 0, 0), hour),
            at(2025, 3, 6, 0, 0)
        );
    }
}
