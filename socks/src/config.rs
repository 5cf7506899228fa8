//! Socks settings from the environment, with the reference's variable names where the concept
//! exists there (serve.md Appendix D, ops.md "socks").

use std::time::Duration;

use indexer_base::config::{ConfigError, Env};
use indexer_bus::StartAt;

use crate::channels::ChannelLimits;
use crate::history::HistoryLimits;
use crate::limits::RateLimit;

/// | Var | Default | Meaning |
/// |---|---|---|
/// | `WS_HOST` | 0.0.0.0 | websocket listen address |
/// | `WS_PORT` | 8081 | websocket port (the reference uses 8080; ours is 8081 so comlink keeps 8080) |
/// | `WS_MAX_CONNECTIONS` | unset (unlimited) | connections beyond it are refused at the TCP level |
/// | `WS_MAX_FRAME_BYTES` | 65536 | largest client frame (serve.md D12); bigger ones close with 1009 |
/// | `WS_SEND_QUEUE_FRAMES` | 4096 | data frames waiting per connection before it counts as lagged |
/// | `WS_PERMESSAGE_DEFLATE` | true | accept permessage-deflate (RFC 7692) when a client offers it |
/// | `WS_REPLY_TO_PING` | false | answer a JSON `ping` with `pong` (the reference stays silent) |
/// | `WS_HEARTBEAT_INTERVAL_MS` / `WS_HEARTBEAT_TIMEOUT_MS` | 30000 / 10000 | protocol ping, pong deadline |
/// | `BATCH_SEND_INTERVAL_MS` | 250 | flush period of batched subscriptions |
/// | `RATE_LIMIT_ENABLED` | true | the three per-connection limiters below |
/// | `RATE_LIMIT_SUBSCRIBE_POINTS` / `_DURATION_MS` | 2 / 1000 | per (connection, channel, id) |
/// | `RATE_LIMIT_PING_POINTS` / `_DURATION_MS` | 5 / 1000 | JSON pings per connection |
/// | `RATE_LIMIT_INVALID_MESSAGE_POINTS` / `_DURATION_MS` | 2 / 1000 | invalid frames per connection |
/// | `V4_ACCOUNTS_CHANNEL_LIMIT`, `V4_PARENT_ACCOUNTS_CHANNEL_LIMIT` | 256 | subscriptions per connection |
/// | `V4_CANDLES_CHANNEL_LIMIT`, `V4_MARKETS_CHANNEL_LIMIT`, `V4_ORDERBOOK_CHANNEL_LIMIT`, `V4_TRADES_CHANNEL_LIMIT` | 32 | |
/// | `V4_BLOCK_HEIGHT_CHANNEL_LIMIT` | 1 | |
/// | `SNAPSHOT_TIMEOUT_MS` (alias `AXIOS_TIMEOUT_MS`) | 5000 | initial payload deadline |
/// | `WS_HISTORY_MAX_MESSAGES` / `WS_HISTORY_MAX_AGE_MS` | 1000 / 60000 | resume buffer per channel id |
/// | `WS_REORDER_WINDOW_MS` | 100 | how long a message that overtook its predecessor waits for it |
/// | `PERPETUAL_MARKETS_REFRESHER_INTERVAL_MS` | 30000 | market cache refresh |
/// | `COMPLIANCE_STATUS_CHECK_ENABLED` | true | account snapshots of `BLOCKED` addresses are refused (serve.md §2.6) |
/// | `INDEXER_LEVEL_GEOBLOCKING_ENABLED` | false | account snapshots need `Geo-Origin-Status: ok` on the upgrade request |
/// | `WHITELISTED_ADDRESSES` | empty | addresses that skip both checks |
/// | `SOCKS_KAFKA_START` | `end` | where the feed starts reading: `end` or `beginning` |
#[derive(Debug, Clone)]
pub struct SocksConfig {
    pub ws_host: String,
    pub ws_port: u16,
    pub max_connections: Option<usize>,
    pub max_frame_bytes: usize,
    pub send_queue_frames: usize,
    pub permessage_deflate: bool,
    pub reply_to_ping: bool,
    pub heartbeat_interval: Duration,
    pub heartbeat_timeout: Duration,
    pub batch_send_interval: Duration,
    pub subscribe_rate: Option<RateLimit>,
    pub ping_rate: Option<RateLimit>,
    pub invalid_message_rate: Option<RateLimit>,
    pub channel_limits: ChannelLimits,
    pub snapshot_timeout: Duration,
    pub history: HistoryLimits,
    pub reorder_window: Duration,
    pub market_refresh_interval: Duration,
    pub kafka_start: StartAt,
    pub compliance: ComplianceRules,
}

/// The compliance and geo checks of account snapshots (serve.md §2.6, §5.6), the same rules and
/// variables as comlink's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplianceRules {
    pub status_check: bool,
    pub geoblocking: bool,
    pub whitelisted: Vec<String>,
}

impl Default for ComplianceRules {
    fn default() -> Self {
        Self {
            status_check: true,
            geoblocking: false,
            whitelisted: Vec::new(),
        }
    }
}

impl Default for SocksConfig {
    fn default() -> Self {
        Self::from_env(&Env::from_pairs(Vec::<(String, String)>::new()))
            .expect("the defaults are valid")
    }
}

