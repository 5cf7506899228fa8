//! Open orders and their price levels: the place / update / remove / replace operations of
//! ingest.md §5.3–§5.6 on the key layout of §7.1, each applied atomically by one Lua script
//! together with its level, the level's lastUpdated time and the market's order-book seq
//! (beyond.md §1).
//!
//! [`apply_order_ops`] runs a whole batch of operations in one script call (one round trip, one
//! atomic step; operations see each other's effects in order). A batch of one is the
//! single-update call. Callers keep per-order ordering simply by submitting in Kafka order.

use redis::Value;

use crate::keys::{BookSide, Keys};
use crate::script_value::{array, bytes, string, ScriptReplyError};
use crate::scripts;
use crate::{Cache, CacheError};

/// Which canceled-order set a removal goes to (ingest.md §5.5; FILLED removals go to none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovalStatus {
    BestEffortCanceled,
    Canceled,
    Filled,
}

impl RemovalStatus {
    fn code(self) -> &'static str {
        match self {
            RemovalStatus::BestEffortCanceled => "1",
            RemovalStatus::Canceled => "2",
            RemovalStatus::Filled => "3",
        }
    }
}

/// Store an order (`OrderPlaceV1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceOrder {
    pub order_uuid: String,
    pub subaccount_uuid: String,
    /// Protobuf-encoded `RedisOrder`.
    pub redis_order: Vec<u8>,
    /// good_til_block (short-term) or good_til_block_time seconds (stateful).
    pub expiry: u64,
    /// Order flags 0: tracked in the expiry set.
    pub short_term: bool,
    /// Pop the cached stateful-order update of this order (stateful placements confirmed on chain).
    pub pop_cached_update: bool,
    /// What the book needs of the order, stored beside it.
    pub book_facts: BookFacts,
}

/// The order's side, whether it can rest, its size and its level's price, stored beside the
/// order (`v4/orderBookFacts/<uuid>`) so updates need not decode the protobuf order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookFacts {
    pub side: BookSide,
    /// IOC / FOK: never rests.
    pub immediate: bool,
    pub quantums: u64,
    /// Human price, exactly as in the `RedisOrder` (the level's hash field).
    pub price: String,
}

impl BookFacts {
    fn encode(&self) -> String {
        let side = match self.side {
            BookSide::Buy => '1',
            BookSide::Sell => '2',
        };
        let immediate = if self.immediate { '1' } else { '0' };
        format!("{side}{immediate}{}:{}", self.quantums, self.price)
    }
}

/// Record a new absolute fill (`OrderUpdateV1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateOrder {
    pub order_uuid: String,
    /// Ticker of the order's market (whose levels and seq change).
    pub ticker: String,
    pub total_filled_quantums: u64,
    /// Encoded `OrderUpdateV1` to cache when the order is not stored (stateful orders whose
    /// optimistic fill arrives before their on-chain placement).
    pub cache_if_missing: Option<Vec<u8>>,
}

/// Remove an order (`OrderRemoveV1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoveOrder {
    pub order_uuid: String,
    pub subaccount_uuid: String,
    pub ticker: String,
    pub status: RemovalStatus,
    /// Stateful user cancel confirmed on chain: the level message is due even for a zero
    /// change, and the id goes to no canceled set.
    pub stateful_user_cancel: bool,
    /// For INDEXER_EXPIRED removals: only remove if the stored good-til-block is below this
    /// height.
    pub expired_before_height: Option<u64>,
}

/// One operation of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderOp {
    Place(PlaceOrder),
    Update(UpdateOrder),
    Remove(RemoveOrder),
    /// Remove the old order, then place the new one, as one step.
    Replace {
        remove: RemoveOrder,
        place: PlaceOrder,
    },
}

/// A price level that changed, with the order-book seq of the message announcing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelChange {
    pub side: BookSide,
    /// Human price, the level's hash field.
    pub price: String,
    /// Total quantums now resting at that price (0: the level is gone).
    pub size_quantums: u64,
    pub seq: u64,
    /// The level would have gone negative and was clamped to empty.
    pub clamped: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceOutcome {
    /// The order was not stored before.
    pub placed: bool,
    /// A stored order with an earlier expiry was replaced.
    pub replaced: bool,
    pub old_total_filled: u64,
    pub old_resting: bool,
    /// The cached stateful-order update that was popped (encoded `OrderUpdateV1`).
    pub cached_update: Option<Vec<u8>>,
}

