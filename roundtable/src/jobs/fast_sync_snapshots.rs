//! `take_fast_sync_snapshot` and `delete_old_fast_sync_snapshots` (ops.md §1.4 #10–11): manual
//! RDS snapshots named `<prefix>-<instance>-<yyyy-MM-dd-HH-mm>` that, with a full node's
//! snapshot, let an operator start a new indexer without replaying the chain. AWS only; off by
//! default (the reference had them on, failing every run outside AWS).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use crate::aws::{rds, AwsClient, AwsError};
use crate::scheduler::{Job, RunContext};
use crate::JobError;

/// Snapshots older than this are deleted (hard-coded in the reference too).
pub const MAX_SNAPSHOT_AGE: TimeDelta = TimeDelta::days(7);

/// The fast-sync snapshots among `snapshots` (by name prefix), newest first.
pub fn fast_sync_snapshots<'a>(
    snapshots: &'a [rds::Snapshot],
    prefix: &str,
) -> Vec<&'a rds::Snapshot> {
    let mut found: Vec<&rds::Snapshot> = snapshots
        .iter()
        .filter(|s| s.id.starts_with(prefix))
        .collect();
    found.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    found
}

/// Whether a new snapshot is due: none yet, or the newest is at least `interval` old. A
/// snapshot still being created (no time yet) counts as new.
pub fn snapshot_due(
    newest: Option<&rds::Snapshot>,
    interval: TimeDelta,
    now: DateTime<Utc>,
) -> bool {
    match newest {
        None => true,
        Some(snapshot) => snapshot
            .created_at
            .is_some_and(|created| now - created >= interval),
    }
}

/// `<prefix>-<instance>-<yyyy-MM-dd-HH-mm>`.
pub fn snapshot_name(prefix: &str, instance: &str, now: DateTime<Utc>) -> String {
    format!("{prefix}-{instance}-{}", now.format("%Y-%m-%d-%H-%M"))
}

/// Fast-sync snapshots created more than `max_age` before `now`.
pub fn expired<'a>(
    snapshots: &[&'a rds::Snapshot],
    max_age: TimeDelta,
    now: DateTime<Utc>,
) -> Vec<&'a rds::Snapshot> {
    snapshots
        .iter()
        .copied()
        .filter(|s| s.created_at.is_some_and(|created| now - created > max_age))
        .collect()
}

/// Where and how the snapshot jobs work.
#[derive(Clone)]
pub struct SnapshotTarget {
    pub client: AwsClient,
    pub instance: String,
    pub prefix: String,
}

impl SnapshotTarget {
    async fn fast_sync_snapshots(&self) -> Result<Vec<rds::Snapshot>, AwsError> {
        let all = rds::describe_snapshots(&self.client, &self.instance, Some("manual")).await?;
        Ok(fast_sync_snapshots(&all, &self.prefix)
            .into_iter()
            .cloned()
            .collect())
    }
}

/// Takes a snapshot when the newest fast-sync one is older than the job's interval, then waits
/// for it to become available.
pub struct TakeFastSyncSnapshot {
    target: SnapshotTarget,
    interval: TimeDelta,
    /// Polling of the new snapshot's status: every `poll`, at most `polls` times.
    poll: Duration,
    polls: u32,
}

impl TakeFastSyncSnapshot {
    /// `interval` is the job's period. A snapshot is due once the newest is 90 % of it old, so
    /// that a tick a few seconds earlier than the last snapshot's creation still takes one.
    pub fn new(target: SnapshotTarget, interval: Duration) -> Self {
        TakeFastSyncSnapshot {
            target,
            interval: TimeDelta::from_std(interval * 9 / 10).unwrap_or(TimeDelta::MAX),
            poll: Duration::from_secs(60),
            polls: 10,
        }
    }

    /// Shorter polling (tests).
    pub fn with_polling(mut self, poll: Duration, polls: u32) -> Self {
        self.poll = poll;
        self.polls = polls;
        self
    }

