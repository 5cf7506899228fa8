//! `update_compliance_data` (ops.md §1.4 #12): screens addresses with a compliance provider and
//! restricts the ones it blocks.
//!
//! Per run, at most `MAX_COMPLIANCE_DATA_QUERY_PER_LOOP` addresses, in this order: addresses
//! active within `ACTIVE_ADDRESS_THRESHOLD_SECONDS` never screened; active ones whose unblocked
//! screening is older than `MAX_ACTIVE_COMPLIANCE_DATA_AGE_SECONDS`; then addresses (with a
//! wallet) whose unblocked screening is older than `MAX_COMPLIANCE_DATA_AGE_SECONDS`. Addresses
//! already CLOSE_ONLY or BLOCKED are skipped. The provider is asked in batches of
//! `COMPLIANCE_PROVIDER_QUERY_BATCH_SIZE` with `COMPLIANCE_PROVIDER_QUERY_DELAY_MS` between
//! batches (vendor rate limits); a failed answer is logged and counted, the others are kept.
//! Results are upserted into `compliance_data` and every newly blocked address becomes
//! CLOSE_ONLY (reason COMPLIANCE_PROVIDER) in the same transaction.
//!
//! Providers are pluggable ([`ScreeningProvider`]); `COMPLIANCE_DATA_CLIENT` picks one:
//! NONE (default: the job is off), BLOCKLIST (`BLOCKED_ADDRESSES`), PLACEHOLDER (test networks:
//! blocks addresses ending in b…l). ELLIPTIC is not built in; choosing it leaves the job off
//! with a warning. The reference's cap bug (a run with more new addresses than the cap screened
//! none of them) is not reproduced.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use indexer_store::roundtable::compliance::{
    active_addresses, record_screenings, restricted_addresses, screenings_of, stale_screenings,
    Screening,
};

use crate::jobs::Deps;
use crate::metrics;
use crate::scheduler::{Job, RunContext};
use crate::JobError;

/// A provider's verdict on one address.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub blocked: bool,
    pub risk_score: Option<bigdecimal::BigDecimal>,
}

/// A compliance screening provider.
#[async_trait]
pub trait ScreeningProvider: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    async fn screen(&self, address: &str) -> Result<Verdict, String>;
}

/// Blocks exactly the configured addresses.
pub struct Blocklist(pub HashSet<String>);

#[async_trait]
impl ScreeningProvider for Blocklist {
    fn name(&self) -> &'static str {
        "BLOCKLIST"
    }
    async fn screen(&self, address: &str) -> Result<Verdict, String> {
        Ok(Verdict {
            blocked: self.0.contains(address),
            risk_score: None,
        })
    }
}

/// For test networks: blocks (risk score 75) addresses whose last character is b…l.
pub struct Placeholder;

#[async_trait]
impl ScreeningProvider for Placeholder {
    fn name(&self) -> &'static str {
        "PLACEHOLDER"
    }
    async fn screen(&self, address: &str) -> Result<Verdict, String> {
        let blocked = address
            .chars()
            .last()
            .is_some_and(|c| ('b'..='l').contains(&c));
        Ok(Verdict {
            blocked,
            risk_score: blocked.then(|| bigdecimal::BigDecimal::from(75)),
        })
    }
}

/// Limits of one run.
#[derive(Debug, Clone, Copy)]
pub struct ScreeningSettings {
    pub active_within: Duration,
    pub max_age: Duration,
    pub max_active_age: Duration,
    pub max_per_run: usize,
    pub batch_size: usize,
    pub batch_delay: Duration,
}

/// What is known about the active addresses.
#[derive(Debug, Clone, Default)]
pub struct ActiveScreenings {
    pub active: Vec<String>,
    /// (address, blocked, screened at) of active addresses screened before.
    pub screened: Vec<(String, bool, DateTime<Utc>)>,
}

/// The active addresses to screen, in priority order, at most `max`: never screened first,
/// then unblocked ones screened at or before `active_cutoff` (oldest first).
pub fn choose_active(
    known: &ActiveScreenings,
    active_cutoff: DateTime<Utc>,
    max: usize,
) -> Vec<String> {
    let screened: HashSet<&str> = known.screened.iter().map(|(a, _, _)| a.as_str()).collect();
    let mut chosen: Vec<String> = known
        .active
        .iter()
        .filter(|a| !screened.contains(a.as_str()))
        .cloned()
        .collect();
    let mut due: Vec<&(String, bool, DateTime<Utc>)> = known
        .screened
        .iter()
        .filter(|(_, blocked, at)| !blocked && *at <= active_cutoff)
        .collect();
    due.sort_by_key(|(address, _, at)| (*at, address.clone()));
    chosen.extend(due.into_iter().map(|(a, _, _)| a.clone()));
    chosen.truncate(max);
    chosen
}

pub struct UpdateComplianceData {
    deps: Deps,
    provider: Arc<dyn ScreeningProvider>,
    settings: ScreeningSettings,
}