impl SocksConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let rate_limits_on = env.flag("RATE_LIMIT_ENABLED", true)?;
        let rate = |name: &str, points: u32| -> Result<Option<RateLimit>, ConfigError> {
            let limit = RateLimit::new(
                env.get(&format!("RATE_LIMIT_{name}_POINTS"), points)?,
                env.millis(&format!("RATE_LIMIT_{name}_DURATION_MS"), 1000)?,
            );
            Ok(rate_limits_on.then_some(limit))
        };
        let defaults = ChannelLimits::default();
        let snapshot_default = env.get("AXIOS_TIMEOUT_MS", 5000)?;
        Ok(Self {
            ws_host: env.get("WS_HOST", "0.0.0.0".to_string())?,
            ws_port: env.get("WS_PORT", 8081)?,
            max_connections: env.optional("WS_MAX_CONNECTIONS")?,
            max_frame_bytes: env.get("WS_MAX_FRAME_BYTES", 64 * 1024)?,
            send_queue_frames: env.get("WS_SEND_QUEUE_FRAMES", 4096)?,
            permessage_deflate: env.flag("WS_PERMESSAGE_DEFLATE", true)?,
            reply_to_ping: env.flag("WS_REPLY_TO_PING", false)?,
            heartbeat_interval: env.millis("WS_HEARTBEAT_INTERVAL_MS", 30_000)?,
            heartbeat_timeout: env.millis("WS_HEARTBEAT_TIMEOUT_MS", 10_000)?,
            batch_send_interval: env.millis("BATCH_SEND_INTERVAL_MS", 250)?,
            subscribe_rate: rate("SUBSCRIBE", 2)?,
            ping_rate: rate("PING", 5)?,
            invalid_message_rate: rate("INVALID_MESSAGE", 2)?,
            channel_limits: ChannelLimits {
                subaccounts: env.get("V4_ACCOUNTS_CHANNEL_LIMIT", defaults.subaccounts)?,
                parent_subaccounts: env.get(
                    "V4_PARENT_ACCOUNTS_CHANNEL_LIMIT",
                    defaults.parent_subaccounts,
                )?,
                orderbook: env.get("V4_ORDERBOOK_CHANNEL_LIMIT", defaults.orderbook)?,
                trades: env.get("V4_TRADES_CHANNEL_LIMIT", defaults.trades)?,
                markets: env.get("V4_MARKETS_CHANNEL_LIMIT", defaults.markets)?,
                candles: env.get("V4_CANDLES_CHANNEL_LIMIT", defaults.candles)?,
                block_height: env.get("V4_BLOCK_HEIGHT_CHANNEL_LIMIT", defaults.block_height)?,
            },
            snapshot_timeout: env.millis("SNAPSHOT_TIMEOUT_MS", snapshot_default)?,
            history: HistoryLimits {
                max_messages: env.get("WS_HISTORY_MAX_MESSAGES", 1000)?,
                max_age: env.millis("WS_HISTORY_MAX_AGE_MS", 60_000)?,
            },
            reorder_window: env.millis("WS_REORDER_WINDOW_MS", 100)?,
            market_refresh_interval: env
                .millis("PERPETUAL_MARKETS_REFRESHER_INTERVAL_MS", 30_000)?,
            kafka_start: match env.get("SOCKS_KAFKA_START", "end".to_string())?.as_str() {
                "end" => StartAt::End,
                "beginning" => StartAt::Beginning,
                other => {
                    return Err(ConfigError::Invalid {
                        var: "SOCKS_KAFKA_START".into(),
                        value: other.into(),
                        reason: "expected end or beginning".into(),
                    })
                }
            },
            compliance: ComplianceRules {
                status_check: env.flag("COMPLIANCE_STATUS_CHECK_ENABLED", true)?,
                geoblocking: env.flag("INDEXER_LEVEL_GEOBLOCKING_ENABLED", false)?,
                whitelisted: env.list("WHITELISTED_ADDRESSES"),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_spec() {
        let config = SocksConfig::default();
        assert_eq!(config.ws_port, 8081);
        assert_eq!(config.batch_send_interval, Duration::from_millis(250));
        assert_eq!(config.heartbeat_interval, Duration::from_secs(30));
        assert_eq!(config.heartbeat_timeout, Duration::from_secs(10));
        assert_eq!(
            config.subscribe_rate,
            Some(RateLimit::new(2, Duration::from_secs(1)))
        );
        assert_eq!(config.channel_limits, ChannelLimits::default());
        assert_eq!(config.max_frame_bytes, 65536);
        assert!(config.permessage_deflate);
        assert_eq!(config.compliance, ComplianceRules::default());
        assert!(config.compliance.status_check && !config.compliance.geoblocking);
        assert_eq!(config.kafka_start, StartAt::End);
    }

    #[test]
    fn variables_override_and_rate_limits_can_be_disabled() {
        let env = Env::from_pairs([
            ("WS_PORT", "3003"),
            ("V4_ORDERBOOK_CHANNEL_LIMIT", "2"),
            ("RATE_LIMIT_ENABLED", "false"),
            ("SOCKS_KAFKA_START", "beginning"),
        ]);
        let config = SocksConfig::from_env(&env).unwrap();
        assert_eq!(config.ws_port, 3003);
        assert_eq!(config.channel_limits.orderbook, 2);
        assert_eq!(config.subscribe_rate, None);
        assert_eq!(config.kafka_start, StartAt::Beginning);
        let bad = Env::from_pairs([("SOCKS_KAFKA_START", "middle")]);
        assert!(SocksConfig::from_env(&bad).is_err());
    }
}
