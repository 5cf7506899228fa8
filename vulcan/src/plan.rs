//! Turning one decoded `to-vulcan` message into what to do (ingest.md §5.1–§5.6), without I/O:
//! validation, ids, the market, and the `RedisOrder` to store. Invalid messages become a
//! [`Rejection`] with the reason that is logged, counted and put on the dead-lettered copy.

use std::sync::Arc;

use indexer_cache::orders::{
    BookFacts, OrderOp, PlaceOrder, RemovalStatus, RemoveOrder, UpdateOrder,
};
use indexer_cache::BookSide;
use indexer_domain::enums::order_flags;
use indexer_domain::order_id;
use indexer_domain::OrderStatus;
use indexer_proto::off_chain_updates::off_chain_update_v1::UpdateMessage;
use indexer_proto::off_chain_updates::order_place_v1::OrderPlacementStatus;
use indexer_proto::off_chain_updates::{
    OffChainUpdateV1, OrderPlaceV1, OrderRemoveV1, OrderReplaceV1, OrderUpdateV1,
};
use indexer_proto::protocol::v1::indexer_order::GoodTilOneof;
use indexer_proto::protocol::v1::{IndexerOrder, IndexerOrderId, IndexerSubaccountId};
use indexer_proto::redis::RedisOrder;
use indexer_proto::shared::OrderRemovalReason;
use prost::Message;
use uuid::Uuid;

use crate::markets::{Market, Markets};

/// Why a message was refused (dead-lettered, state untouched).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Rejection(pub String);

fn reject<T>(reason: impl Into<String>) -> Result<T, Rejection> {
    Err(Rejection(reason.into()))
}

/// The order id with everything derived from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRef {
    pub id: IndexerOrderId,
    pub subaccount: IndexerSubaccountId,
    /// The Redis / vulcan order UUID (flags as given).
    pub uuid: Uuid,
    pub subaccount_uuid: Uuid,
    pub market: Arc<Market>,
}