fn ago(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    now - TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

impl UpdateComplianceData {
    pub fn new(
        deps: Deps,
        provider: Arc<dyn ScreeningProvider>,
        settings: ScreeningSettings,
    ) -> Self {
        Self {
            deps,
            provider,
            settings,
        }
    }

    /// The addresses to screen this run.
    async fn candidates(&self, now: DateTime<Utc>) -> Result<Vec<String>, JobError> {
        let reader = self.deps.pools.reader();
        let active = active_addresses(reader, ago(now, self.settings.active_within)).await?;
        let screened = screenings_of(reader, &active).await?;
        let known = ActiveScreenings { active, screened };
        let mut chosen = choose_active(
            &known,
            ago(now, self.settings.max_active_age),
            self.settings.max_per_run,
        );
        let room = self.settings.max_per_run.saturating_sub(chosen.len());
        if room > 0 {
            for address in
                stale_screenings(reader, ago(now, self.settings.max_age), room as i64).await?
            {
                if !chosen.contains(&address) {
                    chosen.push(address);
                }
            }
        }
        // Read from the primary: a restriction must never be overwritten by a lagging view.
        let restricted: HashSet<String> = restricted_addresses(&self.deps.pools.primary, &chosen)
            .await?
            .into_iter()
            .collect();
        chosen.retain(|a| !restricted.contains(a));
        Ok(chosen)
    }

    /// Asks the provider about `addresses` in rate-limited batches.
    async fn screen(&self, addresses: &[String], ctx: &RunContext) -> Vec<Screening> {
        let mut screenings = Vec::with_capacity(addresses.len());
        for (index, batch) in addresses
            .chunks(self.settings.batch_size.max(1))
            .enumerate()
        {
            if index > 0 {
                tokio::select! {
                    _ = tokio::time::sleep(self.settings.batch_delay) => {}
                    _ = ctx.cancel.cancelled() => break,
                }
            }
            let answers =
                futures::future::join_all(batch.iter().map(|a| self.provider.screen(a))).await;
            for (address, answer) in batch.iter().zip(answers) {
                match answer {
                    Ok(verdict) => screenings.push(Screening {
                        address: address.clone(),
                        blocked: verdict.blocked,
                        risk_score: verdict.risk_score,
                    }),
                    Err(reason) => {
                        tracing::error!(%address, provider = self.provider.name(), %reason, "compliance screening failed");
                        metrics::count("roundtable_compliance_screening_failures_total", 1);
                    }
                }
            }
        }
        screenings
    }
}

#[async_trait]
impl Job for UpdateComplianceData {
    async fn run(&self, ctx: &RunContext) -> Result<(), JobError> {
        let now = Utc::now();
        let addresses = self.candidates(now).await?;
        if addresses.is_empty() {
            return Ok(());
        }
        let screenings = self.screen(&addresses, ctx).await;
        let mut tx = self.deps.pools.primary.begin().await?;
        let restricted = record_screenings(&mut tx, &screenings, Utc::now()).await?;
        tx.commit().await?;
        if !restricted.is_empty() {
            tracing::info!(addresses = ?restricted, provider = self.provider.name(), "addresses blocked by the provider are now close-only");
        }
        metrics::count(
            "roundtable_compliance_addresses_screened_total",
            screenings.len() as u64,
        );
        metrics::count(
            "roundtable_compliance_addresses_restricted_total",
            restricted.len() as u64,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, h, 0, 0).unwrap()
    }

    #[test]
    fn new_addresses_come_first_then_the_oldest_unblocked_screenings_up_to_the_cap() {
        let known = ActiveScreenings {
            active: vec![
                "new1".into(),
                "old".into(),
                "older".into(),
                "blocked".into(),
                "fresh".into(),
                "new2".into(),
            ],
            screened: vec![
                ("old".into(), false, at(5)),
                ("older".into(), false, at(2)),
                ("blocked".into(), true, at(1)),
                ("fresh".into(), false, at(11)),
            ],
        };
        assert_eq!(
            choose_active(&known, at(10), 10),
            vec!["new1", "new2", "older", "old"]
        );
        assert_eq!(
            choose_active(&known, at(10), 3),
            vec!["new1", "new2", "older"]
        );
    }

    #[tokio::test]
    async fn built_in_providers_decide_as_documented() {
        let placeholder = Placeholder;
        assert!(placeholder.screen("dydx1abc").await.unwrap().blocked);
        assert!(!placeholder.screen("dydx1abz").await.unwrap().blocked);
        assert!(
            !placeholder.screen("dydx1aba").await.unwrap().blocked,
            "a is outside b..l"
        );
        let blocklist = Blocklist(HashSet::from(["dydx1bad".to_string()]));
        assert!(blocklist.screen("dydx1bad").await.unwrap().blocked);
        assert!(!blocklist.screen("dydx1good").await.unwrap().blocked);
    }
}
