//! The job scheduler: cron or interval ticks, fleet-wide "once per tick" and "no overlapping
//! runs" locks in Redis, a per-process concurrency cap (with a separate budget for long backfill
//! jobs), failure isolation, and a shutdown that waits for running jobs up to a deadline.
//!
//! Each job has one loop task. Per tick it:
//! 1. sleeps until the tick (plus a small random jitter, so one instance does not win every
//!    race and carry the whole fleet's load);
//! 2. waits for a slot of its budget, but not past the next tick (then the tick is skipped
//!    here; another instance with room may take it);
//! 3. claims the tick in Redis (only the first instance to claim it proceeds);
//! 4. takes the no-overlap lock (skipped if a previous run still holds it anywhere), renews it
//!    while the run lasts, and releases it after;
//! 5. records the outcome. A failing or panicking job is logged at error (which reaches
//!    Bugsnag), counted, and simply runs again at its next tick. A Redis error while locking
//!    skips the tick instead of crashing the process; the next tick retries.
//!
//! Missed ticks (a run that outlasted several intervals) are not replayed: the loop continues
//! with the first tick after the run ended.

pub mod locks;
pub mod schedule;

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::FutureExt;
use rand::Rng;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::error::JobError;
use crate::metrics;
pub use locks::{FleetLocks, LockError, RunningLock};
pub use schedule::{Schedule, ScheduleError};

/// What a job gets for one run.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// The scheduled time of this run (not when it started).
    pub tick: DateTime<Utc>,
    /// Cancelled when the process shuts down. Long jobs check it between units of work (each
    /// committed on its own) and return early; short jobs may ignore it.
    pub cancel: CancellationToken,
}

/// A periodic job. Implementations keep their dependencies (pools, caches, producers).
#[async_trait]
pub trait Job: Send + Sync + 'static {
    async fn run(&self, ctx: &RunContext) -> Result<(), JobError>;
}

/// Which concurrency budget a job draws from. Backfill jobs (PnL ticks, funding payments,
/// reward aggregation, ...) may run for minutes after a fresh start; their own budget keeps them
/// from starving the short user-facing jobs (ops.md §1.2 "for ours").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Budget {
    Regular,
    Backfill,
}

/// How one job is scheduled.
#[derive(Debug, Clone)]
pub struct JobConfig {
    /// The job's name: part of its Redis lock keys and metric labels.
    pub name: String,
    pub schedule: Schedule,
    /// The no-overlap lock lasts interval × this (at least `SchedulerSettings::min_lock_ttl`)
    /// and is renewed while the run lasts, so it only bounds how long a crashed instance's lock
    /// blocks the job.
    pub lock_multiplier: u32,
    pub budget: Budget,
}

/// Scheduler-wide settings.
#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    /// Regular jobs running at once in this process (`MAX_CONCURRENT_RUNNING_TASKS`).
    pub max_concurrent: usize,
    /// Backfill jobs running at once in this process (`MAX_CONCURRENT_BACKFILL_TASKS`).
    pub max_concurrent_backfill: usize,
    /// Random delay after a tick, as a fraction of the interval (`JITTER_FRACTION_OF_DELAY`),
    /// capped at `max_jitter`.
    pub jitter_fraction: f64,
    pub max_jitter: Duration,
    /// Shortest no-overlap lock TTL.
    pub min_lock_ttl: Duration,
    /// How long shutdown waits for running jobs before aborting them.
    pub shutdown_deadline: Duration,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        Self {
            max_concurrent: 2,
            max_concurrent_backfill: 1,
            jitter_fraction: 0.01,
            max_jitter: Duration::from_secs(5),
            min_lock_ttl: Duration::from_secs(5),
            shutdown_deadline: Duration::from_secs(10),
        }
    }
}

/// How the scheduler stopped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SchedulerReport {
    /// Jobs still running at the shutdown deadline; they were aborted and their no-overlap
    /// locks released.
    pub abandoned: Vec<String>,
}

/// Why a tick did not run here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Another instance claimed the tick first.
    ClaimedElsewhere,
    /// The previous run still holds the no-overlap lock (here or elsewhere).
    Overlap,
    /// No slot in this process's budget before the next tick.
    Busy,
    /// Redis could not be reached while locking.
    LockError,
}

impl Skip {
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::ClaimedElsewhere => "claimed_elsewhere",
            Skip::Overlap => "overlap",
            Skip::Busy => "busy",
            Skip::LockError => "lock_error",
        }
    }
}

/// Runs jobs on their schedules until stopped.
pub struct Scheduler {
    settings: SchedulerSettings,
    locks: FleetLocks,
    jobs: Vec<(JobConfig, Arc<dyn Job>)>,
}

struct Shared {
    settings: SchedulerSettings,
    locks: FleetLocks,
    budgets: HashMap<Budget, Arc<Semaphore>>,
    /// No-overlap locks held by runs in progress, released after an abort at shutdown.
    held: Mutex<HashMap<String, RunningLock>>,
}

