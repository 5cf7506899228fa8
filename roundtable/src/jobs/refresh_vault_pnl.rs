//! `refresh_vault_pnl` (ops.md §1.4 #28): refreshes the materialized views behind the megavault
//! and vault PnL charts: `vaults_hourly_pnl` during the first `TIME_WINDOW_FOR_REFRESH_VAULT_PNL_MS`
//! of every hour, `vaults_daily_pnl` during the first window of every UTC day (the views take
//! the first PnL tick of each hour or day, which exists shortly after the period starts).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use indexer_store::roundtable::vault_pnl::{refresh_vault_pnl_view, VaultPnlView};

use crate::jobs::Deps;
use crate::scheduler::{Job, RunContext};
use crate::JobError;

/// The views due at `now`: those whose period started less than `window` ago.
pub fn views_due(now: DateTime<Utc>, window: Duration) -> Vec<VaultPnlView> {
    let window = TimeDelta::from_std(window).unwrap_or(TimeDelta::MAX);
    let since = |unit: TimeDelta| now - now.duration_trunc(unit).expect("whole units truncate");
    let mut due = Vec::new();
    if since(TimeDelta::hours(1)) < window {
        due.push(VaultPnlView::Hourly);
    }
    if since(TimeDelta::days(1)) < window {
        due.push(VaultPnlView::Daily);
    }
    due
}

pub struct RefreshVaultPnl {
    deps: Deps,
    window: Duration,
}

impl RefreshVaultPnl {
    pub fn new(deps: Deps, window: Duration) -> Self {
        Self { deps, window }
    }

    /// Refreshes `views` on the primary.
    pub async fn refresh(&self, views: &[VaultPnlView]) -> Result<(), JobError> {
        let mut conn = self.deps.pools.primary.acquire().await?;
        for view in views {
            refresh_vault_pnl_view(&mut conn, *view).await?;
            tracing::info!(view = view.name(), "vault pnl view refreshed");
        }
        Ok(())
    }
}

#[async_trait]
impl Job for RefreshVaultPnl {
    async fn run(&self, ctx: &RunContext) -> Result<(), JobError> {
        self.refresh(&views_due(ctx.tick, self.window)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn views_are_refreshed_early_in_their_hour_or_day() {
        let window = Duration::from_secs(15 * 60);
        let at = |h, m| Utc.with_ymd_and_hms(2025, 3, 1, h, m, 0).unwrap();
        assert_eq!(
            views_due(at(0, 5), window),
            vec![VaultPnlView::Hourly, VaultPnlView::Daily]
        );
        assert_eq!(views_due(at(13, 10), window), vec![VaultPnlView::Hourly]);
        assert!(views_due(at(13, 15), window).is_empty());
    }
}
