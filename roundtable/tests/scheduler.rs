//! The scheduler against the real Redis: fleet-wide once-per-tick and no-overlap locks with two
//! instances racing, the concurrency cap, failure isolation, Redis errors, and shutdown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use indexer_base::config::{Env, RedisSettings};
use indexer_cache::Cache;
use roundtable::scheduler::{
    Budget, FleetLocks, Job, JobConfig, RunContext, Schedule, Scheduler, SchedulerReport,
    SchedulerSettings,
};
use roundtable::JobError;
use tokio_util::sync::CancellationToken;

/// Generous bound on waiting for something to happen; never an assertion about speed.
const PATIENCE: Duration = Duration::from_secs(60);

async fn cache(prefix: &str) -> Cache {
    let env = Env::from_pairs([("REDIS_KEY_PREFIX", prefix)]);
    Cache::connect(&RedisSettings::from_env(&env).unwrap())
        .await
        .unwrap()
}

fn prefix() -> String {
    format!("test-{}:", uuid::Uuid::new_v4())
}

/// One scheduler instance with its own Redis connection.
async fn instance(prefix: &str, settings: SchedulerSettings) -> Scheduler {
    let cache = cache(prefix).await;
    Scheduler::new(
        settings,
        FleetLocks::new(cache.conn(), prefix, "roundtable"),
    )
}

fn settings() -> SchedulerSettings {
    SchedulerSettings {
        max_concurrent: 4,
        max_concurrent_backfill: 1,
        // Random delays make the two instances win ticks in varying order.
        jitter_fraction: 0.3,
        max_jitter: Duration::from_millis(30),
        min_lock_ttl: Duration::from_millis(300),
        shutdown_deadline: Duration::from_secs(30),
    }
}

fn every(name: &str, ms: u64) -> JobConfig {
    JobConfig {
        name: name.to_string(),
        schedule: Schedule::every(Duration::from_millis(ms)).unwrap(),
        lock_multiplier: 1,
        budget: Budget::Regular,
    }
}

