//! Order-book and order-cache maintenance for roundtable's jobs (ops.md §1.4): empty-level
//! pruning, stale crossed-level removal with order-book seqs, the mid-price samples ender reads
//! for candles, expired short-term orders, and the purge of parked stateful-order updates.

use std::sync::OnceLock;

use redis::{Script, Value};

use crate::keys::BookSide;
use crate::script_value::{array, string, ScriptReplyError};
use crate::{Cache, CacheError};

/// How long mid-price samples are kept (seconds); ender reads the newest ≤ 10.
pub const MID_PRICE_WINDOW_SECONDS: i64 = 60;

fn prune_zero_levels_script() -> &'static Script {
    static SCRIPT: OnceLock<Script> = OnceLock::new();
    SCRIPT.get_or_init(|| Script::new(include_str!("scripts/prune_zero_levels.lua")))
}

fn remove_stale_levels_script() -> &'static Script {
    static SCRIPT: OnceLock<Script> = OnceLock::new();
    SCRIPT.get_or_init(|| Script::new(include_str!("scripts/remove_stale_levels.lua")))
}

fn purge_stateful_updates_script() -> &'static Script {
    static SCRIPT: OnceLock<Script> = OnceLock::new();
    SCRIPT.get_or_init(|| Script::new(include_str!("scripts/purge_stateful_updates.lua")))
}

/// Deletes the levels of `ticker`/`side` whose size is 0 (or below) from both hashes, in one
/// atomic step; returns how many were deleted. Readers already skip such levels, so the
/// order-book seq does not change.
pub async fn prune_zero_levels(
    cache: &Cache,
    ticker: &str,
    side: BookSide,
) -> Result<u64, CacheError> {
    let keys = cache.keys();
    let deleted: i64 = prune_zero_levels_script()
        .key(keys.orderbook_levels(ticker, side))
        .key(keys.orderbook_levels_last_updated(ticker, side))
        .invoke_async(&mut cache.conn())
        .await?;
    Ok(deleted.max(0) as u64)
}

/// A level [`remove_stale_levels`] removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedLevel {
    pub side: BookSide,
    /// Human price (the level's hash field).
    pub price: String,
    /// The order-book seq of the size-0 level message announcing the removal; `None` when the
    /// level was already empty (nothing visible changed, no seq taken).
    pub seq: Option<u64>,
}

/// What [`remove_stale_levels`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleRemoval {
    /// The stream epoch the seqs belong to.
    pub epoch: String,
    pub removed: Vec<RemovedLevel>,
}

/// Removes the given levels of `ticker` that are still stale (lastUpdated more than
/// `max_age_seconds` before Redis's clock), in one atomic step that also advances the market's
/// order-book seq once per visible removal. Levels that changed since they were chosen stay.
pub async fn remove_stale_levels(
    cache: &Cache,
    ticker: &str,
    bids: &[String],
    asks: &[String],
    max_age_seconds: u64,
    epoch_candidate: &str,
) -> Result<StaleRemoval, CacheError> {
    let keys = cache.keys();
    let mut invocation = remove_stale_levels_script().prepare_invoke();
    invocation
        .key(keys.orderbook_levels(ticker, BookSide::Buy))
        .key(keys.orderbook_levels_last_updated(ticker, BookSide::Buy))
        .key(keys.orderbook_levels(ticker, BookSide::Sell))
        .key(keys.orderbook_levels_last_updated(ticker, BookSide::Sell))
        .key(keys.orderbook_seq(ticker))
        .key(keys.stream_epoch())
        .arg(epoch_candidate)
        .arg(max_age_seconds)
        .arg(bids.len());
    for price in bids.iter().chain(asks) {
        invocation.arg(price);
    }
    let reply: Value = invocation.invoke_async(&mut cache.conn()).await?;
    Ok(parse_stale_removal(reply)?)
}