/// Why an update did not change a level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// The order is not stored; nothing changed.
    Missing,
    /// The order is not stored; the update was cached for its placement.
    Cached,
    /// Fill recorded. `level` is set when a level changed.
    Applied {
        old_total_filled: u64,
        old_resting: bool,
        level: Option<LevelChange>,
        /// The change was zero (e.g. a replayed update).
        zero_delta: bool,
        /// IOC / FOK orders never rest.
        immediate: bool,
        new_exceeds_size: bool,
        old_exceeds_size: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoveOutcome {
    /// Nothing was stored under this id; nothing changed.
    Missing,
    /// INDEXER_EXPIRED for an order that has not expired yet; nothing changed.
    NotExpired,
    Removed {
        total_filled: u64,
        resting: bool,
        /// `v4/state_filled_quantums/<uuid>` as ender wrote it, if present.
        state_filled: Option<String>,
        /// The removed encoded `RedisOrder`.
        redis_order: Vec<u8>,
        /// The level change to announce (taken out of the book, or a zero change announced for
        /// a stateful user cancel).
        level: Option<LevelChange>,
        filled_exceeds_size: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpOutcome {
    Place(PlaceOutcome),
    Update(UpdateOutcome),
    Remove(RemoveOutcome),
    Replace {
        removed: RemoveOutcome,
        placed: PlaceOutcome,
    },
}

/// Outcomes of a batch, in operation order, and the stream epoch their seqs belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedBatch {
    pub epoch: String,
    pub outcomes: Vec<OpOutcome>,
}

/// Applies `ops` in order as one atomic script call. `now_ms` is the wall clock (epoch ms) used
/// for the canceled-order windows and stateful-update cache; `epoch_candidate` becomes the
/// stream epoch if Redis has none (pass a fresh random value).
pub async fn apply_order_ops(
    cache: &Cache,
    ops: &[OrderOp],
    now_ms: i64,
    epoch_candidate: &str,
) -> Result<AppliedBatch, CacheError> {
    if ops.is_empty() {
        return Ok(AppliedBatch {
            epoch: String::new(),
            outcomes: Vec::new(),
        });
    }
    let invocation = build_invocation(cache.keys(), ops, now_ms, epoch_candidate);
    let reply: Value = invocation.invoke_async(&mut cache.conn()).await?;
    Ok(parse_batch(reply, ops)?)
}

/// Market groups: each distinct ticker of the batch gets its 5 keys once.
struct Groups<'a> {
    tickers: Vec<&'a str>,
}

impl<'a> Groups<'a> {
    fn of(ops: &'a [OrderOp]) -> Self {
        let mut tickers: Vec<&str> = Vec::new();
        let mut add = |t: &'a str| {
            if !tickers.contains(&t) {
                tickers.push(t);
            }
        };
        for op in ops {
            match op {
                OrderOp::Update(u) => add(&u.ticker),
                OrderOp::Remove(r) | OrderOp::Replace { remove: r, .. } => add(&r.ticker),
                OrderOp::Place(_) => {}
            }
        }
        Self { tickers }
    }

    /// 1-based index of `ticker` as the script numbers groups.
    fn index(&self, ticker: &str) -> usize {
        self.tickers
            .iter()
            .position(|t| *t == ticker)
            .expect("every ticker has a group")
            + 1
    }
}

