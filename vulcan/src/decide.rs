//! What a message means once its script ran (ingest.md §5.3–§5.5): which Postgres rows it needs,
//! then which websocket messages, re-queued updates and dead letters it produces. Pure.

use std::collections::HashMap;

use indexer_cache::orders::{LevelChange, OpOutcome, PlaceOutcome, RemoveOutcome, UpdateOutcome};
use indexer_cache::BookSide;
use indexer_domain::OrderStatus;
use indexer_proto::off_chain_updates::off_chain_update_v1::UpdateMessage;
use indexer_proto::off_chain_updates::{OffChainUpdateV1, OrderUpdateV1};
use indexer_proto::protocol::v1::{IndexerOrderId, IndexerSubaccountId};
use indexer_proto::redis::RedisOrder;
use indexer_proto::shared::OrderRemovalReason;
use indexer_store::write::OrderRow;
use prost::Message;
use uuid::Uuid;

use crate::markets::Market;
use crate::messages::{
    orderbook_contents, subaccount_contents, CanceledStatefulOrder, MissingOrderRemoval,
    PlacedOrder, RemovedOrder,
};
use crate::plan::{Command, PlaceCommand, RemoveCommand, UpdateCommand};

/// A Postgres access a message needs before its messages can be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgNeed {
    /// The row must exist (confirmed stateful placement; ender commits before it publishes).
    Required(Uuid),
    /// Load the row if there is one.
    Optional(Uuid),
    /// Set the row's status (if the row exists) and use the updated row.
    SetStatus(Uuid, OrderStatus),
}

/// Knobs of the decisions (ingest.md §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecideSettings {
    pub send_subaccount_message_for_missing_cancels: bool,
}

impl Default for DecideSettings {
    fn default() -> Self {
        Self {
            send_subaccount_message_for_missing_cancels: true,
        }
    }
}

/// A level message: the new total at one price of one market.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelMessage {
    pub clob_pair_id: u32,
    pub ticker: String,
    pub is_buy: bool,
    pub price: String,
    /// Human size now resting at the price ("0": the level is gone).
    pub size: String,
    pub seq: u64,
}

impl LevelMessage {
    fn of(change: &LevelChange, market: &Market) -> Self {
        LevelMessage {
            clob_pair_id: market.clob_pair_id,
            ticker: market.ticker.clone(),
            is_buy: change.side == BookSide::Buy,
            price: change.price.clone(),
            size: market.size(change.size_quantums),
            seq: change.seq,
        }
    }

    pub fn contents(&self) -> String {
        orderbook_contents(self.is_buy, &self.price, &self.size)
    }
}

/// A subaccount message (its seq is assigned when the batch is published).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubaccountUpdate {
    pub subaccount: IndexerSubaccountId,
    pub contents: String,
}

/// Everything one message produces.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    pub levels: Vec<LevelMessage>,
    pub subaccounts: Vec<SubaccountUpdate>,
    /// A cached early update to send back to `to-vulcan` for this order (ingest.md §5.3 step 5).
    pub requeue: Option<(IndexerOrderId, Vec<u8>)>,
    /// Why the message is also copied to the dead-letter topic (state was not changed by it).
    pub dead_letter: Option<String>,
    /// Names of notable outcomes, counted as `vulcan_events_total{event}`.
    pub events: Vec<&'static str>,
}

/// The Postgres accesses `command` needs given its script outcome.
pub fn pg_needs(
    command: &Command,
    outcome: Option<&OpOutcome>,
    settings: &DecideSettings,
) -> Vec<PgNeed> {
    match (command, outcome) {
        (Command::Place(p), Some(OpOutcome::Place(o))) => place_needs(p, o),
        (Command::Remove(r), Some(OpOutcome::Remove(o))) => remove_needs(r, o, settings),
        (Command::Replace { remove, place }, Some(OpOutcome::Replace { removed, placed })) => {
            let mut needs = remove_needs(remove, removed, settings);
            needs.extend(place_needs(place, placed));
            needs
        }
        _ => Vec::new(),
    }
}

fn place_needs(p: &PlaceCommand, o: &PlaceOutcome) -> Vec<PgNeed> {
    if p.announces(o.placed, o.replaced) && p.is_confirmed_stateful() && !p.order.is_vault() {
        vec![PgNeed::Required(p.order.uuid)]
    } else {
        Vec::new()
    }
}

