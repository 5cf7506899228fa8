//! Ender's settings from the environment.
//!
//! | Var | Default | Meaning |
//! |---|---|---|
//! | `ENDER_START_HEIGHT` | 0 | first height an empty database accepts |
//! | `ENDER_SKIP_BLOCK` | unset | a height whose block is acknowledged without being applied (operator override, logged loudly) |
//! | `SKIP_STATEFUL_ORDER_UUIDS` | empty | comma-separated order UUIDs whose stateful-order events are skipped |
//! | `SEND_WEBSOCKET_MESSAGES` | true | when false no `to-websockets-*` message is produced |
//! | `ENDER_MAX_LAG_MS` | 30000 | `/readyz` fails when the last block was processed later than this after its block time |
//! | `ORDERBOOK_MID_PRICE_REFRESH_INTERVAL_MS` | 10000 | how often mid prices are read from Redis |
//!
//! Plus the shared `DB_*`, `REDIS_*` and `KAFKA_*` groups of `indexer_base::config`.

use std::collections::HashSet;
use std::time::Duration;

use indexer_base::config::{ConfigError, Env, KafkaSettings, PostgresSettings, RedisSettings};
use uuid::Uuid;

use crate::consumer::GateSettings;
use crate::state::ProcessSettings;

/// Everything ender is configured with.
#[derive(Debug, Clone)]
pub struct EnderSettings {
    pub postgres: PostgresSettings,
    pub redis: RedisSettings,
    pub kafka: KafkaSettings,
    pub gate: GateSettings,
    pub process: ProcessSettings,
    pub max_lag: Duration,
    pub mid_price_refresh: Duration,
}

impl EnderSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let skip_uuids = env
            .list("SKIP_STATEFUL_ORDER_UUIDS")
            .into_iter()
            .map(|text| {
                text.parse::<Uuid>().map_err(|e| ConfigError::Invalid {
                    var: "SKIP_STATEFUL_ORDER_UUIDS".into(),
                    value: text.clone(),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<HashSet<_>, _>>()?;
        Ok(EnderSettings {
            postgres: PostgresSettings::from_env(env)?,
            redis: RedisSettings::from_env(env)?,
            kafka: KafkaSettings::from_env(env)?,
            gate: GateSettings {
                start_height: env.get("ENDER_START_HEIGHT", 0)?,
                skip_block: env.optional("ENDER_SKIP_BLOCK")?,
            },
            process: ProcessSettings {
                skip_stateful_order_uuids: skip_uuids,
                send_websocket_messages: env.flag("SEND_WEBSOCKET_MESSAGES", true)?,
            },
            max_lag: env.millis("ENDER_MAX_LAG_MS", 30_000)?,
            mid_price_refresh: env.millis("ORDERBOOK_MID_PRICE_REFRESH_INTERVAL_MS", 10_000)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let defaults = EnderSettings::from_env(&Env::from_pairs([("X", "1")])).unwrap();
        assert_eq!(
            defaults.gate,
            GateSettings {
                start_height: 0,
                skip_block: None
            }
        );
        assert!(defaults.process.send_websocket_messages);
        assert_eq!(defaults.max_lag, Duration::from_secs(30));
        let id = "a004befb-8557-55ba-9bd3-19f2a3d9f03a";
        let set = EnderSettings::from_env(&Env::from_pairs([
            ("ENDER_START_HEIGHT", "100"),
            ("ENDER_SKIP_BLOCK", "123"),
            ("SKIP_STATEFUL_ORDER_UUIDS", id),
            ("SEND_WEBSOCKET_MESSAGES", "false"),
        ]))
        .unwrap();
        assert_eq!(
            set.gate,
            GateSettings {
                start_height: 100,
                skip_block: Some(123)
            }
        );
        assert!(set
            .process
            .skip_stateful_order_uuids
            .contains(&id.parse().unwrap()));
        assert!(!set.process.send_websocket_messages);
    }

    #[test]
    fn a_bad_uuid_names_the_variable() {
        let err =
            EnderSettings::from_env(&Env::from_pairs([("SKIP_STATEFUL_ORDER_UUIDS", "nope")]))
                .unwrap_err();
        assert!(
            err.to_string().contains("SKIP_STATEFUL_ORDER_UUIDS"),
            "{err}"
        );
    }
}
