//! `update_pnl` (ops.md §1.4 #31): one `pnl` row per subaccount per funding tick, behind the
//! newer PnL endpoints. Depends on `update_funding_payments`' rows.
//!
//! For each height with funding payments after the marker
//! (`persistent_cache.pnlLastProcessedHeight`), in ascending order and one transaction each
//! (marker included): new total PnL = previous + funding received + change in position value +
//! trade cash flow (sells − buys − fees); net transfers accumulate; equity = PnL + net transfers.
//! Bounded per run like the funding payments; stops between heights at shutdown.

use async_trait::async_trait;
use indexer_store::roundtable::pnl::{insert_pnl, payment_heights_after, PNL_WATERMARK};
use indexer_store::roundtable::watermarks::{lock_watermark, set_watermark};

use crate::jobs::update_funding_payments::parse_height;
use crate::jobs::Deps;
use crate::metrics;
use crate::scheduler::{Job, RunContext};
use crate::JobError;

pub struct UpdatePnl {
    deps: Deps,
    max_heights_per_run: usize,
}

impl UpdatePnl {
    pub fn new(deps: Deps, max_heights_per_run: usize) -> Self {
        Self {
            deps,
            max_heights_per_run,
        }
    }

    /// Processes `height` if the marker is still `previous`; returns the rows written.
    async fn process(&self, previous: i64, height: i64) -> Result<u64, JobError> {
        let mut tx = self.deps.pools.primary.begin().await?;
        let current = parse_height(PNL_WATERMARK, lock_watermark(&mut tx, PNL_WATERMARK).await?)?;
        if current != previous {
            return Err(JobError::Invalid(format!(
                "{PNL_WATERMARK} moved from {previous} to {current} during the run"
            )));
        }
        let written = insert_pnl(&mut tx, previous, height).await?;
        set_watermark(&mut tx, PNL_WATERMARK, &height.to_string()).await?;
        tx.commit().await?;
        Ok(written)
    }
}

#[async_trait]
impl Job for UpdatePnl {
    async fn run(&self, ctx: &RunContext) -> Result<(), JobError> {
        let primary = &self.deps.pools.primary;
        let marker: Option<String> =
            sqlx::query_scalar("SELECT value FROM persistent_cache WHERE key = $1")
                .bind(PNL_WATERMARK)
                .fetch_optional(primary)
                .await?
                .filter(|v: &String| !v.is_empty());
        let mut previous = parse_height(PNL_WATERMARK, marker)?;
        let heights =
            payment_heights_after(primary, previous, self.max_heights_per_run as i64).await?;
        for height in heights {
            if ctx.cancel.is_cancelled() {
                break;
            }
            let written = self.process(previous, height).await?;
            tracing::info!(height, previous, written, "pnl written");
            metrics::count("roundtable_pnl_rows_written_total", written);
            previous = height;
        }
        Ok(())
    }
}
