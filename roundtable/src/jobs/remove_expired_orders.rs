//! `remove_expired_orders` (ops.md §1.4 #5): asks vulcan to remove short-term orders whose
//! good-til-block has passed.
//!
//! Reads: the latest processed height (Postgres); Redis `v4/orderExpiry` members with
//! good-til-block ≤ height − `BLOCKS_TO_DELAY_EXPIRY_BEFORE_SENDING_REMOVES`, each with
//! `v4/orders/<uuid>` and `v4/orderData/<uuid>`. Writes: per expired order an
//! `OffChainUpdateV1{OrderRemove(INDEXER_EXPIRED, CANCELED)}` on `to-vulcan`, keyed by the
//! order-id hash so it lands on that order's partition, in size-capped batches. Orders whose
//! data is gone, or whose stored good-til-block is above the cutoff (replaced by a later
//! placement), are skipped and counted. Vulcan checks the expiry again before removing.
//! Long-term and conditional orders are never in the expiry set: their removals come on chain.

use async_trait::async_trait;
use indexer_bus::{OutgoingMessage, Topic};
use indexer_cache::maintenance::{expiring_orders, ExpiringOrder};
use indexer_domain::order_id::order_id_key;
use indexer_proto::off_chain_updates::off_chain_update_v1::UpdateMessage;
use indexer_proto::off_chain_updates::order_remove_v1::OrderRemovalStatus;
use indexer_proto::off_chain_updates::{OffChainUpdateV1, OrderRemoveV1};
use indexer_proto::protocol::v1::indexer_order::GoodTilOneof;
use indexer_proto::redis::RedisOrder;
use indexer_proto::shared::OrderRemovalReason;
use prost::Message;

use crate::jobs::{send_in_batches, Deps};
use crate::metrics;
use crate::scheduler::{Job, RunContext};
use crate::JobError;

/// Most expired orders handled per run (the rest follow at the next tick).
const MAX_ORDERS_PER_RUN: usize = 50_000;

/// What to do with one order of the expiry set.
#[derive(Debug, Clone, PartialEq)]
pub enum Expiry {
    /// Send this removal to vulcan.
    Remove(OutgoingMessage),
    /// The order or its data is no longer stored.
    DataMissing,
    /// The stored order expires after the cutoff (a later placement replaced it).
    NotExpired,
    /// The stored order cannot be decoded.
    Undecodable(String),
}

/// Decides about one order of the expiry set. `fully_filled` reports orders whose stored fill
/// already covers their size (counted by the caller, still removed).
pub fn decide(order: &ExpiringOrder, cutoff: u64) -> (Expiry, bool) {
    let (Some(bytes), Some(data)) = (&order.redis_order, &order.order_data) else {
        return (Expiry::DataMissing, false);
    };
    let stored = match RedisOrder::decode(bytes.as_slice()) {
        Ok(stored) => stored,
        Err(error) => return (Expiry::Undecodable(error.to_string()), false),
    };
    let Some(indexer_order) = stored.order else {
        return (
            Expiry::Undecodable("RedisOrder without order".into()),
            false,
        );
    };
    let Some(order_id) = indexer_order.order_id.clone() else {
        return (Expiry::Undecodable("order without id".into()), false);
    };
    let good_til_block = match indexer_order.good_til_oneof {
        Some(GoodTilOneof::GoodTilBlock(block)) => u64::from(block),
        _ => return (Expiry::NotExpired, false),
    };
    if good_til_block > cutoff {
        return (Expiry::NotExpired, false);
    }
    let total_filled: Option<u64> = data.split('_').nth(1).and_then(|f| f.parse().ok());
    let fully_filled = total_filled.is_some_and(|filled| indexer_order.quantums <= filled);
    let update = OffChainUpdateV1 {
        update_message: Some(UpdateMessage::OrderRemove(OrderRemoveV1 {
            removed_order_id: Some(order_id.clone()),
            reason: OrderRemovalReason::IndexerExpired as i32,
            removal_status: OrderRemovalStatus::Canceled as i32,
            time_stamp: None,
        })),
    };
    let message = OutgoingMessage::new(
        Some(order_id_key(&order_id).to_vec()),
        update.encode_to_vec(),
    );
    (Expiry::Remove(message), fully_filled)
}

pub struct RemoveExpiredOrders {
    deps: Deps,
    blocks_to_delay: i64,
}

impl RemoveExpiredOrders {
    pub fn new(deps: Deps, blocks_to_delay: i64) -> Self {
        Self {
            deps,
            blocks_to_delay,
        }
    }
}