/// Records every run: which instance ran which tick, and how many ran at once.
#[derive(Default)]
struct Recorder {
    runs: Mutex<Vec<(usize, i64)>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Recorder {
    fn enter(&self) {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
    }
    fn leave(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
    fn count(&self) -> usize {
        self.runs.lock().unwrap().len()
    }
}

struct Recording {
    instance: usize,
    recorder: Arc<Recorder>,
    hold: Duration,
}

#[async_trait]
impl Job for Recording {
    async fn run(&self, ctx: &RunContext) -> Result<(), JobError> {
        self.recorder.enter();
        self.recorder
            .runs
            .lock()
            .unwrap()
            .push((self.instance, ctx.tick.timestamp_millis()));
        tokio::time::sleep(self.hold).await;
        self.recorder.leave();
        Ok(())
    }
}

async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let waited = tokio::time::timeout(PATIENCE, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "gave up waiting for {what}");
}

fn start(
    scheduler: Scheduler,
    stop: &CancellationToken,
) -> tokio::task::JoinHandle<SchedulerReport> {
    let stop = stop.clone();
    tokio::spawn(scheduler.run(stop))
}

#[tokio::test]
async fn two_instances_racing_never_run_a_tick_twice() {
    let prefix = prefix();
    let recorder = Arc::new(Recorder::default());
    let stop = CancellationToken::new();
    let mut handles = Vec::new();
    for id in 0..2 {
        let mut scheduler = instance(&prefix, settings()).await;
        scheduler.add(
            every("race", 100),
            Arc::new(Recording {
                instance: id,
                recorder: Arc::clone(&recorder),
                hold: Duration::ZERO,
            }),
        );
        handles.push(start(scheduler, &stop));
    }
    wait_until("20 runs", || recorder.count() >= 20).await;
    stop.cancel();
    for handle in handles {
        assert_eq!(handle.await.unwrap(), SchedulerReport::default());
    }
    let runs = recorder.runs.lock().unwrap().clone();
    let mut per_tick: HashMap<i64, Vec<usize>> = HashMap::new();
    for (instance, tick) in &runs {
        per_tick.entry(*tick).or_default().push(*instance);
    }
    let doubled: Vec<_> = per_tick.iter().filter(|(_, who)| who.len() > 1).collect();
    assert!(doubled.is_empty(), "ticks run more than once: {doubled:?}");
    assert!(
        runs.iter().all(|(_, tick)| tick % 100 == 0),
        "ticks are aligned to the interval: {runs:?}"
    );
    cache(&prefix).await.clear().await.unwrap();
}

#[tokio::test]
async fn a_run_outlasting_its_interval_never_overlaps_across_instances() {
    let prefix = prefix();
    let recorder = Arc::new(Recorder::default());
    let stop = CancellationToken::new();
    let mut handles = Vec::new();
    for id in 0..2 {
        let mut scheduler = instance(&prefix, settings()).await;
        scheduler.add(
            every("slow", 100),
            Arc::new(Recording {
                instance: id,
                recorder: Arc::clone(&recorder),
                // Three and a half intervals per run: without the no-overlap lock the other
                // instance would start the next ticks meanwhile.
                hold: Duration::from_millis(350),
            }),
        );
        handles.push(start(scheduler, &stop));
    }
    wait_until("5 runs", || recorder.count() >= 5).await;
    stop.cancel();
    for handle in handles {
        handle.await.unwrap();
    }
    assert_eq!(recorder.max_in_flight.load(Ordering::SeqCst), 1);
    cache(&prefix).await.clear().await.unwrap();
}

#[tokio::test]
async fn the_concurrency_cap_bounds_jobs_running_at_once_in_one_process() {
    let prefix = prefix();
    let recorder = Arc::new(Recorder::default());
    let stop = CancellationToken::new();
    let mut scheduler = instance(
        &prefix,
        SchedulerSettings {
            max_concurrent: 2,
            ..settings()
        },
    )
    .await;
    for name in ["a", "b", "c", "d"] {
        scheduler.add(
            every(name, 100),
            Arc::new(Recording {
                instance: 0,
                recorder: Arc::clone(&recorder),
                hold: Duration::from_millis(150),
            }),
        );
    }
    let handle = start(scheduler, &stop);
    wait_until("12 runs", || recorder.count() >= 12).await;
    stop.cancel();
    handle.await.unwrap();
    assert_eq!(recorder.max_in_flight.load(Ordering::SeqCst), 2);
    cache(&prefix).await.clear().await.unwrap();
}

/// Fails (or panics) on its first runs, then succeeds.
struct Flaky {
    attempts: AtomicUsize,
    panic: bool,
}

#[async_trait]
impl Job for Flaky {
    async fn run(&self, _ctx: &RunContext) -> Result<(), JobError> {
        let attempt = self.attempts.fetch_add(1, Ordering::SeqCst);
        if attempt < 2 {
            if self.panic {
                panic!("flaky job blew up on attempt {attempt}");
            }
            return Err(JobError::Invalid(format!("attempt {attempt} failed")));
        }
        Ok(())
    }
}

#[tokio::test]
async fn failing_and_panicking_jobs_run_again_at_their_next_ticks() {
    let prefix = prefix();
    let stop = CancellationToken::new();
    let failing = Arc::new(Flaky {
        attempts: AtomicUsize::new(0),
        panic: false,
    });
    let panicking = Arc::new(Flaky {
        attempts: AtomicUsize::new(0),
        panic: true,
    });
    let mut scheduler = instance(&prefix, settings()).await;
    scheduler.add(every("failing", 100), failing.clone());
    scheduler.add(every("panicking", 100), panicking.clone());
    let handle = start(scheduler, &stop);
    wait_until("both jobs past their failures", || {
        failing.attempts.load(Ordering::SeqCst) >= 4
            && panicking.attempts.load(Ordering::SeqCst) >= 4
    })
    .await;
    stop.cancel();
    assert_eq!(handle.await.unwrap(), SchedulerReport::default());
    cache(&prefix).await.clear().await.unwrap();
}

#[tokio::test]
async fn a_redis_error_skips_ticks_and_the_job_resumes_when_redis_answers() {
    let prefix = prefix();
    let redis = cache(&prefix).await;
    let locks = FleetLocks::new(redis.conn(), &prefix, "roundtable");
    // A hash where the tick marker belongs makes every claim fail with WRONGTYPE, as a broken
    // Redis would.
    let _: () = redis::cmd("HSET")
        .arg(locks.last_tick_key("blocked"))
        .arg("x")
        .arg("1")
        .query_async(&mut redis.conn())
        .await
        .unwrap();
    let recorder = Arc::new(Recorder::default());
    let stop = CancellationToken::new();
    let mut scheduler = instance(&prefix, settings()).await;
    scheduler.add(
        every("blocked", 100),
        Arc::new(Recording {
            instance: 0,
            recorder: Arc::clone(&recorder),
            hold: Duration::ZERO,
        }),
    );
    let handle = start(scheduler, &stop);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(recorder.count(), 0, "no run without its lock");
    let _: () = redis::cmd("DEL")
        .arg(locks.last_tick_key("blocked"))
        .query_async(&mut redis.conn())
        .await
        .unwrap();
    wait_until("runs after Redis recovered", || recorder.count() >= 2).await;
    stop.cancel();
    handle.await.unwrap();
    redis.clear().await.unwrap();
}

/// Runs until told to finish (or forever).
struct Blocking {
    started: Arc<tokio::sync::Notify>,
    finish: Arc<tokio::sync::Notify>,
    finished: Arc<AtomicUsize>,
}

#[async_trait]
impl Job for Blocking {
    async fn run(&self, _ctx: &RunContext) -> Result<(), JobError> {
        self.started.notify_one();
        self.finish.notified().await;
        self.finished.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test]
async fn shutdown_waits_for_a_running_job_to_finish() {
    let prefix = prefix();
    let started = Arc::new(tokio::sync::Notify::new());
    let finish = Arc::new(tokio::sync::Notify::new());
    let finished = Arc::new(AtomicUsize::new(0));
    let mut scheduler = instance(&prefix, settings()).await;
    scheduler.add(
        every("graceful", 100),
        Arc::new(Blocking {
            started: started.clone(),
            finish: finish.clone(),
            finished: finished.clone(),
        }),
    );
    let stop = CancellationToken::new();
    let handle = start(scheduler, &stop);
    started.notified().await;
    stop.cancel();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !handle.is_finished(),
        "shutdown must wait for the running job"
    );
    finish.notify_one();
    assert_eq!(handle.await.unwrap(), SchedulerReport::default());
    assert_eq!(finished.load(Ordering::SeqCst), 1);
    let locks = FleetLocks::new(cache(&prefix).await.conn(), &prefix, "roundtable");
    assert!(!key_exists(&prefix, &locks.running_key("graceful")).await);
    cache(&prefix).await.clear().await.unwrap();
}

#[tokio::test]
async fn shutdown_aborts_a_job_past_the_deadline_and_releases_its_lock() {
    let prefix = prefix();
    let started = Arc::new(tokio::sync::Notify::new());
    let mut scheduler = instance(
        &prefix,
        SchedulerSettings {
            shutdown_deadline: Duration::from_millis(200),
            // A long lock: only an explicit release frees it before the test ends.
            min_lock_ttl: Duration::from_secs(600),
            ..settings()
        },
    )
    .await;
    scheduler.add(
        every("stuck", 100),
        Arc::new(Blocking {
            started: started.clone(),
            finish: Arc::new(tokio::sync::Notify::new()),
            finished: Arc::new(AtomicUsize::new(0)),
        }),
    );
    let stop = CancellationToken::new();
    let handle = start(scheduler, &stop);
    started.notified().await;
    let locks = FleetLocks::new(cache(&prefix).await.conn(), &prefix, "roundtable");
    assert!(key_exists(&prefix, &locks.running_key("stuck")).await);
    stop.cancel();
    let report = handle.await.unwrap();
    assert_eq!(report.abandoned, vec!["stuck".to_string()]);
    assert!(
        !key_exists(&prefix, &locks.running_key("stuck")).await,
        "the aborted run's lock is released so the next instance need not wait for its TTL"
    );
    cache(&prefix).await.clear().await.unwrap();
}

async fn key_exists(prefix: &str, key: &str) -> bool {
    let exists: i64 = redis::cmd("EXISTS")
        .arg(key)
        .query_async(&mut cache(prefix).await.conn())
        .await
        .unwrap();
    exists == 1
}