fn build_invocation(
    keys: &Keys,
    ops: &[OrderOp],
    now_ms: i64,
    epoch_candidate: &str,
) -> redis::ScriptInvocation<'static> {
    let groups = Groups::of(ops);
    let mut inv = scripts::apply_order_ops().prepare_invoke();
    inv.key(keys.stream_epoch())
        .key(keys.cancelled_orders())
        .key(keys.best_effort_cancelled_orders())
        .key(keys.order_expiry())
        .key(keys.stateful_order_update_ids())
        .key(keys.stateful_order_updates());
    for ticker in &groups.tickers {
        inv.key(keys.orderbook_levels(ticker, BookSide::Buy))
            .key(keys.orderbook_levels_last_updated(ticker, BookSide::Buy))
            .key(keys.orderbook_levels(ticker, BookSide::Sell))
            .key(keys.orderbook_levels_last_updated(ticker, BookSide::Sell))
            .key(keys.orderbook_seq(ticker));
    }
    inv.arg(now_ms)
        .arg(epoch_candidate)
        .arg(groups.tickers.len())
        .arg(ops.len());
    for op in ops {
        match op {
            OrderOp::Place(p) => {
                inv.arg("P");
                add_place(&mut inv, keys, p);
            }
            OrderOp::Update(u) => {
                inv.arg("U")
                    .arg(&u.order_uuid)
                    .arg(groups.index(&u.ticker))
                    .arg(u.total_filled_quantums)
                    .arg(flag_arg(u.cache_if_missing.is_some()))
                    .arg(u.cache_if_missing.as_deref().unwrap_or_default());
                inv.key(keys.order(&u.order_uuid))
                    .key(keys.order_data(&u.order_uuid))
                    .key(keys.order_book_facts(&u.order_uuid));
            }
            OrderOp::Remove(r) => {
                inv.arg("R");
                add_remove(&mut inv, keys, r, groups.index(&r.ticker));
            }
            OrderOp::Replace { remove, place } => {
                inv.arg("X");
                add_remove(&mut inv, keys, remove, groups.index(&remove.ticker));
                add_place(&mut inv, keys, place);
            }
        }
    }
    inv
}

fn flag_arg(on: bool) -> &'static str {
    if on {
        "1"
    } else {
        "0"
    }
}

fn add_place(inv: &mut redis::ScriptInvocation<'static>, keys: &Keys, p: &PlaceOrder) {
    inv.arg(&p.order_uuid)
        .arg(p.redis_order.as_slice())
        .arg(p.expiry)
        .arg(flag_arg(p.short_term))
        .arg(flag_arg(p.pop_cached_update))
        .arg(p.book_facts.encode());
    inv.key(keys.order(&p.order_uuid))
        .key(keys.order_data(&p.order_uuid))
        .key(keys.subaccount_order_ids(&p.subaccount_uuid))
        .key(keys.order_book_facts(&p.order_uuid));
}

fn add_remove(
    inv: &mut redis::ScriptInvocation<'static>,
    keys: &Keys,
    r: &RemoveOrder,
    group: usize,
) {
    let expired_before = r
        .expired_before_height
        .map(|h| h.to_string())
        .unwrap_or_default();
    inv.arg(&r.order_uuid)
        .arg(group)
        .arg(r.status.code())
        .arg(flag_arg(r.stateful_user_cancel))
        .arg(expired_before);
    inv.key(keys.order(&r.order_uuid))
        .key(keys.order_data(&r.order_uuid))
        .key(keys.subaccount_order_ids(&r.subaccount_uuid))
        .key(keys.state_filled_quantums(&r.order_uuid))
        .key(keys.order_book_facts(&r.order_uuid));
}

/// Reads the flat reply of `apply.lua`: the epoch, then one space-separated record per operation
/// (a replace has two: the removal's, then the placement's), each followed by one raw element
/// when the record announces it (see `emit` in common.lua).
fn parse_batch(reply: Value, ops: &[OrderOp]) -> Result<AppliedBatch, ScriptReplyError> {
    let mut items = array(reply)?.into_iter();
    let epoch = string(
        items
            .next()
            .ok_or(ScriptReplyError::Shape("missing epoch"))?,
    )?;
    let mut reader = Records(items);
    let outcomes = ops
        .iter()
        .map(|op| match op {
            OrderOp::Place(_) => Ok(OpOutcome::Place(reader.place()?)),
            OrderOp::Update(_) => Ok(OpOutcome::Update(reader.update()?)),
            OrderOp::Remove(_) => Ok(OpOutcome::Remove(reader.remove()?)),
            OrderOp::Replace { .. } => Ok(OpOutcome::Replace {
                removed: reader.remove()?,
                placed: reader.place()?,
            }),
        })
        .collect::<Result<Vec<_>, ScriptReplyError>>()?;
    if reader.0.next().is_some() {
        return Err(ScriptReplyError::Shape("more records than operations"));
    }
    Ok(AppliedBatch { epoch, outcomes })
}

/// The records of a batch reply, read in operation order.
struct Records(std::vec::IntoIter<Value>);

