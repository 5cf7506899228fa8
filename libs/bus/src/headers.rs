//! Kafka message headers as plain owned data, so handlers can read, extend and forward them
//! (vulcan copies its input headers onto every message it emits, spec ingest §2.6).

use rdkafka::message::{Header, OwnedHeaders};

/// Ordered key/value headers; values are raw bytes (e.g. `TransactionHash` is 32 raw bytes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageHeaders {
    entries: Vec<(String, Vec<u8>)>,
}

impl MessageHeaders {
    pub fn new() -> Self {
        Self::default()
    }

    /// These headers plus `key` = `value` (replacing an existing `key`).
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.insert(key, value);
        self
    }

    /// Sets `key` to `value`, replacing an earlier value of the same key.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) {
        let key = key.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }

    /// The value of `key` as UTF-8 text, if present and valid.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(|v| std::str::from_utf8(v).ok())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn to_kafka(&self) -> Option<OwnedHeaders> {
        if self.entries.is_empty() {
            return None;
        }
        let headers = self.entries.iter().fold(
            OwnedHeaders::new_with_capacity(self.entries.len()),
            |acc, (key, value)| {
                acc.insert(Header {
                    key,
                    value: Some(value),
                })
            },
        );
        Some(headers)
    }

    /// Copies headers off a received message; a header with a null value becomes empty.
    pub(crate) fn from_kafka<H: rdkafka::message::Headers + ?Sized>(headers: Option<&H>) -> Self {
        let mut out = Self::new();
        if let Some(headers) = headers {
            for header in (0..headers.count()).filter_map(|i| headers.try_get(i)) {
                out.entries.push((
                    header.key.to_string(),
                    header.value.map(<[u8]>::to_vec).unwrap_or_default(),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_replaces_and_keeps_order() {
        let mut h = MessageHeaders::new()
            .with("event_type", "ShortTermOrderPlacement")
            .with("message_received_timestamp", "1700000000000");
        h.insert("event_type", "StatefulOrderPlacement");
        let keys: Vec<&str> = h.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["event_type", "message_received_timestamp"]);
        assert_eq!(h.get_str("event_type"), Some("StatefulOrderPlacement"));
        assert_eq!(h.get("missing"), None);
    }

    #[test]
    fn round_trips_through_kafka_headers() {
        let h = MessageHeaders::new()
            .with("TransactionHash", vec![0xde, 0xad, 0xbe, 0xef])
            .with("event_type", "x");
        let kafka = h.to_kafka().unwrap();
        assert_eq!(MessageHeaders::from_kafka(Some(&kafka)), h);
        assert!(MessageHeaders::new().to_kafka().is_none());
    }
}
