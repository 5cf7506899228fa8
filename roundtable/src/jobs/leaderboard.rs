//! `create_leaderboard_pnl_{all_time,one_day,seven_days,thirty_days,one_year}` (ops.md §1.4
//! #20–24, off by default): PnL rankings of addresses per time span, from the PnL ticks.
//!
//! Runs only when new PnL ticks exist since the span's last ranking (marker
//! `persistent_cache.leaderboardPnlProcessedTime/<TIME_SPAN>` = block time of the newest ticks
//! ranked). The ranking counts parent subaccounts (number divisible by 128) of non-vault
//! addresses: PnL = latest tick today − latest tick on or before the span's first day (all
//! time: the latest tick's total), summed per address. The span's rows are replaced in one
//! transaction together with the marker, so an address that dropped out does not keep a stale
//! rank (the reference upserted, leaving such rows behind).

use async_trait::async_trait;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use indexer_domain::time::to_iso;
use indexer_domain::vault::{clob_vault_address, CLOB_VAULT_COUNT};
use indexer_store::roundtable::leaderboard::{ranked_pnl, replace_leaderboard};
use indexer_store::roundtable::pnl_ticks::newest_tick_block_time;
use indexer_store::roundtable::watermarks::{lock_watermark, set_watermark};

use crate::jobs::Deps;
use crate::metrics;
use crate::scheduler::{Job, RunContext};
use crate::JobError;

/// A leaderboard time span (`leaderboard_pnl.timeSpan`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSpan {
    AllTime,
    OneDay,
    SevenDays,
    ThirtyDays,
    OneYear,
}

impl TimeSpan {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeSpan::AllTime => "ALL_TIME",
            TimeSpan::OneDay => "ONE_DAY",
            TimeSpan::SevenDays => "SEVEN_DAYS",
            TimeSpan::ThirtyDays => "THIRTY_DAYS",
            TimeSpan::OneYear => "ONE_YEAR",
        }
    }

    fn days(self) -> Option<i64> {
        match self {
            TimeSpan::AllTime => None,
            TimeSpan::OneDay => Some(1),
            TimeSpan::SevenDays => Some(7),
            TimeSpan::ThirtyDays => Some(30),
            TimeSpan::OneYear => Some(365),
        }
    }
}

/// The UTC day of `now`, and the end (exclusive) of the window the span's starting PnL is
/// taken from: ticks created on or before the day `days` before today.
pub fn span_bounds(now: DateTime<Utc>, span: TimeSpan) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
    let today = now
        .duration_trunc(TimeDelta::days(1))
        .expect("days truncate");
    let start = span
        .days()
        .map(|days| today - TimeDelta::days(days) + TimeDelta::days(1));
    (today, start)
}

pub fn watermark_key(span: TimeSpan) -> String {
    format!("leaderboardPnlProcessedTime/{}", span.as_str())
}

pub struct CreateLeaderboard {
    deps: Deps,
    span: TimeSpan,
    rows_per_insert: usize,
    vaults: Vec<String>,
}

impl CreateLeaderboard {
    pub fn new(deps: Deps, span: TimeSpan, rows_per_insert: usize) -> Self {
        Self {
            deps,
            span,
            rows_per_insert,
            vaults: (0..CLOB_VAULT_COUNT).map(clob_vault_address).collect(),
        }
    }
}

#[async_trait]
impl Job for CreateLeaderboard {
    async fn run(&self, _ctx: &RunContext) -> Result<(), JobError> {
        let mut tx = self.deps.pools.primary.begin().await?;
        let Some((newest_ticks, _)) = newest_tick_block_time(&mut *tx).await? else {
            return Ok(());
        };
        let key = watermark_key(self.span);
        let newest = to_iso(&newest_ticks);
        if let Some(done) = lock_watermark(&mut tx, &key).await? {
            let done = DateTime::parse_from_rfc3339(&done)
                .map_err(|e| JobError::Invalid(format!("{key} = {done:?}: {e}")))?;
            if done >= newest_ticks {
                return Ok(());
            }
        }
        let (today, start) = span_bounds(Utc::now(), self.span);
        let rows = ranked_pnl(&mut tx, today, start, &self.vaults).await?;
        replace_leaderboard(&mut tx, self.span.as_str(), &rows, self.rows_per_insert).await?;
        set_watermark(&mut tx, &key, &newest).await?;
        tx.commit().await?;
        tracing::info!(span = self.span.as_str(), addresses = rows.len(), ticks_until = %newest, "leaderboard ranked");
        metrics::gauge_labeled(
            "roundtable_leaderboard_addresses",
            "time_span",
            self.span.as_str().to_string(),
            rows.len() as f64,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn spans_compare_today_with_the_day_the_span_starts() {
        let now = Utc.with_ymd_and_hms(2025, 3, 10, 15, 0, 0).unwrap();
        let today = Utc.with_ymd_and_hms(2025, 3, 10, 0, 0, 0).unwrap();
        assert_eq!(span_bounds(now, TimeSpan::AllTime), (today, None));
        // One day: ticks created on 2025-03-09 or earlier.
        assert_eq!(
            span_bounds(now, TimeSpan::OneDay).1,
            Some(Utc.with_ymd_and_hms(2025, 3, 10, 0, 0, 0).unwrap())
        );
        assert_eq!(
            span_bounds(now, TimeSpan::SevenDays).1,
            Some(Utc.with_ymd_and_hms(2025, 3, 4, 0, 0, 0).unwrap())
        );
    }
}
