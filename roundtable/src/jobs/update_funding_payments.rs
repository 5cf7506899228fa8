//! `update_funding_payments` (ops.md §1.4 #30): one `funding_payments` row per open position
//! per funding tick, behind the funding-payment endpoints.
//!
//! Finds the heights with funding index updates after the marker
//! (`persistent_cache.fundingPaymentsLastProcessedHeight`, default 0) in ascending order and,
//! for each in its own transaction, derives every position from the sizes recorded at the
//! previous tick plus the fills since, writes the payments and moves the marker. A failed height
//! rolls back and is retried at the next run; the marker never passes a height whose payments
//! are not committed. At most `FUNDING_PAYMENTS_MAX_HEIGHTS_PER_RUN` heights per run (the first
//! run from genesis is a long backfill); shutdown stops between heights.

use async_trait::async_trait;
use indexer_store::roundtable::funding_payments::{
    funding_heights_after, insert_funding_payments, FUNDING_PAYMENTS_WATERMARK,
};
use indexer_store::roundtable::watermarks::{lock_watermark, set_watermark};

use crate::jobs::Deps;
use crate::metrics;
use crate::scheduler::{Job, RunContext};
use crate::JobError;

/// Parses a height marker; unset means nothing processed yet.
pub fn parse_height(key: &str, value: Option<String>) -> Result<i64, JobError> {
    match value {
        None => Ok(0),
        Some(text) => text
            .trim()
            .parse()
            .map_err(|_| JobError::Invalid(format!("{key} = {text:?} is not a height"))),
    }
}

pub struct UpdateFundingPayments {
    deps: Deps,
    max_heights_per_run: usize,
}

impl UpdateFundingPayments {
    pub fn new(deps: Deps, max_heights_per_run: usize) -> Self {
        Self {
            deps,
            max_heights_per_run,
        }
    }

    /// Processes `height` if the marker is still `previous`; returns the rows written.
    async fn process(&self, previous: i64, height: i64) -> Result<u64, JobError> {
        let mut tx = self.deps.pools.primary.begin().await?;
        let marker = lock_watermark(&mut tx, FUNDING_PAYMENTS_WATERMARK).await?;
        let current = parse_height(FUNDING_PAYMENTS_WATERMARK, marker)?;
        if current != previous {
            return Err(JobError::Invalid(format!(
                "{FUNDING_PAYMENTS_WATERMARK} moved from {previous} to {current} during the run"
            )));
        }
        let written = insert_funding_payments(&mut tx, previous, height).await?;
        set_watermark(&mut tx, FUNDING_PAYMENTS_WATERMARK, &height.to_string()).await?;
        tx.commit().await?;
        Ok(written)
    }
}

#[async_trait]
impl Job for UpdateFundingPayments {
    async fn run(&self, ctx: &RunContext) -> Result<(), JobError> {
        let primary = &self.deps.pools.primary;
        let marker: Option<String> =
            sqlx::query_scalar("SELECT value FROM persistent_cache WHERE key = $1")
                .bind(FUNDING_PAYMENTS_WATERMARK)
                .fetch_optional(primary)
                .await?
                .filter(|v: &String| !v.is_empty());
        let mut previous = parse_height(FUNDING_PAYMENTS_WATERMARK, marker)?;
        let heights =
            funding_heights_after(primary, previous, self.max_heights_per_run as i64).await?;
        for height in heights {
            if ctx.cancel.is_cancelled() {
                break;
            }
            let written = self.process(previous, height).await?;
            tracing::info!(height, previous, written, "funding payments written");
            metrics::count("roundtable_funding_payments_written_total", written);
            metrics::gauge(
                "roundtable_funding_payments_processed_height",
                height as f64,
            );
            previous = height;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_heights_and_default_to_zero() {
        assert_eq!(parse_height("k", None).unwrap(), 0);
        assert_eq!(parse_height("k", Some("1234".into())).unwrap(), 1234);
        assert!(parse_height("k", Some("abc".into())).is_err());
    }
}
