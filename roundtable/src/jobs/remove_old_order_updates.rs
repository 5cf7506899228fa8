//! `remove_old_order_updates` (ops.md §1.4 #15): vulcan parks fills of stateful orders whose
//! placement it has not seen yet (`v4/stateful_order_update_ids` + `v4/stateful_order_updates`);
//! entries older than `OLD_CACHED_ORDER_UPDATES_WINDOW_MS` will never apply and are removed from
//! both structures atomically, so the cache does not grow forever.

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use indexer_cache::maintenance::purge_stateful_order_updates;

use crate::jobs::Deps;
use crate::metrics;
use crate::scheduler::{Job, RunContext};
use crate::JobError;

/// Ids removed per atomic script call.
const PURGE_BATCH: usize = 1_000;

pub struct RemoveOldOrderUpdates {
    deps: Deps,
    window: Duration,
}

impl RemoveOldOrderUpdates {
    pub fn new(deps: Deps, window: Duration) -> Self {
        Self { deps, window }
    }
}

#[async_trait]
impl Job for RemoveOldOrderUpdates {
    async fn run(&self, _ctx: &RunContext) -> Result<(), JobError> {
        let cutoff_ms = Utc::now().timestamp_millis() - self.window.as_millis() as i64;
        let removed =
            purge_stateful_order_updates(&self.deps.cache, cutoff_ms, PURGE_BATCH).await?;
        if !removed.is_empty() {
            tracing::info!(count = removed.len(), orders = ?removed, "removed parked stateful-order updates that never applied");
        }
        metrics::gauge("roundtable_old_order_updates_removed", removed.len() as f64);
        Ok(())
    }
}
