//! Ender's Redis reads and writes (ingest.md §7.1): canceled statuses of filled orders and
//! order-book mid prices before a block; the block's effects (state-filled quantums, next-funding
//! samples) after its commit.
//!
//! Effects travel through the outbox: they are written in the block's transaction as rows of the
//! pseudo-topic [`REDIS_TOPIC`], and the relay applies each row with a script that also records
//! the row id in a marker key (per database epoch). A row is therefore applied exactly once even
//! if the relay crashes between applying it and deleting it (quirk Q11 fixed).

use std::collections::HashMap;
use std::sync::OnceLock;

use indexer_cache::{Cache, CacheError};
use indexer_domain::Decimal;
use indexer_store::write::OutboxMessage;
use redis::Script;
use uuid::Uuid;

use crate::block::RedisEffect;
use crate::state::CanceledStatus;

/// Outbox topic of Redis effects (never a Kafka topic: Kafka names cannot contain `@`).
pub const REDIS_TOPIC: &str = "@redis";

/// TTL of `v4/state_filled_quantums/<order>` (ingest.md §7.1).
const STATE_FILLED_TTL_SECONDS: u64 = 300;

/// The outbox row of an effect.
pub fn outbox_message(effect: &RedisEffect) -> OutboxMessage {
    OutboxMessage {
        topic: REDIS_TOPIC.into(),
        partition_key: None,
        payload: serde_json::to_vec(effect).expect("effects always serialise"),
        headers: vec![],
        channel: None,
    }
}

/// Parses an outbox row's payload back into the effect.
pub fn effect_of(payload: &[u8]) -> Result<RedisEffect, serde_json::Error> {
    serde_json::from_slice(payload)
}

/// Key recording the last outbox row applied to Redis for a database epoch.
pub fn applied_marker_key(cache: &Cache, epoch: &Uuid) -> String {
    format!(
        "{}v4/ender/redisAppliedOutboxId/{epoch}",
        cache.keys().prefix()
    )
}

fn apply_script() -> &'static Script {
    static SCRIPT: OnceLock<Script> = OnceLock::new();
    SCRIPT.get_or_init(|| {
        Script::new(
            r#"
local applied = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) <= applied then return 0 end
if ARGV[2] == 'set_ex' then
  redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4])
elseif ARGV[2] == 'rpush' then
  redis.call('RPUSH', KEYS[2], ARGV[3])
elseif ARGV[2] == 'del' then
  redis.call('DEL', KEYS[2])
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"#,
        )
    })
}

/// Applies the effect of outbox row `outbox_id` unless a row at or after it was applied already.
/// Returns whether it was applied now.
pub async fn apply_effect(
    cache: &Cache,
    marker_key: &str,
    outbox_id: i64,
    effect: &RedisEffect,
) -> Result<bool, CacheError> {
    let keys = cache.keys();
    let (command, key, value) = match effect {
        RedisEffect::StateFilledQuantums { order_id, quantums } => (
            "set_ex",
            keys.state_filled_quantums(&order_id.to_string()),
            quantums.to_string(),
        ),
        RedisEffect::PushNextFundingSample { ticker, rate } => {
            ("rpush", keys.next_funding(ticker), rate.to_string())
        }
        RedisEffect::ClearNextFundingSamples { ticker } => {
            ("del", keys.next_funding(ticker), String::new())
        }
    };
    let applied: i64 = apply_script()
        .key(marker_key)
        .key(key)
        .arg(outbox_id)
        .arg(command)
        .arg(value)
        .arg(STATE_FILLED_TTL_SECONDS)
        .invoke_async(&mut cache.conn())
        .await?;
    Ok(applied == 1)
}

/// Canceled status of each order in vulcan's canceled sets (ingest.md §4.2 step 9). One pipeline.
pub async fn canceled_statuses(
    cache: &Cache,
    orders: &[Uuid],
) -> Result<HashMap<Uuid, CanceledStatus>, CacheError> {
    if orders.is_empty() {
        return Ok(HashMap::new());
    }
    let keys = cache.keys();
    let mut pipe = redis::pipe();
    for order in orders {
        let member = order.to_string();
        pipe.zscore(keys.cancelled_orders(), &member);
        pipe.zscore(keys.best_effort_cancelled_orders(), &member);
    }
    let scores: Vec<Option<f64>> = pipe.query_async(&mut cache.conn()).await?;
    Ok(orders
        .iter()
        .zip(scores.chunks(2))
        .filter_map(|(order, pair)| {
            let status = match pair {
                [Some(_), _] => CanceledStatus::Canceled,
                [None, Some(_)] => CanceledStatus::BestEffortCanceled,
                _ => return None,
            };
            Some((*order, status))
        })
        .collect())
}

/// Median of the order-book mid-price samples of each ticker (the first ≤ 10 members by score;
/// ingest.md §7.3 "get orderbook mid prices"). Tickers without samples are absent.
pub async fn mid_prices(
    cache: &Cache,
    tickers: &[String],
) -> Result<HashMap<String, Decimal>, CacheError> {
    if tickers.is_empty() {
        return Ok(HashMap::new());
    }
    let mut pipe = redis::pipe();
    for ticker in tickers {
        pipe.zrange(cache.keys().orderbook_mid_prices(ticker), 0, 9);
    }
    let samples: Vec<Vec<String>> = pipe.query_async(&mut cache.conn()).await?;
    Ok(tickers
        .iter()
        .zip(samples)
        .filter_map(|(ticker, values)| median(&values).map(|m| (ticker.clone(), m)))
        .collect())
}

/// Median of decimal strings (average of the two middle values for an even count); unparsable
/// samples are ignored.
pub fn median(values: &[String]) -> Option<Decimal> {
    let mut parsed: Vec<Decimal> = values
        .iter()
        .filter_map(|v| Decimal::parse(v).ok())
        .collect();
    if parsed.is_empty() {
        return None;
    }
    parsed.sort();
    let n = parsed.len();
    let middle = if n % 2 == 1 {
        parsed[n / 2].clone()
    } else {
        ((&parsed[n / 2 - 1] + &parsed[n / 2]) * Decimal::parse("0.5").expect("literal")).trim()
    };
    Some(middle.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(median(&s(&["3", "1", "2"])).unwrap().to_string(), "2");
        assert_eq!(
            median(&s(&["50000", "50001"])).unwrap().to_string(),
            "50000.5"
        );
        assert_eq!(
            median(&s(&["1.25e-7", "x"])).unwrap().to_string(),
            "0.000000125"
        );
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn effects_round_trip_through_the_outbox_payload() {
        let effect = RedisEffect::PushNextFundingSample {
            ticker: "BTC-USD".into(),
            rate: Decimal::parse("0.00000125").unwrap(),
        };
        let row = outbox_message(&effect);
        assert_eq!(row.topic, REDIS_TOPIC);
        assert_eq!(effect_of(&row.payload).unwrap(), effect);
    }
}
