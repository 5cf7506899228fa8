//! roundtable's Prometheus metrics (names `roundtable_<what>_<unit>`; see README "Metrics").
//!
//! Scheduler metrics carry the label `job`; per-job metrics are defined next to the jobs' code
//! here too so the full list lives in one place.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::scheduler::Skip;

fn job_label(job: &str) -> String {
    job.to_string()
}

/// A job was scheduled in this process (gauge 1).
pub fn job_enabled(job: &str) {
    metrics::gauge!("roundtable_job_enabled", "job" => job_label(job)).set(1.0);
}

pub fn run_started(job: &str) {
    metrics::gauge!("roundtable_job_running", "job" => job_label(job)).set(1.0);
}

/// A run ended: counts it by outcome, records its duration and its ratio to the interval
/// (near or above 1: the job cannot keep up), and stamps the last success.
pub fn run_finished(job: &str, succeeded: bool, elapsed: Duration, period: Duration) {
    let outcome = if succeeded { "succeeded" } else { "failed" };
    metrics::gauge!("roundtable_job_running", "job" => job_label(job)).set(0.0);
    metrics::counter!("roundtable_job_runs_total", "job" => job_label(job), "outcome" => outcome)
        .increment(1);
    metrics::histogram!("roundtable_job_duration_seconds", "job" => job_label(job))
        .record(elapsed.as_secs_f64());
    if !period.is_zero() {
        metrics::gauge!("roundtable_job_duration_ratio", "job" => job_label(job))
            .set(elapsed.as_secs_f64() / period.as_secs_f64());
    }
    metrics::gauge!("roundtable_job_last_run_succeeded", "job" => job_label(job))
        .set(if succeeded { 1.0 } else { 0.0 });
    if succeeded {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        metrics::gauge!("roundtable_job_last_success_timestamp_seconds", "job" => job_label(job))
            .set(now.as_secs_f64());
    }
}

pub fn tick_skipped(job: &str, reason: Skip) {
    metrics::counter!("roundtable_job_skipped_ticks_total", "job" => job_label(job), "reason" => reason.as_str())
        .increment(1);
}

pub fn lock_lost(job: &str) {
    metrics::counter!("roundtable_job_lock_lost_total", "job" => job_label(job)).increment(1);
}

/// A per-job count (`roundtable_<name>_total`), e.g. levels deleted, orders expired.
pub fn count(name: &'static str, value: u64) {
    metrics::counter!(name).increment(value);
}

/// A per-job count with one label.
pub fn count_labeled(name: &'static str, label: &'static str, value: String, n: u64) {
    metrics::counter!(name, label => value).increment(n);
}

/// A per-job gauge.
pub fn gauge(name: &'static str, value: f64) {
    metrics::gauge!(name).set(value);
}

/// A per-job gauge with one label.
pub fn gauge_labeled(name: &'static str, label: &'static str, value: String, v: f64) {
    metrics::gauge!(name, label => value).set(v);
}