impl Scheduler {
    pub fn new(settings: SchedulerSettings, locks: FleetLocks) -> Self {
        Self {
            settings,
            locks,
            jobs: Vec::new(),
        }
    }

    pub fn add(&mut self, config: JobConfig, job: Arc<dyn Job>) {
        self.jobs.push((config, job));
    }

    /// Names of the jobs added so far.
    pub fn job_names(&self) -> Vec<String> {
        self.jobs.iter().map(|(c, _)| c.name.clone()).collect()
    }

    /// Runs every job until `stop` is cancelled, then waits for running jobs up to the shutdown
    /// deadline, aborts the rest and releases their locks.
    pub async fn run(self, stop: CancellationToken) -> SchedulerReport {
        let budgets = HashMap::from([
            (
                Budget::Regular,
                Arc::new(Semaphore::new(self.settings.max_concurrent.max(1))),
            ),
            (
                Budget::Backfill,
                Arc::new(Semaphore::new(self.settings.max_concurrent_backfill.max(1))),
            ),
        ]);
        let shared = Arc::new(Shared {
            settings: self.settings,
            locks: self.locks,
            budgets,
            held: Mutex::new(HashMap::new()),
        });
        let mut loops = JoinSet::new();
        for (config, job) in self.jobs {
            tracing::info!(job = %config.name, schedule = %config.schedule.describe(), "job scheduled");
            metrics::job_enabled(&config.name);
            loops.spawn(job_loop(Arc::clone(&shared), config, job, stop.clone()));
        }
        stop.cancelled().await;
        let deadline = shared.settings.shutdown_deadline;
        let drained = tokio::time::timeout(deadline, async {
            while loops.join_next().await.is_some() {}
        })
        .await;
        let mut report = SchedulerReport::default();
        if drained.is_err() {
            loops.shutdown().await;
            let abandoned: Vec<RunningLock> = {
                let mut held = shared.held.lock().expect("held-lock registry poisoned");
                report.abandoned = held.keys().cloned().collect();
                held.drain().map(|(_, lock)| lock).collect()
            };
            tracing::warn!(jobs = ?report.abandoned, deadline_ms = deadline.as_millis() as u64,
                "jobs still running at the shutdown deadline were aborted");
            for lock in abandoned {
                if let Err(error) = shared.locks.release(&lock).await {
                    tracing::warn!(key = %lock.key, %error, "could not release the lock of an aborted job; it expires by itself");
                }
            }
        }
        report
    }
}

async fn job_loop(
    shared: Arc<Shared>,
    config: JobConfig,
    job: Arc<dyn Job>,
    stop: CancellationToken,
) {
    let mut after = Utc::now();
    let mut lock_errors_in_a_row = 0u32;
    loop {
        let Some(tick) = config.schedule.next_after(after) else {
            tracing::info!(job = %config.name, "schedule has no further ticks; job loop ends");
            return;
        };
        let period = config.schedule.period_at(tick);
        let wake = schedule::until(tick, Utc::now()) + jitter(&shared.settings, period);
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wake) => {}
        }
        let attempt = Attempt {
            shared: &shared,
            config: &config,
            job: job.as_ref(),
            tick,
            period,
            stop: &stop,
        };
        match attempt.run().await {
            Err(Skip::LockError) => lock_errors_in_a_row += 1,
            _ => lock_errors_in_a_row = 0,
        }
        if lock_errors_in_a_row == 1 {
            tracing::error!(job = %config.name, "cannot take the job's Redis locks; skipping ticks until Redis answers");
        }
        after = tick.max(Utc::now());
    }
}

fn jitter(settings: &SchedulerSettings, period: Duration) -> Duration {
    let cap = period
        .mul_f64(settings.jitter_fraction.clamp(0.0, 1.0))
        .min(settings.max_jitter);
    if cap.is_zero() {
        return Duration::ZERO;
    }
    Duration::from_micros(rand::thread_rng().gen_range(0..=cap.as_micros() as u64))
}

/// One tick of one job.
struct Attempt<'a> {
    shared: &'a Shared,
    config: &'a JobConfig,
    job: &'a dyn Job,
    tick: DateTime<Utc>,
    period: Duration,
    stop: &'a CancellationToken,
}

