//! `delete_old_firebase_notification_tokens` (ops.md §1.4 #27): push-notification tokens not
//! refreshed for a month are deleted. Postgres only; Firebase itself is never called.

use async_trait::async_trait;
use chrono::{Months, Utc};
use indexer_store::roundtable::housekeeping::delete_notification_tokens_before;

use crate::jobs::Deps;
use crate::scheduler::{Job, RunContext};
use crate::JobError;

pub struct DeleteOldFirebaseNotificationTokens {
    deps: Deps,
}

impl DeleteOldFirebaseNotificationTokens {
    pub fn new(deps: Deps) -> Self {
        Self { deps }
    }
}

#[async_trait]
impl Job for DeleteOldFirebaseNotificationTokens {
    async fn run(&self, _ctx: &RunContext) -> Result<(), JobError> {
        let now = Utc::now();
        let cutoff = now.checked_sub_months(Months::new(1)).unwrap_or(now);
        let mut conn = self.deps.pools.primary.acquire().await?;
        let deleted = delete_notification_tokens_before(&mut conn, cutoff).await?;
        tracing::info!(deleted, "old push-notification tokens deleted");
        Ok(())
    }
}