fn parse_stale_removal(reply: Value) -> Result<StaleRemoval, ScriptReplyError> {
    let mut items = array(reply)?.into_iter();
    let epoch = string(
        items
            .next()
            .ok_or(ScriptReplyError::Shape("missing epoch"))?,
    )?;
    let rest: Vec<Value> = items.collect();
    let triples = rest.chunks_exact(3);
    if !triples.remainder().is_empty() {
        return Err(ScriptReplyError::Shape("side, price, seq triples"));
    }
    let mut removed = Vec::with_capacity(rest.len() / 3);
    for triple in triples {
        let side = match string(triple[0].clone())?.as_str() {
            "BUY" => BookSide::Buy,
            _ => BookSide::Sell,
        };
        let seq = string(triple[2].clone())?;
        removed.push(RemovedLevel {
            side,
            price: string(triple[1].clone())?,
            seq: if seq.is_empty() {
                None
            } else {
                Some(seq.parse().map_err(|_| ScriptReplyError::Number(seq))?)
            },
        });
    }
    Ok(StaleRemoval { epoch, removed })
}

/// Adds one mid-price sample per market (`v4/orderbook_mid_prices/<ticker>`, score = `now_s`,
/// member = the price) and drops samples older than [`MID_PRICE_WINDOW_SECONDS`], atomically.
pub async fn add_mid_prices(
    cache: &Cache,
    prices: &[(String, String)],
    now_s: i64,
) -> Result<(), CacheError> {
    if prices.is_empty() {
        return Ok(());
    }
    let mut pipe = redis::pipe();
    pipe.atomic();
    for (ticker, price) in prices {
        let key = cache.keys().orderbook_mid_prices(ticker);
        pipe.zadd(&key, price, now_s).ignore();
        pipe.zrembyscore(&key, "-inf", now_s - MID_PRICE_WINDOW_SECONDS)
            .ignore();
    }
    let _: () = pipe.query_async(&mut cache.conn()).await?;
    Ok(())
}

/// A short-term order in the expiry set, with what is stored for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiringOrder {
    pub order_uuid: String,
    /// The good-til-block the expiry set holds.
    pub expiry: u64,
    /// Protobuf-encoded `RedisOrder`, if still stored.
    pub redis_order: Option<Vec<u8>>,
    /// `<expiry>_<totalFilled>_<resting>`, if still stored.
    pub order_data: Option<String>,
}

/// Short-term orders whose good-til-block is at most `max_expiry`, at most `limit` of them
/// (lowest expiry first), with their stored order and data.
pub async fn expiring_orders(
    cache: &Cache,
    max_expiry: u64,
    limit: usize,
) -> Result<Vec<ExpiringOrder>, CacheError> {
    let keys = cache.keys();
    let mut conn = cache.conn();
    let members: Vec<(String, f64)> = redis::cmd("ZRANGEBYSCORE")
        .arg(keys.order_expiry())
        .arg("-inf")
        .arg(max_expiry)
        .arg("WITHSCORES")
        .arg("LIMIT")
        .arg(0)
        .arg(limit)
        .query_async(&mut conn)
        .await?;
    if members.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for (uuid, _) in &members {
        pipe.get(keys.order(uuid)).get(keys.order_data(uuid));
    }
    let stored: Vec<(Option<Vec<u8>>, Option<String>)> = pipe.query_async(&mut conn).await?;
    Ok(members
        .into_iter()
        .zip(stored)
        .map(
            |((order_uuid, score), (redis_order, order_data))| ExpiringOrder {
                order_uuid,
                // Block heights are far below 2^53, exact in a double.
                expiry: score as u64,
                redis_order,
                order_data,
            },
        )
        .collect())
}

/// Removes parked stateful-order updates cached at or before `cutoff_ms` from both the id set
/// and the update hash; each batch of `batch` ids is one atomic step. Returns the removed ids.
pub async fn purge_stateful_order_updates(
    cache: &Cache,
    cutoff_ms: i64,
    batch: usize,
) -> Result<Vec<String>, CacheError> {
    let keys = cache.keys();
    let mut removed = Vec::new();
    loop {
        let reply: Value = purge_stateful_updates_script()
            .key(keys.stateful_order_update_ids())
            .key(keys.stateful_order_updates())
            .arg(cutoff_ms)
            .arg(batch.max(1))
            .invoke_async(&mut cache.conn())
            .await?;
        let ids = array(reply)?
            .into_iter()
            .map(string)
            .collect::<Result<Vec<_>, _>>()?;
        let done = ids.len() < batch.max(1);
        removed.extend(ids);
        if done {
            return Ok(removed);
        }
    }
}