impl Attempt<'_> {
    /// Runs the tick here if this instance may; `Err` says why it did not.
    async fn run(&self) -> Result<(), Skip> {
        let name = self.config.name.as_str();
        let result = self.run_locked().await;
        if let Err(skip) = result {
            metrics::tick_skipped(name, skip);
            match skip {
                Skip::ClaimedElsewhere => {
                    tracing::debug!(job = name, tick = %self.tick, "tick claimed by another instance")
                }
                Skip::Overlap => {
                    tracing::warn!(job = name, tick = %self.tick, "previous run still in progress; tick skipped")
                }
                Skip::Busy => {
                    tracing::warn!(job = name, tick = %self.tick, "no free slot before the next tick; tick skipped here")
                }
                Skip::LockError => {}
            }
        }
        result
    }

    async fn run_locked(&self) -> Result<(), Skip> {
        let name = self.config.name.as_str();
        let _permit = self.wait_for_slot().await?;
        let tick_ms = schedule::tick_millis(self.tick);
        let claimed = self
            .shared
            .locks
            .claim_tick(name, tick_ms, self.period)
            .await
            .map_err(|error| self.lock_error(&error))?;
        if !claimed {
            return Err(Skip::ClaimedElsewhere);
        }
        let ttl = self.lock_ttl();
        let lock = self
            .shared
            .locks
            .acquire_running(name, ttl)
            .await
            .map_err(|error| self.lock_error(&error))?
            .ok_or(Skip::Overlap)?;
        self.registry().insert(name.to_string(), lock.clone());
        self.execute(&lock, ttl).await;
        self.registry().remove(name);
        match self.shared.locks.release(&lock).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                job = name,
                "the no-overlap lock had expired and was taken by another run before release"
            ),
            Err(error) => {
                tracing::warn!(job = name, %error, "could not release the no-overlap lock; it expires by itself")
            }
        }
        Ok(())
    }

    async fn wait_for_slot(&self) -> Result<OwnedSemaphorePermit, Skip> {
        let budget = Arc::clone(&self.shared.budgets[&self.config.budget]);
        let next_tick = self.tick + schedule::delta(self.period);
        let give_up = schedule::until(next_tick, Utc::now());
        tokio::select! {
            permit = budget.acquire_owned() => Ok(permit.expect("budgets are never closed")),
            _ = tokio::time::sleep(give_up) => Err(Skip::Busy),
            // Not a failure: shutdown started while waiting; nothing ran.
            _ = self.stop.cancelled() => Err(Skip::Busy),
        }
    }

    fn lock_ttl(&self) -> Duration {
        self.period
            .saturating_mul(self.config.lock_multiplier.max(1))
            .max(self.shared.settings.min_lock_ttl)
    }

    fn lock_error(&self, error: &LockError) -> Skip {
        tracing::warn!(job = %self.config.name, %error, "redis lock operation failed; tick skipped");
        Skip::LockError
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, HashMap<String, RunningLock>> {
        self.shared
            .held
            .lock()
            .expect("held-lock registry poisoned")
    }

    /// Runs the job while renewing its lock, and records the outcome.
    async fn execute(&self, lock: &RunningLock, ttl: Duration) {
        let name = self.config.name.as_str();
        let ctx = RunContext {
            tick: self.tick,
            cancel: self.stop.clone(),
        };
        metrics::run_started(name);
        let started = Instant::now();
        let run = AssertUnwindSafe(self.job.run(&ctx)).catch_unwind();
        tokio::pin!(run);
        let mut renewals = tokio::time::interval_at(
            tokio::time::Instant::now() + ttl / 3,
            (ttl / 3).max(Duration::from_millis(10)),
        );
        let outcome = loop {
            tokio::select! {
                outcome = &mut run => break outcome,
                _ = renewals.tick() => self.renew(lock, ttl).await,
            }
        };
        let elapsed = started.elapsed();
        let failure = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(error.to_string()),
            Err(panic) => Some(format!("job panicked: {}", panic_text(&panic))),
        };
        match &failure {
            None => tracing::debug!(
                job = name,
                elapsed_ms = elapsed.as_millis() as u64,
                "job run succeeded"
            ),
            Some(error) => {
                tracing::error!(job = name, tick = %self.tick, error = %error, "job run failed; it runs again at its next tick")
            }
        }
        metrics::run_finished(name, failure.is_none(), elapsed, self.period);
    }

    async fn renew(&self, lock: &RunningLock, ttl: Duration) {
        match self.shared.locks.renew(lock, ttl).await {
            Ok(true) => {}
            Ok(false) => {
                metrics::lock_lost(&self.config.name);
                tracing::warn!(job = %self.config.name, "the no-overlap lock was lost during the run (expired and taken); another run may overlap");
            }
            Err(error) => {
                tracing::warn!(job = %self.config.name, %error, "could not renew the no-overlap lock")
            }
        }
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "non-text panic payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_the_fraction_and_cap() {
        let settings = SchedulerSettings {
            jitter_fraction: 0.1,
            max_jitter: Duration::from_millis(50),
            ..Default::default()
        };
        for _ in 0..100 {
            assert!(jitter(&settings, Duration::from_millis(200)) <= Duration::from_millis(20));
            assert!(jitter(&settings, Duration::from_secs(3600)) <= Duration::from_millis(50));
        }
        let none = SchedulerSettings {
            jitter_fraction: 0.0,
            ..Default::default()
        };
        assert_eq!(jitter(&none, Duration::from_secs(30)), Duration::ZERO);
    }
}
