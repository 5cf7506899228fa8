//! Serialized responses reused while the indexed height they were read at is still the latest:
//! a block is the only thing that changes market data, so between two blocks every caller gets
//! the same bytes without a database read. Entries also expire after `max_age`, which bounds
//! the staleness of the few values roundtable updates between blocks (24 h volume, trades,
//! next funding rate) to the route's own `Cache-Control: max-age=1`.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use axum::body::Bytes;

struct Entry {
    height: i64,
    stored: Instant,
    body: Bytes,
}

/// Bodies keyed by a request key (e.g. the `limit`), each valid for one indexed height.
pub struct HeightCache {
    max_age: Duration,
    entries: RwLock<HashMap<String, Entry>>,
}

impl HeightCache {
    pub fn new(max_age: Duration) -> Self {
        Self {
            max_age,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The body stored for `key` at exactly `height`, if still fresh.
    pub fn get(&self, key: &str, height: i64) -> Option<Bytes> {
        let entries = self.entries.read().expect("response cache lock");
        entries
            .get(key)
            .filter(|e| e.height == height && e.stored.elapsed() < self.max_age)
            .map(|e| e.body.clone())
    }

    /// Stores `body`, read at `height`, unless a body of a later height is already there.
    pub fn put(&self, key: &str, height: i64, body: Bytes) {
        let mut entries = self.entries.write().expect("response cache lock");
        if entries.get(key).is_some_and(|e| e.height > height) {
            return;
        }
        entries.insert(
            key.to_owned(),
            Entry {
                height,
                stored: Instant::now(),
                body,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_serves_its_height_only_and_expires() {
        let cache = HeightCache::new(Duration::from_millis(50));
        cache.put("1000", 7, Bytes::from_static(b"seven"));
        assert_eq!(cache.get("1000", 7).as_deref(), Some(&b"seven"[..]));
        assert_eq!(cache.get("1000", 8), None, "a new block invalidates");
        assert_eq!(cache.get("10", 7), None, "another key");
        cache.put("1000", 6, Bytes::from_static(b"six"));
        assert_eq!(
            cache.get("1000", 7).as_deref(),
            Some(&b"seven"[..]),
            "an older read never replaces a newer one"
        );
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(cache.get("1000", 7), None, "expired");
    }
}
