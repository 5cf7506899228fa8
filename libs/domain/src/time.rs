//! Block time as the indexer stores and prints it. The reference turns the protobuf block
//! timestamp into a JavaScript `Date`, so every stored time is UTC truncated to whole
//! milliseconds (ingest.md §3.1), and every time in JSON is ISO-8601 with exactly three fractional
//! digits and `Z` (ingest.md §8 item 15), e.g. `2024-01-01T00:00:01.500Z`. Candle periods use the
//! whole seconds of that time (see [`crate::candles`]).

use chrono::{DateTime, TimeZone, Utc};

use crate::error::{Error, Result};

const NANOS_PER_MILLI: i64 = 1_000_000;
const ISO_MILLIS_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";

/// Converts a protobuf timestamp (`seconds`, `nanos`) to UTC, dropping everything below the
/// millisecond (floor, as the reference's `Date` conversion does for real block times).
pub fn block_time(seconds: i64, nanos: i32) -> Result<DateTime<Utc>> {
    let out_of_range = || Error::TimestampOutOfRange { seconds, nanos };
    let millis = seconds
        .checked_mul(1_000)
        .and_then(|ms| ms.checked_add(i64::from(nanos).div_euclid(NANOS_PER_MILLI)))
        .ok_or_else(out_of_range)?;
    Utc.timestamp_millis_opt(millis)
        .single()
        .ok_or_else(out_of_range)
}

/// [`block_time`] of a `google.protobuf.Timestamp`.
pub fn from_timestamp(timestamp: &prost_types::Timestamp) -> Result<DateTime<Utc>> {
    block_time(timestamp.seconds, timestamp.nanos)
}

/// Drops the sub-millisecond part of a time (e.g. of `Utc::now()` before storing it).
pub fn truncate_to_millis(time: DateTime<Utc>) -> DateTime<Utc> {
    let millis = time.timestamp_millis();
    Utc.timestamp_millis_opt(millis)
        .single()
        .expect("a valid time truncated to milliseconds is valid")
}

/// ISO-8601 UTC with exactly three fractional digits and `Z`: `2024-01-01T00:01:00.000Z`.
/// Sub-millisecond digits, if any, are dropped.
pub fn to_iso(time: &DateTime<Utc>) -> String {
    time.format(ISO_MILLIS_FORMAT).to_string()
}

/// Serde adapter rendering a `DateTime<Utc>` with [`to_iso`] (use with
/// `#[serde(with = "indexer_domain::time::iso_millis")]`); reads any RFC 3339 time.
pub mod iso_millis {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        time: &DateTime<Utc>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::to_iso(time))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|time| time.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }

    /// The same for `Option<DateTime<Utc>>` (`None` is JSON `null`).
    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(
            time: &Option<DateTime<Utc>>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match time {
                Some(time) => super::serialize(time, serializer),
                None => serializer.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            Option::<String>::deserialize(deserializer)?
                .map(|text| {
                    DateTime::parse_from_rfc3339(&text)
                        .map(|time| time.with_timezone(&Utc))
                        .map_err(serde::de::Error::custom)
                })
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_time_truncates_to_milliseconds() {
        let time = block_time(1_704_067_201, 500_999_999).unwrap();
        assert_eq!(to_iso(&time), "2024-01-01T00:00:01.500Z");
        assert_eq!(time.timestamp_subsec_nanos(), 500_000_000);
    }

    #[test]
    fn iso_always_has_three_fractional_digits() {
        let time = block_time(1_704_067_260, 0).unwrap();
        assert_eq!(to_iso(&time), "2024-01-01T00:01:00.000Z");
        let time = block_time(0, 7_000_000).unwrap();
        assert_eq!(to_iso(&time), "1970-01-01T00:00:00.007Z");
    }

    #[test]
    fn from_protobuf_timestamp() {
        let timestamp = prost_types::Timestamp {
            seconds: 1_704_067_201,
            nanos: 123_456_789,
        };
        assert_eq!(
            to_iso(&from_timestamp(&timestamp).unwrap()),
            "2024-01-01T00:00:01.123Z"
        );
    }

    #[test]
    fn out_of_range_timestamps_are_errors() {
        assert!(block_time(i64::MAX, 0).is_err());
    }

    #[test]
    fn truncate_drops_sub_millisecond_digits() {
        let precise = Utc.timestamp_opt(1_704_067_201, 999_999_999).unwrap();
        assert_eq!(to_iso(&precise), "2024-01-01T00:00:01.999Z");
        assert_eq!(
            truncate_to_millis(precise).timestamp_subsec_nanos(),
            999_000_000
        );
    }

    #[test]
    fn serde_adapter_writes_iso_millis() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Row {
            #[serde(with = "iso_millis")]
            at: DateTime<Utc>,
            #[serde(with = "iso_millis::option")]
            closed: Option<DateTime<Utc>>,
        }
        let row = Row {
            at: block_time(1_704_067_201, 500_000_000).unwrap(),
            closed: None,
        };
        let json = serde_json::to_string(&row).unwrap();
        assert_eq!(json, r#"{"at":"2024-01-01T00:00:01.500Z","closed":null}"#);
        assert_eq!(serde_json::from_str::<Row>(&json).unwrap(), row);
    }
}
