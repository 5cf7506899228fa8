//! The reference's fixed-window rate limiter (serve.md §5.5): per key, a window starts at the
//! first event; events less than `window` after its start count; an event at or after that
//! starts a new window with count 1; an event is refused when the count exceeds `points`.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Points allowed per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub points: u32,
    pub window: Duration,
}

impl RateLimit {
    pub const fn new(points: u32, window: Duration) -> Self {
        Self { points, window }
    }
}

/// Windows per key, for one connection (dropped with it).
#[derive(Debug)]
pub struct WindowLimiter<K> {
    limit: Option<RateLimit>,
    windows: HashMap<K, (Instant, u32)>,
}

impl<K: Eq + Hash> WindowLimiter<K> {
    /// `None`: unlimited (`RATE_LIMIT_ENABLED=false`).
    pub fn new(limit: Option<RateLimit>) -> Self {
        Self {
            limit,
            windows: HashMap::new(),
        }
    }

    /// Counts an event for `key` at `now`; `false` when it exceeds the limit.
    pub fn allow(&mut self, key: K, now: Instant) -> bool {
        let Some(limit) = self.limit else {
            return true;
        };
        // Forget expired windows now and then so long-lived connections stay small.
        if self.windows.len() > 64 {
            self.windows
                .retain(|_, (start, _)| now.duration_since(*start) < limit.window);
        }
        let window = self.windows.entry(key).or_insert((now, 0));
        if now.duration_since(window.0) >= limit.window {
            *window = (now, 0);
        }
        window.1 += 1;
        window.1 <= limit.points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn third_event_within_the_window_is_refused() {
        let mut limiter = WindowLimiter::new(Some(RateLimit::new(2, Duration::from_secs(1))));
        let t0 = Instant::now();
        assert!(limiter.allow("a", t0));
        assert!(limiter.allow("a", t0 + Duration::from_millis(500)));
        assert!(!limiter.allow("a", t0 + Duration::from_millis(999)));
        assert!(
            limiter.allow("b", t0 + Duration::from_millis(999)),
            "keys are independent"
        );
    }

    #[test]
    fn a_new_window_starts_one_window_after_the_first_event() {
        let mut limiter = WindowLimiter::new(Some(RateLimit::new(2, Duration::from_secs(1))));
        let t0 = Instant::now();
        assert!(limiter.allow((), t0));
        assert!(limiter.allow((), t0 + Duration::from_millis(900)));
        assert!(limiter.allow((), t0 + Duration::from_millis(1000)));
        assert!(limiter.allow((), t0 + Duration::from_millis(1100)));
        assert!(!limiter.allow((), t0 + Duration::from_millis(1200)));
    }

    #[test]
    fn disabled_limiter_allows_everything() {
        let mut limiter = WindowLimiter::new(None);
        let t0 = Instant::now();
        assert!((0..100).all(|_| limiter.allow(1, t0)));
    }
}