fn remove_needs(r: &RemoveCommand, o: &RemoveOutcome, settings: &DecideSettings) -> Vec<PgNeed> {
    match o {
        RemoveOutcome::NotExpired => Vec::new(),
        RemoveOutcome::Missing => {
            if settings.send_subaccount_message_for_missing_cancels && announces_missing(r) {
                vec![PgNeed::Optional(r.order.uuid)]
            } else {
                Vec::new()
            }
        }
        RemoveOutcome::Removed { .. } if r.stateful_user_cancel => {
            vec![PgNeed::Optional(r.order.uuid)]
        }
        RemoveOutcome::Removed {
            redis_order,
            state_filled,
            ..
        } => {
            if state_remaining(redis_order, state_filled.as_deref()) > 0 {
                vec![PgNeed::SetStatus(r.order.uuid, r.status)]
            } else {
                vec![PgNeed::Optional(r.order.uuid)]
            }
        }
    }
}

fn announces_missing(r: &RemoveCommand) -> bool {
    !matches!(
        r.reason,
        OrderRemovalReason::IndexerExpired | OrderRemovalReason::FullyFilled
    )
}

/// Order size minus the on-chain filled amount ender recorded (0 when none is recorded).
fn state_remaining(redis_order: &[u8], state_filled: Option<&str>) -> i128 {
    let quantums = RedisOrder::decode(redis_order)
        .ok()
        .and_then(|o| o.order)
        .map_or(0, |o| i128::from(o.quantums));
    let filled: i128 = state_filled
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    quantums - filled
}

/// Everything `command` produces given its outcome and the rows loaded for it.
pub fn decide(
    command: &Command,
    outcome: Option<&OpOutcome>,
    rows: &HashMap<Uuid, OrderRow>,
    latest_height: Option<i64>,
    settings: &DecideSettings,
) -> Decision {
    let mut d = Decision::default();
    match (command, outcome) {
        (Command::Ignore(event), _) => d.events.push(event),
        (Command::Place(p), Some(OpOutcome::Place(o))) => {
            decide_place(&mut d, p, o, rows, latest_height)
        }
        (Command::Update(u), Some(OpOutcome::Update(o))) => decide_update(&mut d, u, o),
        (Command::Remove(r), Some(OpOutcome::Remove(o))) => {
            decide_remove(&mut d, r, o, rows, latest_height, settings)
        }
        (Command::Replace { remove, place }, Some(OpOutcome::Replace { removed, placed })) => {
            decide_remove(&mut d, remove, removed, rows, latest_height, settings);
            // The old order being absent is normal for a replace; only a removal is dead-lettered.
            d.dead_letter = None;
            decide_place(&mut d, place, placed, rows, latest_height);
        }
        _ => d.events.push("outcome_mismatch"),
    }
    d
}

fn decide_place(
    d: &mut Decision,
    p: &PlaceCommand,
    o: &PlaceOutcome,
    rows: &HashMap<Uuid, OrderRow>,
    height: Option<i64>,
) {
    if o.replaced {
        d.events.push("place_replaced_order");
    }
    if let Some(cached) = &o.cached_update {
        // The cache holds an `OrderUpdateV1` (as the reference stores it); `to-vulcan` carries
        // `OffChainUpdateV1`.
        match OrderUpdateV1::decode(cached.as_slice()) {
            Ok(update) => {
                let message = OffChainUpdateV1 {
                    update_message: Some(UpdateMessage::OrderUpdate(update)),
                };
                d.requeue = Some((p.order.id.clone(), message.encode_to_vec()));
                d.events.push("place_requeued_cached_update");
            }
            Err(_) => d.events.push("cached_update_undecodable"),
        }
    }
    if !p.announces(o.placed, o.replaced) {
        return;
    }
    let row = rows.get(&p.order.uuid);
    if p.is_confirmed_stateful() && !p.order.is_vault() && row.is_none() {
        d.events.push("place_stateful_order_row_missing");
    }
    let status = if p.best_effort {
        "BEST_EFFORT_OPENED"
    } else {
        "OPEN"
    };
    let order = PlacedOrder::new(
        &p.order,
        &p.indexer_order,
        &p.redis_order.price,
        &p.redis_order.size,
        status,
        row,
    );
    d.subaccounts.push(SubaccountUpdate {
        subaccount: p.order.subaccount.clone(),
        contents: subaccount_contents(&order, height),
    });
}