#[async_trait]
impl Job for RemoveExpiredOrders {
    async fn run(&self, _ctx: &RunContext) -> Result<(), JobError> {
        let Some(height) = indexer_store::last_processed_height(self.deps.pools.reader()).await?
        else {
            tracing::info!("no block processed yet; nothing expires");
            return Ok(());
        };
        let Ok(cutoff) = u64::try_from(height - self.blocks_to_delay) else {
            return Ok(());
        };
        let orders = expiring_orders(&self.deps.cache, cutoff, MAX_ORDERS_PER_RUN).await?;
        let mut messages = Vec::new();
        for order in &orders {
            let (expiry, fully_filled) = decide(order, cutoff);
            if fully_filled {
                metrics::count("roundtable_fully_filled_orders_expired_total", 1);
            }
            match expiry {
                Expiry::Remove(message) => messages.push(message),
                Expiry::DataMissing => {
                    tracing::info!(order = %order.order_uuid, "expired order has no stored data; skipped");
                    metrics::count("roundtable_expired_order_data_not_found_total", 1);
                }
                Expiry::NotExpired => {
                    tracing::info!(order = %order.order_uuid, cutoff, "order's stored expiry is after the cutoff; skipped");
                    metrics::count("roundtable_expired_order_has_newer_expiry_total", 1);
                }
                Expiry::Undecodable(reason) => {
                    tracing::error!(order = %order.order_uuid, %reason, "expired order cannot be decoded; skipped");
                }
            }
        }
        if !messages.is_empty() {
            tracing::info!(
                count = messages.len(),
                cutoff,
                "sending expiry removals to vulcan"
            );
        }
        send_in_batches(&self.deps, Topic::ToVulcan, &messages).await?;
        metrics::count(
            "roundtable_expiry_messages_sent_total",
            messages.len() as u64,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexer_proto::protocol::v1::{IndexerOrder, IndexerOrderId, IndexerSubaccountId};

    fn stored(good_til_block: u32, quantums: u64) -> Vec<u8> {
        RedisOrder {
            id: "o".into(),
            order: Some(IndexerOrder {
                order_id: Some(IndexerOrderId {
                    subaccount_id: Some(IndexerSubaccountId {
                        owner: "dydx1abc".into(),
                        number: 0,
                    }),
                    client_id: 7,
                    order_flags: 0,
                    clob_pair_id: 0,
                }),
                quantums,
                good_til_oneof: Some(GoodTilOneof::GoodTilBlock(good_til_block)),
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec()
    }

    fn expiring(order: Option<Vec<u8>>, data: Option<&str>) -> ExpiringOrder {
        ExpiringOrder {
            order_uuid: "o".into(),
            expiry: 10,
            redis_order: order,
            order_data: data.map(str::to_string),
        }
    }

    #[test]
    fn an_expired_order_becomes_an_indexer_expired_cancel_keyed_by_its_id() {
        let (expiry, fully_filled) =
            decide(&expiring(Some(stored(10, 100)), Some("10_40_true")), 10);
        assert!(!fully_filled);
        let Expiry::Remove(message) = expiry else {
            panic!("expected a removal, got {expiry:?}");
        };
        let update = OffChainUpdateV1::decode(message.payload.as_slice()).unwrap();
        let Some(UpdateMessage::OrderRemove(remove)) = update.update_message else {
            panic!("expected OrderRemove");
        };
        assert_eq!(remove.reason, OrderRemovalReason::IndexerExpired as i32);
        assert_eq!(remove.removal_status, OrderRemovalStatus::Canceled as i32);
        let id = remove.removed_order_id.unwrap();
        assert_eq!(id.client_id, 7);
        assert_eq!(message.key, Some(order_id_key(&id).to_vec()));
    }

    #[test]
    fn later_expiries_missing_data_and_fully_filled_orders_are_told_apart() {
        assert_eq!(
            decide(&expiring(Some(stored(11, 100)), Some("11_0_true")), 10).0,
            Expiry::NotExpired
        );
        assert_eq!(
            decide(&expiring(None, Some("10_0_true")), 10).0,
            Expiry::DataMissing
        );
        assert_eq!(
            decide(&expiring(Some(stored(10, 100)), None), 10).0,
            Expiry::DataMissing
        );
        let (expiry, fully_filled) =
            decide(&expiring(Some(stored(9, 100)), Some("9_100_true")), 10);
        assert!(matches!(expiry, Expiry::Remove(_)));
        assert!(fully_filled);
        assert!(matches!(
            decide(&expiring(Some(vec![0xff, 0xff]), Some("1_0_true")), 10).0,
            Expiry::Undecodable(_)
        ));
    }
}
