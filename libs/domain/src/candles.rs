//! Candle resolutions and period arithmetic (ingest.md §4.10). A candle covers one period of a
//! resolution; periods are aligned to the Unix epoch in UTC, so days start at 00:00 UTC. The
//! period a block falls in is computed from the whole seconds of its block time. The resolution
//! also travels as a protobuf number in `CandleMessage.resolution` (ingest.md §3.8).

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::enums::string_enum;
use crate::error::{Error, Result};

string_enum! {
    /// Candle resolution, spelled as stored and shown (`1MIN` … `1DAY`).
    CandleResolution {
        OneMinute => "1MIN",
        FiveMinutes => "5MINS",
        FifteenMinutes => "15MINS",
        ThirtyMinutes => "30MINS",
        OneHour => "1HOUR",
        FourHours => "4HOURS",
        OneDay => "1DAY",
    }
}

impl CandleResolution {
    /// Length of one period in seconds.
    pub const fn seconds(self) -> i64 {
        match self {
            CandleResolution::OneMinute => 60,
            CandleResolution::FiveMinutes => 300,
            CandleResolution::FifteenMinutes => 900,
            CandleResolution::ThirtyMinutes => 1_800,
            CandleResolution::OneHour => 3_600,
            CandleResolution::FourHours => 14_400,
            CandleResolution::OneDay => 86_400,
        }
    }

    /// Start of the period containing `block_time`: floor(whole seconds / period) × period.
    pub fn period_start(self, block_time: DateTime<Utc>) -> DateTime<Utc> {
        let period = self.seconds();
        let start = block_time.timestamp().div_euclid(period) * period;
        Utc.timestamp_opt(start, 0)
            .single()
            .expect("the start of a representable time's period is representable")
    }

    /// The `CandleMessage.Resolution` number (ONE_MINUTE = 0 … ONE_DAY = 6).
    pub const fn socks_resolution(self) -> i32 {
        match self {
            CandleResolution::OneMinute => 0,
            CandleResolution::FiveMinutes => 1,
            CandleResolution::FifteenMinutes => 2,
            CandleResolution::ThirtyMinutes => 3,
            CandleResolution::OneHour => 4,
            CandleResolution::FourHours => 5,
            CandleResolution::OneDay => 6,
        }
    }

    /// Inverse of [`CandleResolution::socks_resolution`].
    pub fn from_socks_resolution(number: i32) -> Result<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|resolution| resolution.socks_resolution() == number)
            .ok_or(Error::InvalidProtoValue {
                type_name: "CandleMessage.Resolution",
                value: i64::from(number),
            })
    }

    /// How far before the latest block time ender looks for a cached candle at start-up:
    /// 3 hours for 1MIN–1HOUR, 2 days for 4HOURS and 1DAY.
    pub fn cache_window(self) -> Duration {
        match self {
            CandleResolution::FourHours | CandleResolution::OneDay => Duration::days(2),
            _ => Duration::hours(3),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{block_time, to_iso};

    #[test]
    fn spellings_and_lengths() {
        let table: Vec<(&str, i64)> = CandleResolution::ALL
            .iter()
            .map(|r| (r.as_str(), r.seconds()))
            .collect();
        assert_eq!(
            table,
            [
                ("1MIN", 60),
                ("5MINS", 300),
                ("15MINS", 900),
                ("30MINS", 1_800),
                ("1HOUR", 3_600),
                ("4HOURS", 14_400),
                ("1DAY", 86_400)
            ]
        );
    }

    #[test]
    fn period_start_uses_whole_seconds_and_epoch_alignment() {
        let time = block_time(1_704_067_261, 999_000_000).unwrap(); // 2024-01-01T00:01:01.999Z
        let start = |r: CandleResolution| to_iso(&r.period_start(time));
        assert_eq!(
            start(CandleResolution::OneMinute),
            "2024-01-01T00:01:00.000Z"
        );
        assert_eq!(
            start(CandleResolution::FiveMinutes),
            "2024-01-01T00:00:00.000Z"
        );
        assert_eq!(start(CandleResolution::OneDay), "2024-01-01T00:00:00.000Z");

        let time = block_time(1_704_151_799, 0).unwrap(); // 2024-01-01T23:29:59Z
        let start = |r: CandleResolution| to_iso(&r.period_start(time));
        assert_eq!(
            start(CandleResolution::FifteenMinutes),
            "2024-01-01T23:15:00.000Z"
        );
        assert_eq!(
            start(CandleResolution::ThirtyMinutes),
            "2024-01-01T23:00:00.000Z"
        );
        assert_eq!(start(CandleResolution::OneHour), "2024-01-01T23:00:00.000Z");
        assert_eq!(
            start(CandleResolution::FourHours),
            "2024-01-01T20:00:00.000Z"
        );
        assert_eq!(start(CandleResolution::OneDay), "2024-01-01T00:00:00.000Z");
    }

    #[test]
    fn a_boundary_second_starts_a_new_period() {
        let time = block_time(1_704_067_260, 0).unwrap();
        assert_eq!(CandleResolution::OneMinute.period_start(time), time);
    }

    #[test]
    fn socks_numbers_round_trip() {
        for (number, resolution) in CandleResolution::ALL.iter().enumerate() {
            assert_eq!(resolution.socks_resolution(), number as i32);
            assert_eq!(
                CandleResolution::from_socks_resolution(number as i32).unwrap(),
                *resolution
            );
        }
        assert!(CandleResolution::from_socks_resolution(7).is_err());
    }

    #[test]
    fn cache_windows() {
        assert_eq!(CandleResolution::OneHour.cache_window(), Duration::hours(3));
        assert_eq!(
            CandleResolution::FourHours.cache_window(),
            Duration::days(2)
        );
    }
}
