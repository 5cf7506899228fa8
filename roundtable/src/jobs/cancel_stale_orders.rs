//! `cancel_stale_orders` (ops.md §1.4 #8): short-term orders that reached Postgres (through a
//! partial fill) and are still OPEN after their good-til-block passed are set to CANCELED, so
//! `/v4/orders` and order history stop showing them as open.
//!
//! Reads (replica): up to `CANCEL_STALE_ORDERS_QUERY_BATCH_SIZE` OPEN short-term orders with
//! good-til-block ≤ latest height − 1. Writes (primary): status CANCELED, guarded by "still OPEN
//! and good-til-block < latest height".

use async_trait::async_trait;
use indexer_store::roundtable::orders::{cancel_stale_orders, stale_open_short_term_orders};

use crate::jobs::Deps;
use crate::metrics;
use crate::scheduler::{Job, RunContext};
use crate::JobError;

pub struct CancelStaleOrders {
    deps: Deps,
    batch: i64,
}

impl CancelStaleOrders {
    pub fn new(deps: Deps, batch: i64) -> Self {
        Self { deps, batch }
    }
}

#[async_trait]
impl Job for CancelStaleOrders {
    async fn run(&self, _ctx: &RunContext) -> Result<(), JobError> {
        let reader = self.deps.pools.reader();
        let Some(height) = indexer_store::last_processed_height(reader).await? else {
            tracing::info!("no block processed yet; no stale orders");
            return Ok(());
        };
        let stale = stale_open_short_term_orders(reader, height - 1, self.batch).await?;
        let mut conn = self.deps.pools.primary.acquire().await?;
        let canceled = cancel_stale_orders(&mut conn, &stale, height).await?;
        if canceled > 0 {
            tracing::info!(
                found = stale.len(),
                canceled,
                height,
                "stale short-term orders canceled"
            );
        }
        metrics::gauge("roundtable_stale_orders_found", stale.len() as f64);
        metrics::count("roundtable_stale_orders_canceled_total", canceled);
        Ok(())
    }
}