fn decide_update(d: &mut Decision, u: &UpdateCommand, o: &UpdateOutcome) {
    match o {
        UpdateOutcome::Missing => {
            d.events.push("order_update_order_does_not_exist");
            d.dead_letter = Some("order update: the order is not in the book".into());
        }
        UpdateOutcome::Cached => d.events.push("order_update_cached_for_placement"),
        UpdateOutcome::Applied {
            level,
            zero_delta,
            immediate,
            new_exceeds_size,
            old_exceeds_size,
            ..
        } => {
            if *new_exceeds_size {
                d.events.push("order_update_total_filled_exceeds_size");
            }
            if *old_exceeds_size {
                d.events.push("order_update_old_total_filled_exceeds_size");
            }
            if *zero_delta {
                d.events.push("order_update_with_zero_delta");
            }
            if *immediate {
                d.events.push("order_update_immediate_order");
            }
            if let Some(level) = level {
                push_level(d, level, &u.order.market);
            }
        }
    }
}

fn push_level(d: &mut Decision, level: &LevelChange, market: &Market) {
    if level.clamped {
        d.events.push("price_level_clamped_at_zero");
    }
    d.levels.push(LevelMessage::of(level, market));
}

fn removal_reason(r: &RemoveCommand) -> &'static str {
    r.reason.as_str_name()
}

fn decide_remove(
    d: &mut Decision,
    r: &RemoveCommand,
    o: &RemoveOutcome,
    rows: &HashMap<Uuid, OrderRow>,
    height: Option<i64>,
    settings: &DecideSettings,
) {
    let status = r.status.as_str();
    match o {
        RemoveOutcome::NotExpired => d.events.push("indexer_expired_order_is_not_expired"),
        RemoveOutcome::Missing => {
            d.events.push("order_remove_order_does_not_exist");
            if r.reason == OrderRemovalReason::IndexerExpired {
                d.events.push("indexer_expired_order_not_found");
                return;
            }
            d.dead_letter = Some("order remove: the order is not in the book".into());
            if settings.send_subaccount_message_for_missing_cancels && announces_missing(r) {
                let order = MissingOrderRemoval::new(
                    &r.order,
                    status,
                    removal_reason(r),
                    rows.get(&r.order.uuid),
                );
                d.subaccounts.push(SubaccountUpdate {
                    subaccount: r.order.subaccount.clone(),
                    contents: subaccount_contents(&order, height),
                });
            }
        }
        RemoveOutcome::Removed {
            total_filled,
            redis_order,
            state_filled,
            level,
            filled_exceeds_size,
            ..
        } => {
            if *filled_exceeds_size {
                d.events.push("order_remove_total_filled_exceeds_size");
            }
            if let Some(level) = level {
                push_level(d, level, &r.order.market);
            }
            if r.stateful_user_cancel {
                match rows.get(&r.order.uuid) {
                    Some(row) => {
                        let order = CanceledStatefulOrder::new(
                            row,
                            &r.order.market.ticker,
                            removal_reason(r),
                        );
                        d.subaccounts.push(SubaccountUpdate {
                            subaccount: r.order.subaccount.clone(),
                            contents: subaccount_contents(&order, height),
                        });
                    }
                    None => d.events.push("stateful_cancel_order_row_missing"),
                }
                return;
            }
            let remaining = state_remaining(redis_order, state_filled.as_deref());
            if !announces_removal(r, remaining) {
                return;
            }
            let Some(stored) = RedisOrder::decode(redis_order.as_slice())
                .ok()
                .filter(|o| o.order.is_some())
            else {
                d.events.push("removed_order_undecodable");
                return;
            };
            let io = stored.order.as_ref().expect("checked above");
            let order = RemovedOrder::new(
                &r.order,
                io,
                &stored.price,
                &stored.size,
                *total_filled,
                status,
                removal_reason(r),
                rows.get(&r.order.uuid),
            );
            d.subaccounts.push(SubaccountUpdate {
                subaccount: r.order.subaccount.clone(),
                contents: subaccount_contents(&order, height),
            });
        }
    }
}

/// The reference stays silent about cancels of orders that are already fully filled on chain and
/// about FULLY_FILLED removals (ender announces those).
fn announces_removal(r: &RemoveCommand, state_remaining: i128) -> bool {
    let filled_on_chain = state_remaining <= 0;
    let silent = (filled_on_chain
        && r.status == OrderStatus::BestEffortCanceled
        && r.reason == OrderRemovalReason::UserCanceled)
        || (filled_on_chain
            && r.status == OrderStatus::Canceled
            && r.reason == OrderRemovalReason::IndexerExpired)
        || r.reason == OrderRemovalReason::FullyFilled;
    !silent
}