    async fn wait_available(&self, id: &str, ctx: &RunContext) -> Result<(), JobError> {
        for _ in 0..self.polls {
            let status = rds::describe_snapshot(&self.target.client, id)
                .await
                .map_err(aws)?
                .map(|s| s.status);
            if status.as_deref() == Some("available") {
                tracing::info!(snapshot = id, "fast-sync snapshot available");
                return Ok(());
            }
            tokio::select! {
                _ = ctx.cancel.cancelled() => return Ok(()),
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
        Err(JobError::External(format!(
            "snapshot {id} not available after {} polls",
            self.polls
        )))
    }
}

#[async_trait]
impl Job for TakeFastSyncSnapshot {
    async fn run(&self, ctx: &RunContext) -> Result<(), JobError> {
        let now = Utc::now();
        let existing = self.target.fast_sync_snapshots().await.map_err(aws)?;
        if !snapshot_due(existing.first(), self.interval, now) {
            return Ok(());
        }
        let name = snapshot_name(&self.target.prefix, &self.target.instance, now);
        rds::create_snapshot(&self.target.client, &self.target.instance, &name)
            .await
            .map_err(aws)?;
        tracing::info!(snapshot = %name, "fast-sync snapshot started");
        self.wait_available(&name, ctx).await
    }
}

/// Deletes fast-sync snapshots older than seven days.
pub struct DeleteOldFastSyncSnapshots {
    target: SnapshotTarget,
    max_age: TimeDelta,
}

impl DeleteOldFastSyncSnapshots {
    pub fn new(target: SnapshotTarget) -> Self {
        Self::with_max_age(target, MAX_SNAPSHOT_AGE)
    }

    pub fn with_max_age(target: SnapshotTarget, max_age: TimeDelta) -> Self {
        DeleteOldFastSyncSnapshots { target, max_age }
    }
}

#[async_trait]
impl Job for DeleteOldFastSyncSnapshots {
    async fn run(&self, _ctx: &RunContext) -> Result<(), JobError> {
        let existing = self.target.fast_sync_snapshots().await.map_err(aws)?;
        let refs: Vec<&rds::Snapshot> = existing.iter().collect();
        for snapshot in expired(&refs, self.max_age, Utc::now()) {
            rds::delete_snapshot(&self.target.client, &snapshot.id)
                .await
                .map_err(aws)?;
            tracing::info!(snapshot = %snapshot.id, "old fast-sync snapshot deleted");
        }
        Ok(())
    }
}

fn aws(error: AwsError) -> JobError {
    JobError::External(error.to_string())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn snapshot(id: &str, created: Option<DateTime<Utc>>) -> rds::Snapshot {
        rds::Snapshot {
            id: id.into(),
            arn: format!("arn:{id}"),
            status: "available".into(),
            kind: "manual".into(),
            created_at: created,
        }
    }

    #[test]
    fn a_snapshot_is_due_when_the_newest_is_an_interval_old() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        let four_hours = TimeDelta::hours(4);
        let all = [
            snapshot("fast-sync-a", Some(now - TimeDelta::hours(9))),
            snapshot("fast-sync-b", Some(now - TimeDelta::hours(3))),
            snapshot("manual-backup", Some(now - TimeDelta::minutes(1))),
        ];
        let fast = fast_sync_snapshots(&all, "fast-sync");
        assert_eq!(
            fast[0].id, "fast-sync-b",
            "newest first; other snapshots ignored"
        );
        assert!(!snapshot_due(fast.first().copied(), four_hours, now));
        assert!(snapshot_due(
            fast.first().copied(),
            four_hours,
            now + TimeDelta::hours(1)
        ));
        assert!(snapshot_due(None, four_hours, now));
        let creating = snapshot("fast-sync-c", None);
        assert!(!snapshot_due(Some(&creating), four_hours, now));
    }

    #[test]
    fn names_and_expiry_follow_the_reference() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 4, 5, 59).unwrap();
        assert_eq!(
            snapshot_name("fast-sync", "indexer", now),
            "fast-sync-indexer-2026-11-22-04-05"
        );
        let old = snapshot("fast-sync-old", Some(now - TimeDelta::days(8)));
        let recent = snapshot("fast-sync-recent", Some(now - TimeDelta::days(6)));
        let creating = snapshot("fast-sync-creating", None);
        let gone = expired(&[&old, &recent, &creating], MAX_SNAPSHOT_AGE, now);
        assert_eq!(gone, vec![&old]);
    }
}
