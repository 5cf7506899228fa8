//! When a job runs: a cron expression, or a fixed interval aligned to the unix epoch.
//!
//! Both kinds produce *wall-clock aligned* ticks, so every roundtable instance computes the same
//! tick times on its own; the fleet-wide "once per tick" lock (see `locks`) is keyed by the tick,
//! not by when an instance happened to start.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// A job's schedule.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// A cron expression with seconds (`sec min hour day-of-month month day-of-week [year]`),
    /// evaluated in UTC.
    Cron {
        expression: String,
        schedule: Box<cron::Schedule>,
    },
    /// Every `period`, at the multiples of `period` since the unix epoch (the reference's
    /// `LOOPS_INTERVAL_MS_*`).
    Every(Duration),
}

/// A schedule could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("invalid cron expression {expression:?}: {reason}")]
    Cron { expression: String, reason: String },
    #[error("an interval must be at least 1 ms")]
    ZeroInterval,
    #[error("cron expression {0:?} never fires")]
    NeverFires(String),
}

impl Schedule {
    /// Parses a cron expression with a seconds field (6 or 7 fields).
    pub fn cron(expression: &str) -> Result<Self, ScheduleError> {
        let schedule =
            cron::Schedule::from_str(expression.trim()).map_err(|e| ScheduleError::Cron {
                expression: expression.to_string(),
                reason: e.to_string(),
            })?;
        let parsed = Schedule::Cron {
            expression: expression.trim().to_string(),
            schedule: Box::new(schedule),
        };
        // A schedule with no future tick (e.g. a year in the past) would silently never run.
        if parsed.next_after(Utc::now()).is_none() {
            return Err(ScheduleError::NeverFires(expression.to_string()));
        }
        Ok(parsed)
    }

    pub fn every(period: Duration) -> Result<Self, ScheduleError> {
        if period.as_millis() == 0 {
            return Err(ScheduleError::ZeroInterval);
        }
        Ok(Schedule::Every(period))
    }

    /// The first tick strictly after `after`; `None` when the schedule never fires again.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Cron { schedule, .. } => schedule.after(&after).next(),
            Schedule::Every(period) => {
                let period_ms = period.as_millis() as i64;
                let now_ms = after.timestamp_millis();
                let next_ms = (now_ms.div_euclid(period_ms) + 1) * period_ms;
                DateTime::from_timestamp_millis(next_ms)
            }
        }
    }

    /// The time from `tick` to the tick after it: the job's interval at that tick. Cron
    /// schedules may have uneven gaps (e.g. "at 00:00 and 06:00"), so it is computed per tick.
    pub fn period_at(&self, tick: DateTime<Utc>) -> Duration {
        match self {
            Schedule::Every(period) => *period,
            Schedule::Cron { .. } => self
                .next_after(tick)
                .and_then(|next| (next - tick).to_std().ok())
                // The last tick of a finite schedule: nothing follows, any period will do.
                .unwrap_or(Duration::from_secs(60)),
        }
    }

    /// A human rendering for logs.
    pub fn describe(&self) -> String {
        match self {
            Schedule::Cron { expression, .. } => format!("cron {expression:?}"),
            Schedule::Every(period) => format!("every {} ms", period.as_millis()),
        }
    }
}

/// `time` as whole milliseconds (the tick identity stored in Redis).
pub fn tick_millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

/// `a - b`, or zero when `b` is later.
pub fn until(later: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (later - now).to_std().unwrap_or(Duration::ZERO)
}

/// Converts a std duration to chrono's, saturating.
pub fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, h, m, s).unwrap()
    }

    #[test]
    fn cron_every_thirty_seconds_fires_on_the_half_minute() {
        let schedule = Schedule::cron("*/30 * * * * *").unwrap();
        assert_eq!(schedule.next_after(at(10, 0, 1)), Some(at(10, 0, 30)));
        // Strictly after: a tick is never returned twice.
        assert_eq!(schedule.next_after(at(10, 0, 30)), Some(at(10, 1, 0)));
        assert_eq!(schedule.period_at(at(10, 0, 30)), Duration::from_secs(30));
    }

    #[test]
    fn cron_periods_follow_uneven_gaps() {
        let schedule = Schedule::cron("0 0 0,6 * * *").unwrap();
        assert_eq!(
            schedule.period_at(at(0, 0, 0)),
            Duration::from_secs(6 * 3600)
        );
        assert_eq!(
            schedule.period_at(at(6, 0, 0)),
            Duration::from_secs(18 * 3600)
        );
    }

    #[test]
    fn intervals_are_aligned_to_the_epoch_so_every_instance_agrees() {
        let schedule = Schedule::every(Duration::from_millis(250)).unwrap();
        let after = DateTime::from_timestamp_millis(1_000_100).unwrap();
        assert_eq!(
            schedule.next_after(after),
            DateTime::from_timestamp_millis(1_000_250)
        );
        let on_tick = DateTime::from_timestamp_millis(1_000_250).unwrap();
        assert_eq!(
            schedule.next_after(on_tick),
            DateTime::from_timestamp_millis(1_000_500)
        );
    }

    #[test]
    fn bad_expressions_are_refused_with_the_reason() {
        let error = Schedule::cron("every minute").unwrap_err();
        assert!(matches!(error, ScheduleError::Cron { .. }), "{error}");
        assert!(Schedule::every(Duration::ZERO).is_err());
        assert_eq!(
            Schedule::cron("0 0 0 1 1 * 2001").unwrap_err(),
            ScheduleError::NeverFires("0 0 0 1 1 * 2001".into())
        );
    }
}