impl Records {
    /// The next record, checked to be of `kind`, split into its fields (kind excluded).
    fn record(&mut self, kind: &'static str) -> Result<Fields, ScriptReplyError> {
        let text = string(
            self.0
                .next()
                .ok_or(ScriptReplyError::Shape("fewer records than operations"))?,
        )?;
        let mut parts = text.split(' ');
        if parts.next() != Some(kind) {
            return Err(ScriptReplyError::Shape("record of another operation kind"));
        }
        Ok(Fields(
            parts
                .map(|p| {
                    if p == "-" {
                        String::new()
                    } else {
                        p.to_string()
                    }
                })
                .collect(),
        ))
    }

    fn raw(&mut self) -> Result<Vec<u8>, ScriptReplyError> {
        bytes(
            self.0
                .next()
                .ok_or(ScriptReplyError::Shape("missing raw element"))?,
        )
    }

    fn place(&mut self) -> Result<PlaceOutcome, ScriptReplyError> {
        let f = self.record("P")?;
        let cached_update = if f.flag(4)? { Some(self.raw()?) } else { None };
        Ok(PlaceOutcome {
            placed: f.flag(0)?,
            replaced: f.flag(1)?,
            old_total_filled: f.u64(2)?,
            old_resting: f.resting(3),
            cached_update,
        })
    }

    fn update(&mut self) -> Result<UpdateOutcome, ScriptReplyError> {
        let f = self.record("U")?;
        let (zero_delta, immediate) = match f.str(0) {
            "missing" => return Ok(UpdateOutcome::Missing),
            "cached" => return Ok(UpdateOutcome::Cached),
            "zero_delta" => (true, false),
            "immediate" => (false, true),
            "changed" => (false, false),
            _ => return Err(ScriptReplyError::Shape("unknown update outcome")),
        };
        let level = if f.str(0) == "changed" {
            Some(f.level(3, 9)?)
        } else {
            None
        };
        Ok(UpdateOutcome::Applied {
            old_total_filled: f.u64(1)?,
            old_resting: f.resting(2),
            level,
            zero_delta,
            immediate,
            new_exceeds_size: f.flag(7)?,
            old_exceeds_size: f.flag(8)?,
        })
    }

    fn remove(&mut self) -> Result<RemoveOutcome, ScriptReplyError> {
        let f = self.record("R")?;
        match f.str(0) {
            "missing" => return Ok(RemoveOutcome::Missing),
            "not_expired" => return Ok(RemoveOutcome::NotExpired),
            "removed" => {}
            _ => return Err(ScriptReplyError::Shape("unknown remove outcome")),
        }
        let state_filled = f.str(3);
        let level = if f.flag(4)? {
            Some(f.level(5, 10)?)
        } else {
            None
        };
        Ok(RemoveOutcome::Removed {
            total_filled: f.u64(1)?,
            resting: f.resting(2),
            state_filled: (!state_filled.is_empty()).then(|| state_filled.to_string()),
            redis_order: self.raw()?,
            level,
            filled_exceeds_size: f.flag(9)?,
        })
    }
}

/// The fields of one record by position ('-' already read as empty).
struct Fields(Vec<String>);

impl Fields {
    fn str(&self, i: usize) -> &str {
        self.0.get(i).map(String::as_str).unwrap_or_default()
    }
    fn u64(&self, i: usize) -> Result<u64, ScriptReplyError> {
        let text = self.str(i);
        text.parse()
            .map_err(|_| ScriptReplyError::Number(text.to_string()))
    }
    fn flag(&self, i: usize) -> Result<bool, ScriptReplyError> {
        Ok(self.u64(i)? != 0)
    }
    fn resting(&self, i: usize) -> bool {
        self.str(i) != "false"
    }
    fn side(&self, i: usize) -> Result<BookSide, ScriptReplyError> {
        match self.str(i) {
            "1" => Ok(BookSide::Buy),
            "2" => Ok(BookSide::Sell),
            other => Err(ScriptReplyError::Number(format!("side {other}"))),
        }
    }
    /// Level fields at `side_at`: side, price, size, seq; `clamped_at` holds the clamp flag.
    fn level(&self, side_at: usize, clamped_at: usize) -> Result<LevelChange, ScriptReplyError> {
        Ok(LevelChange {
            side: self.side(side_at)?,
            price: self.str(side_at + 1).to_string(),
            size_quantums: self.u64(side_at + 2)?,
            seq: self.u64(side_at + 3)?,
            clamped: self.flag(clamped_at)?,
        })
    }
}
