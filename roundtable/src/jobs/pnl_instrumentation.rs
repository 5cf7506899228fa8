//! `pnl_instrumentation` (ops.md §1.4 #7): alerts when PnL ticks fall behind. Metrics and logs
//! only.
//!
//! Of the subaccounts that ever transferred, counts those whose latest tick is at least
//! `STALE_AFTER` (2 h) old and those without any tick whose latest transfer is older than that
//! (they should have had one by now). Exports `roundtable_pnl_stale_subaccounts{prior_pnl}` and
//! logs the stale ids at ERROR (paging, as in the reference) when there are any.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use indexer_store::roundtable::housekeeping::last_transfer_times;
use uuid::Uuid;

use crate::jobs::create_pnl_ticks::{load_last_ticks, LastTick};
use crate::jobs::Deps;
use crate::metrics;
use crate::scheduler::{Job, RunContext};
use crate::JobError;

/// How old a subaccount's latest tick may be.
pub const STALE_AFTER: TimeDelta = TimeDelta::hours(2);

/// Stale subaccounts: (with a prior tick, without one), sorted.
pub fn stale_subaccounts(
    last_transfers: &[(Uuid, DateTime<Utc>)],
    last_ticks: &HashMap<Uuid, LastTick>,
    now: DateTime<Utc>,
) -> (Vec<Uuid>, Vec<Uuid>) {
    let (mut with_prior, mut without_prior) = (Vec::new(), Vec::new());
    for (id, transferred_at) in last_transfers {
        match last_ticks.get(id) {
            Some(tick) if now - tick.block_time >= STALE_AFTER => with_prior.push(*id),
            Some(_) => {}
            None if now - *transferred_at > STALE_AFTER => without_prior.push(*id),
            None => {}
        }
    }
    with_prior.sort();
    without_prior.sort();
    (with_prior, without_prior)
}

pub struct PnlInstrumentation {
    deps: Deps,
}

impl PnlInstrumentation {
    pub fn new(deps: Deps) -> Self {
        Self { deps }
    }
}

#[async_trait]
impl Job for PnlInstrumentation {
    async fn run(&self, _ctx: &RunContext) -> Result<(), JobError> {
        let transfers = last_transfer_times(self.deps.pools.reader()).await?;
        let ticks = load_last_ticks(&self.deps).await?;
        let (with_prior, without_prior) = stale_subaccounts(&transfers, &ticks, Utc::now());
        metrics::gauge_labeled(
            "roundtable_pnl_stale_subaccounts",
            "prior_pnl",
            "true".into(),
            with_prior.len() as f64,
        );
        metrics::gauge_labeled(
            "roundtable_pnl_stale_subaccounts",
            "prior_pnl",
            "false".into(),
            without_prior.len() as f64,
        );
        if !with_prior.is_empty() || !without_prior.is_empty() {
            tracing::error!(
                ?with_prior,
                ?without_prior,
                "subaccounts without a recent pnl tick"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn stale_accounts_are_told_apart_by_whether_they_ever_had_a_tick() {
        let now = Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap();
        let (fresh, old, new_recent, new_old) = (
            Uuid::from_u128(1),
            Uuid::from_u128(2),
            Uuid::from_u128(3),
            Uuid::from_u128(4),
        );
        let tick = |h| LastTick {
            block_height: 1,
            block_time: now - TimeDelta::hours(h),
        };
        let ticks = HashMap::from([(fresh, tick(1)), (old, tick(3))]);
        let transfers = [
            (fresh, now - TimeDelta::hours(5)),
            (old, now - TimeDelta::hours(5)),
            (new_recent, now - TimeDelta::minutes(30)),
            (new_old, now - TimeDelta::hours(3)),
        ];
        assert_eq!(
            stale_subaccounts(&transfers, &ticks, now),
            (vec![old], vec![new_old])
        );
    }
}