impl OrderRef {
    pub fn flags(&self) -> u32 {
        self.id.order_flags
    }
    /// Conditional and long-term orders (32, 64): confirmed on chain, rows in Postgres.
    pub fn is_stateful(&self) -> bool {
        order_flags::is_stateful(self.id.order_flags)
    }
    pub fn is_short_term(&self) -> bool {
        self.id.order_flags == order_flags::SHORT_TERM
    }
    /// Vault orders never have Postgres rows (ingest.md §5.8).
    pub fn is_vault(&self) -> bool {
        indexer_domain::vault::is_clob_vault_address(&self.subaccount.owner)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlaceCommand {
    pub order: OrderRef,
    pub indexer_order: IndexerOrder,
    pub redis_order: RedisOrder,
    /// BEST_EFFORT_OPENED (from a node's CheckTx) rather than OPENED (confirmed by ender / bazooka).
    pub best_effort: bool,
}

impl PlaceCommand {
    /// Stateful orders are only announced once confirmed; best-effort re-placements that change
    /// nothing are not announced either (ingest.md §5.3 step 4).
    pub fn announces(&self, placed: bool, replaced: bool) -> bool {
        if !self.best_effort {
            return true;
        }
        self.order.flags() == order_flags::SHORT_TERM && (placed || replaced)
    }

    /// Confirmed stateful placements pick up a cached early update and need their Postgres row.
    pub fn is_confirmed_stateful(&self) -> bool {
        !self.best_effort && self.order.is_stateful()
    }

    fn op(&self) -> PlaceOrder {
        let expiry = match self.indexer_order.good_til_oneof {
            Some(GoodTilOneof::GoodTilBlock(b)) => u64::from(b),
            Some(GoodTilOneof::GoodTilBlockTime(t)) => u64::from(t),
            None => 0,
        };
        PlaceOrder {
            order_uuid: self.order.uuid.to_string(),
            subaccount_uuid: self.order.subaccount_uuid.to_string(),
            redis_order: self.redis_order.encode_to_vec(),
            expiry,
            short_term: self.order.is_short_term(),
            pop_cached_update: self.is_confirmed_stateful(),
            book_facts: BookFacts {
                side: if self.indexer_order.side == 1 {
                    BookSide::Buy
                } else {
                    BookSide::Sell
                },
                immediate: matches!(self.indexer_order.time_in_force, 1 | 3),
                quantums: self.indexer_order.quantums,
                price: self.redis_order.price.clone(),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct UpdateCommand {
    pub order: OrderRef,
    pub total_filled: u64,
    /// The message as received, cached for stateful orders not stored yet.
    pub encoded: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RemoveCommand {
    pub order: OrderRef,
    pub reason: OrderRemovalReason,
    pub status: OrderStatus,
    /// An on-chain user cancel of a stateful, non-vault order (ingest.md §5.5 step 3).
    pub stateful_user_cancel: bool,
    /// Set for INDEXER_EXPIRED: remove only if the good-til-block is below this height.
    pub expired_before: Option<u64>,
}

impl RemoveCommand {
    fn op(&self) -> RemoveOrder {
        RemoveOrder {
            order_uuid: self.order.uuid.to_string(),
            subaccount_uuid: self.order.subaccount_uuid.to_string(),
            ticker: self.order.market.ticker.clone(),
            status: match self.status {
                OrderStatus::Canceled => RemovalStatus::Canceled,
                OrderStatus::Filled => RemovalStatus::Filled,
                _ => RemovalStatus::BestEffortCanceled,
            },
            stateful_user_cancel: self.stateful_user_cancel,
            expired_before_height: self.expired_before,
        }
    }
}

/// What a valid message asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Place(PlaceCommand),
    Update(UpdateCommand),
    Remove(RemoveCommand),
    /// `OrderReplaceV1`: the old order is removed (reason REPLACED) and the new one placed in one
    /// atomic step.
    Replace {
        remove: RemoveCommand,
        place: PlaceCommand,
    },
    /// Valid, but nothing to do (an INDEXER_EXPIRED removal that cannot be confirmed).
    Ignore(&'static str),
}

impl Command {
    /// The Redis operation, if any.
    pub fn op(&self) -> Option<OrderOp> {
        match self {
            Command::Place(p) => Some(OrderOp::Place(p.op())),
            Command::Update(u) => Some(OrderOp::Update(UpdateOrder {
                order_uuid: u.order.uuid.to_string(),
                ticker: u.order.market.ticker.clone(),
                total_filled_quantums: u.total_filled,
                cache_if_missing: u.order.is_stateful().then(|| u.encoded.clone()),
            })),
            Command::Remove(r) => Some(OrderOp::Remove(r.op())),
            Command::Replace { remove, place } => Some(OrderOp::Replace {
                remove: remove.op(),
                place: place.op(),
            }),
            Command::Ignore(_) => None,
        }
    }

    /// `event_type` header default (ingest.md §2.6).
    pub fn default_event_type(&self) -> &'static str {
        match self {
            Command::Place(_) | Command::Replace { .. } => "ShortTermOrderPlacement",
            Command::Update(_) => "ShortTermOrderUpdate",
            Command::Remove(_) | Command::Ignore(_) => "ShortTermOrderRemoval",
        }
    }

    /// Label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::Place(_) => "place",
            Command::Update(_) => "update",
            Command::Remove(_) | Command::Ignore(_) => "remove",
            Command::Replace { .. } => "replace",
        }
    }
}

/// Validates `update` and builds its command. `latest_height` is needed for INDEXER_EXPIRED.
pub fn plan(
    update: &OffChainUpdateV1,
    markets: &Markets,
    latest_height: Option<i64>,
) -> Result<Command, Rejection> {
    // Precedence of the reference: update, then place, then remove; replace is ours.
    match &update.update_message {
        Some(UpdateMessage::OrderUpdate(u)) => plan_update(u, markets),
        Some(UpdateMessage::OrderPlace(p)) => plan_place(p, markets),
        Some(UpdateMessage::OrderRemove(r)) => plan_remove(r, markets, latest_height),
        Some(UpdateMessage::OrderReplace(x)) => plan_replace(x, markets),
        None => reject("none of order_place, order_update, order_remove, order_replace is set"),
    }
}

fn order_ref(
    id: Option<&IndexerOrderId>,
    markets: &Markets,
    what: &str,
) -> Result<OrderRef, Rejection> {
    let Some(id) = id else {
        return reject(format!("{what}: order id missing"));
    };
    let Some(subaccount) = id.subaccount_id.clone() else {
        return reject(format!("{what}: subaccount id missing"));
    };
    if !matches!(
        id.order_flags,
        order_flags::SHORT_TERM
            | order_flags::CONDITIONAL
            | order_flags::LONG_TERM
            | order_flags::TWAP
            | order_flags::TWAP_SUBORDER
    ) {
        return reject(format!("{what}: unknown order flags {}", id.order_flags));
    }
    let Some(market) = markets.get(id.clob_pair_id) else {
        return reject(format!(
            "{what}: unknown market (clob pair {})",
            id.clob_pair_id
        ));
    };
    let uuid = order_id::order_uuid(id).map_err(|e| Rejection(format!("{what}: {e}")))?;
    Ok(OrderRef {
        subaccount_uuid: order_id::subaccount_uuid(&subaccount),
        subaccount,
        id: id.clone(),
        uuid,
        market: Arc::clone(market),
    })
}

fn plan_update(u: &OrderUpdateV1, markets: &Markets) -> Result<Command, Rejection> {
    let order = order_ref(u.order_id.as_ref(), markets, "order update")?;
    Ok(Command::Update(UpdateCommand {
        order,
        total_filled: u.total_filled_quantums,
        encoded: u.encode_to_vec(),
    }))
}

fn plan_place(p: &OrderPlaceV1, markets: &Markets) -> Result<Command, Rejection> {
    let best_effort = match OrderPlacementStatus::try_from(p.placement_status) {
        Ok(OrderPlacementStatus::BestEffortOpened) => true,
        Ok(OrderPlacementStatus::Opened) => false,
        _ => {
            return reject(format!(
                "order place: invalid placement status {}",
                p.placement_status
            ))
        }
    };
    let Some(indexer_order) = p.order.clone() else {
        return reject("order place: order missing");
    };
    Ok(Command::Place(place_command(
        indexer_order,
        best_effort,
        markets,
        "order place",
    )?))
}

fn place_command(
    indexer_order: IndexerOrder,
    best_effort: bool,
    markets: &Markets,
    what: &str,
) -> Result<PlaceCommand, Rejection> {
    let order = order_ref(indexer_order.order_id.as_ref(), markets, what)?;
    if !matches!(indexer_order.side, 1 | 2) {
        return reject(format!("{what}: invalid side {}", indexer_order.side));
    }
    if indexer_order.quantums == 0 {
        return reject(format!("{what}: size must be positive"));
    }
    if indexer_order.good_til_oneof.is_none() {
        return reject(format!(
            "{what}: neither good_til_block nor good_til_block_time is set"
        ));
    }
    if !(0..=3).contains(&indexer_order.time_in_force) {
        return reject(format!(
            "{what}: invalid time in force {}",
            indexer_order.time_in_force
        ));
    }
    let redis_order = RedisOrder {
        id: order.uuid.to_string(),
        ticker: order.market.ticker.clone(),
        ticker_type: 1,
        price: order.market.price(indexer_order.subticks),
        size: order.market.size(indexer_order.quantums),
        order: Some(indexer_order.clone()),
    };
    Ok(PlaceCommand {
        order,
        indexer_order,
        redis_order,
        best_effort,
    })
}

fn removal_status(code: i32, what: &str) -> Result<OrderStatus, Rejection> {
    OrderStatus::from_removal_status(code)
        .map_err(|_| Rejection(format!("{what}: invalid removal status {code}")))
}

fn plan_remove(
    r: &OrderRemoveV1,
    markets: &Markets,
    latest_height: Option<i64>,
) -> Result<Command, Rejection> {
    let status = removal_status(r.removal_status, "order remove")?;
    let reason = match OrderRemovalReason::try_from(r.reason) {
        Ok(OrderRemovalReason::Unspecified) | Err(_) => {
            return reject(format!("order remove: invalid reason {}", r.reason))
        }
        Ok(reason) => reason,
    };
    let order = order_ref(r.removed_order_id.as_ref(), markets, "order remove")?;
    let mut expired_before = None;
    if reason == OrderRemovalReason::IndexerExpired {
        // Only short-term orders expire by block height, and only once a block shows they have.
        if !order.is_short_term() {
            return Ok(Command::Ignore("indexer_expired_not_short_term"));
        }
        let Some(height) = latest_height.and_then(|h| u64::try_from(h).ok()) else {
            return Ok(Command::Ignore("indexer_expired_no_block_height"));
        };
        expired_before = Some(height);
    }
    let stateful_user_cancel = order.is_stateful()
        && reason == OrderRemovalReason::UserCanceled
        && status == OrderStatus::Canceled
        && !order.is_vault();
    Ok(Command::Remove(RemoveCommand {
        order,
        reason,
        status,
        stateful_user_cancel,
        expired_before,
    }))
}

fn plan_replace(x: &OrderReplaceV1, markets: &Markets) -> Result<Command, Rejection> {
    let best_effort = match OrderPlacementStatus::try_from(x.placement_status) {
        Ok(OrderPlacementStatus::BestEffortOpened) => true,
        Ok(OrderPlacementStatus::Opened) => false,
        _ => {
            return reject(format!(
                "order replace: invalid placement status {}",
                x.placement_status
            ))
        }
    };
    let old = order_ref(
        x.old_order_id.as_ref(),
        markets,
        "order replace (old order)",
    )?;
    let Some(indexer_order) = x.order.clone() else {
        return reject("order replace: order missing");
    };
    let place = place_command(indexer_order, best_effort, markets, "order replace")?;
    let remove = RemoveCommand {
        order: old,
        reason: OrderRemovalReason::Replaced,
        status: if best_effort {
            OrderStatus::BestEffortCanceled
        } else {
            OrderStatus::Canceled
        },
        stateful_user_cancel: false,
        expired_before: None,
    };
    Ok(Command::Replace { remove, place })
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexer_domain::MarketParams;

    fn markets() -> Markets {
        Markets::new([Market {
            clob_pair_id: 0,
            ticker: "BTC-USD".into(),
            params: MarketParams {
                atomic_resolution: -10,
                quantum_conversion_exponent: -9,
                subticks_per_tick: 100_000,
                step_base_quantums: 1_000_000,
            },
        }])
    }

    fn id(flags: u32, clob_pair_id: u32) -> IndexerOrderId {
        IndexerOrderId {
            subaccount_id: Some(IndexerSubaccountId {
                owner: "dydx1x".into(),
                number: 0,
            }),
            client_id: 1,
            order_flags: flags,
            clob_pair_id,
        }
    }

    fn remove(flags: u32, reason: i32, status: i32) -> OffChainUpdateV1 {
        OffChainUpdateV1 {
            update_message: Some(UpdateMessage::OrderRemove(OrderRemoveV1 {
                removed_order_id: Some(id(flags, 0)),
                reason,
                removal_status: status,
                time_stamp: None,
            })),
        }
    }

    #[test]
    fn placements_store_the_human_price_and_size() {
        let order = IndexerOrder {
            order_id: Some(id(0, 0)),
            side: 1,
            quantums: 1_000_000_000,
            subticks: 5_000_000_000,
            good_til_oneof: Some(GoodTilOneof::GoodTilBlock(9)),
            ..Default::default()
        };
        let update = OffChainUpdateV1 {
            update_message: Some(UpdateMessage::OrderPlace(OrderPlaceV1 {
                order: Some(order),
                placement_status: 1,
                time_stamp: None,
            })),
        };
        let Command::Place(p) = plan(&update, &markets(), None).unwrap() else {
            panic!()
        };
        assert_eq!(
            (
                p.redis_order.price.as_str(),
                p.redis_order.size.as_str(),
                p.redis_order.ticker.as_str()
            ),
            ("50000", "0.1", "BTC-USD")
        );
        assert!(p.best_effort && p.announces(true, false) && !p.announces(false, false));
    }

    #[test]
    fn unknown_markets_and_empty_messages_are_rejected() {
        let update = OffChainUpdateV1 {
            update_message: Some(UpdateMessage::OrderUpdate(OrderUpdateV1 {
                order_id: Some(id(0, 5)),
                total_filled_quantums: 1,
            })),
        };
        assert!(plan(&update, &markets(), None)
            .unwrap_err()
            .0
            .contains("unknown market"));
        assert!(plan(
            &OffChainUpdateV1 {
                update_message: None
            },
            &markets(),
            None
        )
        .is_err());
        assert!(plan(&remove(0, 0, 1), &markets(), None)
            .unwrap_err()
            .0
            .contains("reason"));
    }

    #[test]
    fn indexer_expiry_needs_a_short_term_order_and_a_block_height() {
        let expired = OrderRemovalReason::IndexerExpired as i32;
        assert_eq!(
            plan(&remove(64, expired, 2), &markets(), Some(10)).unwrap(),
            Command::Ignore("indexer_expired_not_short_term")
        );
        assert_eq!(
            plan(&remove(0, expired, 2), &markets(), None).unwrap(),
            Command::Ignore("indexer_expired_no_block_height")
        );
        let Command::Remove(r) = plan(&remove(0, expired, 2), &markets(), Some(10)).unwrap() else {
            panic!()
        };
        assert_eq!(r.expired_before, Some(10));
    }

    #[test]
    fn only_on_chain_user_cancels_of_stateful_orders_take_the_stateful_path() {
        let canceled = OrderRemovalReason::UserCanceled as i32;
        let Command::Remove(r) = plan(&remove(64, canceled, 2), &markets(), None).unwrap() else {
            panic!()
        };
        assert!(r.stateful_user_cancel);
        let Command::Remove(r) = plan(&remove(64, canceled, 1), &markets(), None).unwrap() else {
            panic!()
        };
        assert!(
            !r.stateful_user_cancel,
            "best-effort cancels are ordinary removals"
        );
        let Command::Remove(r) = plan(&remove(0, canceled, 2), &markets(), None).unwrap() else {
            panic!()
        };
        assert!(!r.stateful_user_cancel);
    }
}
