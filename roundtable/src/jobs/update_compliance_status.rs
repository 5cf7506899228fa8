//! `update_compliance_status` (ops.md §1.4 #13, the reference's
//! perform-compliance-status-transitions): addresses CLOSE_ONLY for longer than
//! `CLOSE_ONLY_TO_BLOCKED_DAYS` become BLOCKED. Comlink and socks read `compliance_status` to
//! restrict addresses. Postgres only; the screening provider is a separate job.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{TimeDelta, Utc};
use indexer_store::roundtable::compliance::block_stale_close_only;

use crate::jobs::Deps;
use crate::metrics;
use crate::scheduler::{Job, RunContext};
use crate::JobError;

pub struct UpdateComplianceStatus {
    deps: Deps,
    close_only_grace: Duration,
}

impl UpdateComplianceStatus {
    pub fn new(deps: Deps, close_only_grace: Duration) -> Self {
        Self {
            deps,
            close_only_grace,
        }
    }
}

#[async_trait]
impl Job for UpdateComplianceStatus {
    async fn run(&self, _ctx: &RunContext) -> Result<(), JobError> {
        let cutoff =
            Utc::now() - TimeDelta::from_std(self.close_only_grace).unwrap_or(TimeDelta::MAX);
        let mut conn = self.deps.pools.primary.acquire().await?;
        let blocked = block_stale_close_only(&mut conn, cutoff).await?;
        if !blocked.is_empty() {
            tracing::info!(addresses = ?blocked, "close-only addresses past their grace period are now blocked");
        }
        metrics::count(
            "roundtable_compliance_close_only_blocked_total",
            blocked.len() as u64,
        );
        Ok(())
    }
}
