//! `update_wallet_total_volume` (ops.md §1.4 #25) and `update_affiliate_info` (#26): running
//! totals over windows of fills, behind affiliate eligibility and the affiliate endpoints.
//!
//! Each run takes the window from the job's marker (`persistent_cache`:
//! `totalVolumeUpdateTime`, default 2023-10-26T00:00Z; `affiliateInfoUpdateTime`, default
//! 2024-09-16T00:00Z) to the earlier of the latest block's time and marker + 1 day (bounded
//! backfill steps), adds it, and moves the marker in the same transaction. The window ends at a
//! block time, never the wall clock, so fills of a block not yet committed cannot fall behind the
//! marker (the reference's wallet-volume job used the wall clock and its marker was written
//! outside the transaction). The marker's age is exported as
//! `roundtable_watermark_lag_seconds{key}`; dYdX alerts above 600 s.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use indexer_domain::time::to_iso;
use indexer_store::roundtable::affiliates::{
    add_affiliate_stats, add_wallet_volume, AFFILIATE_INFO_WATERMARK, WALLET_VOLUME_WATERMARK,
};
use indexer_store::roundtable::blocks::latest_block;
use indexer_store::roundtable::watermarks::{lock_watermark, set_watermark};

use crate::jobs::Deps;
use crate::metrics;
use crate::scheduler::{Job, RunContext};
use crate::JobError;

/// Which running total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FillTotal {
    WalletVolume,
    AffiliateInfo,
}

impl FillTotal {
    pub fn watermark_key(self) -> &'static str {
        match self {
            FillTotal::WalletVolume => WALLET_VOLUME_WATERMARK,
            FillTotal::AffiliateInfo => AFFILIATE_INFO_WATERMARK,
        }
    }

    /// Where the totals start when no marker exists (the reference's defaults).
    pub fn default_start(self) -> DateTime<Utc> {
        let (y, m, d) = match self {
            FillTotal::WalletVolume => (2023, 10, 26),
            FillTotal::AffiliateInfo => (2024, 9, 16),
        };
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0)
            .single()
            .expect("valid date")
    }
}

/// The window after `start`: up to the latest block time, at most one day.
pub fn window_end(start: DateTime<Utc>, latest_block_time: DateTime<Utc>) -> DateTime<Utc> {
    latest_block_time.min(start + TimeDelta::days(1))
}

pub struct UpdateFillTotals {
    deps: Deps,
    total: FillTotal,
}

impl UpdateFillTotals {
    pub fn new(deps: Deps, total: FillTotal) -> Self {
        Self { deps, total }
    }
}

#[async_trait]
impl Job for UpdateFillTotals {
    async fn run(&self, _ctx: &RunContext) -> Result<(), JobError> {
        let key = self.total.watermark_key();
        let mut tx = self.deps.pools.primary.begin().await?;
        let start = match lock_watermark(&mut tx, key).await? {
            Some(text) => DateTime::parse_from_rfc3339(&text)
                .map_err(|e| JobError::Invalid(format!("{key} = {text:?}: {e}")))?
                .with_timezone(&Utc),
            None => self.total.default_start(),
        };
        let Some((_, latest_time)) = latest_block(&mut *tx).await? else {
            return Ok(());
        };
        let end = window_end(start, latest_time);
        if end > start {
            let written = match self.total {
                FillTotal::WalletVolume => add_wallet_volume(&mut tx, start, end).await?,
                FillTotal::AffiliateInfo => add_affiliate_stats(&mut tx, start, end).await?,
            };
            set_watermark(&mut tx, key, &to_iso(&end)).await?;
            tx.commit().await?;
            tracing::debug!(key, from = %to_iso(&start), to = %to_iso(&end), written, "fill totals added");
        }
        let lag = (Utc::now() - end.max(start)).num_milliseconds() as f64 / 1000.0;
        metrics::gauge_labeled(
            "roundtable_watermark_lag_seconds",
            "key",
            key.to_string(),
            lag,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_end_at_the_latest_block_or_one_day_later() {
        let start = Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap();
        let block = Utc.with_ymd_and_hms(2025, 3, 1, 6, 0, 0).unwrap();
        assert_eq!(window_end(start, block), block);
        let far = Utc.with_ymd_and_hms(2025, 3, 9, 0, 0, 0).unwrap();
        assert_eq!(window_end(start, far), start + TimeDelta::days(1));
    }
}
