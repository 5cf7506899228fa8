//! `stateful_order` (ingest.md §4.7.13): placements, conditional triggers and removals.

use indexer_domain::{ids, order_flags, OrderStatus, TimeInForce};
use indexer_proto::events::{stateful_order_event_v1::Event as Sof, StatefulOrderEventV1};
use indexer_proto::off_chain_updates::{
    off_chain_update_v1::UpdateMessage, order_place_v1::OrderPlacementStatus,
    order_remove_v1::OrderRemovalStatus, OrderPlaceV1, OrderRemoveV1,
};
use indexer_proto::protocol::v1::{IndexerOrder, IndexerOrderId};

use super::fills::vulcan;
use crate::block::Working;
use crate::decode::DecodedEvent;
use crate::error::BlockError;
use crate::messages::{self, SubaccountContents};
use crate::model::Order;
use crate::orders::{good_til, order_id, rebuild_indexer_order, side_of, type_of};

pub fn stateful_order(
    w: &mut Working<'_, '_>,
    event: &DecodedEvent,
    stateful: &StatefulOrderEventV1,
    skip_database: bool,
) -> Result<(), BlockError> {
    match stateful.event.as_ref().expect("validated") {
        Sof::OrderPlace(p) => placed(w, event, &p.order, Kind::LongTerm, skip_database),
        Sof::LongTermOrderPlacement(p) => placed(w, event, &p.order, Kind::LongTerm, skip_database),
        Sof::TwapOrderPlacement(p) => placed(w, event, &p.order, Kind::Twap, skip_database),
        Sof::ConditionalOrderPlacement(p) => {
            placed(w, event, &p.order, Kind::Conditional, skip_database)
        }
        Sof::ConditionalOrderTriggered(t) => triggered(
            w,
            event,
            t.triggered_order_id.as_ref().expect("validated"),
            skip_database,
        ),
        Sof::OrderRemoval(r) => removal(
            w,
            event,
            r.removed_order_id.as_ref().expect("validated"),
            r.reason,
            skip_database,
        ),
        Sof::OrderReplacement(_) => Err(BlockError::validation(
            event,
            "order_replacement is not supported",
        )),
    }
}

/// Every placement variant carries its (validated, so present) order in the same field.
fn placed(
    w: &mut Working<'_, '_>,
    event: &DecodedEvent,
    order: &Option<IndexerOrder>,
    kind: Kind,
    skip_database: bool,
) -> Result<(), BlockError> {
    place(
        w,
        event,
        order.as_ref().expect("validated"),
        kind,
        skip_database,
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    LongTerm,
    Conditional,
    Twap,
}

fn headers(w: &Working<'_, '_>, event_type: &str) -> Vec<(String, String)> {
    let mut headers = vec![("event_type".to_owned(), event_type.to_owned())];
    if let Some(ms) = w.state.message_timestamp_ms {
        headers.push(("message_received_timestamp".to_owned(), ms.to_string()));
    }
    headers
}

fn place(
    w: &mut Working<'_, '_>,
    event: &DecodedEvent,
    order: &IndexerOrder,
    kind: Kind,
    skip_database: bool,
) -> Result<(), BlockError> {
    let (id, sub) = order_id(order)?;
    if id.order_flags == order_flags::TWAP_SUBORDER {
        return Ok(());
    }
    let market = w
        .perpetual_market_by_clob_pair(id.clob_pair_id)
        .cloned()
        .ok_or_else(|| {
            BlockError::inconsistent(
                event,
                format!("no perpetual market for clob pair {}", id.clob_pair_id),
            )
        })?;
    let params = market.params();
    let subaccount_uuid = ids::subaccount_uuid(&sub.owner, sub.number);
    let uuid = ids::order_uuid(
        subaccount_uuid,
        id.client_id,
        id.clob_pair_id,
        id.order_flags,
    );
    let (good_til_block, good_til_block_time) = good_til(order)?;
    let twap = order
        .twap_parameters
        .as_ref()
        .filter(|_| kind == Kind::Twap);
    let row = Order {
        id: uuid,
        subaccount_id: subaccount_uuid,
        client_id: id.client_id,
        clob_pair_id: id.clob_pair_id,
        side: side_of(order)?,
        size: params.size(order.quantums),
        total_filled: indexer_domain::Decimal::zero(),
        price: params.price(order.subticks),
        order_type: type_of(order, id.order_flags)?,
        status: if kind == Kind::Conditional {
            OrderStatus::Untriggered
        } else {
            OrderStatus::Open
        },
        time_in_force: TimeInForce::from_proto(order.time_in_force)?,
        reduce_only: order.reduce_only,
        order_flags: id.order_flags,
        // Stateful orders have only a good-til-block-time.
        good_til_block: good_til_block.filter(|_| good_til_block_time.is_none()),
        good_til_block_time,
        created_at_height: Some(w.height),
        client_metadata: order.client_metadata,
        trigger_price: (kind == Kind::Conditional)
            .then(|| params.price(order.conditional_order_trigger_subticks)),
        updated_at: Some(w.time),
        updated_at_height: Some(w.height),
        duration: twap.map(|t| t.duration.to_string()),
        interval: twap.map(|t| t.interval.to_string()),
        price_tolerance: twap.map(|t| t.price_tolerance.to_string()),
        builder_address: order
            .builder_code_params
            .as_ref()
            .map(|b| b.builder_address.clone()),
        fee_ppm: order
            .builder_code_params
            .as_ref()
            .map(|b| b.fee_ppm.to_string()),
        order_router_address: Some(order.order_router_address.clone()),
        // createdAt is written on insert only; a re-placement keeps the first one.
        created_at: w.order(&uuid).and_then(|o| o.created_at).or(Some(w.time)),
    };
    if !skip_database {
        w.put_order(row.clone());
    }
    if kind == Kind::Conditional {
        let contents = SubaccountContents {
            orders: vec![messages::order_json(&row, &market.ticker)],
            ..Default::default()
        };
        w.subaccount_message(event, sub, contents, None);
        return Ok(());
    }
    let headers = headers(w, "StatefulOrderPlacement");
    w.pending.push(vulcan(
        id,
        UpdateMessage::OrderPlace(OrderPlaceV1 {
            order: Some(order.clone()),
            placement_status: OrderPlacementStatus::Opened as i32,
            time_stamp: None,
        }),
        headers,
    ));
    Ok(())
}

fn stored_order_uuid(id: &IndexerOrderId) -> uuid::Uuid {
    let sub = id.subaccount_id.as_ref().expect("validated");
    ids::db_order_uuid(
        ids::subaccount_uuid(&sub.owner, sub.number),
        id.client_id,
        id.clob_pair_id,
        id.order_flags,
    )
}

fn require_subaccount(
    w: &Working<'_, '_>,
    event: &DecodedEvent,
    id: &IndexerOrderId,
) -> Result<(), BlockError> {
    let sub = id.subaccount_id.as_ref().expect("validated");
    let uuid = ids::subaccount_uuid(&sub.owner, sub.number);
    if !w.subaccount_exists(&uuid) {
        return Err(BlockError::inconsistent(
            event,
            format!("subaccount {}/{} does not exist", sub.owner, sub.number),
        ));
    }
    Ok(())
}

fn triggered(
    w: &mut Working<'_, '_>,
    event: &DecodedEvent,
    id: &IndexerOrderId,
    skip_database: bool,
) -> Result<(), BlockError> {
    let sub = id.subaccount_id.as_ref().expect("validated");
    let uuid = stored_order_uuid(id);
    let market = w
        .perpetual_market_by_clob_pair(id.clob_pair_id)
        .cloned()
        .ok_or_else(|| {
            BlockError::inconsistent(
                event,
                format!("no perpetual market for clob pair {}", id.clob_pair_id),
            )
        })?;
    let order = if skip_database {
        w.order(&uuid).cloned()
    } else {
        require_subaccount(w, event, id)?;
        let mut order = w.order(&uuid).cloned().ok_or_else(|| {
            BlockError::inconsistent(event, format!("triggered order {uuid} does not exist"))
        })?;
        order.status = OrderStatus::Open;
        order.updated_at = Some(w.time);
        order.updated_at_height = Some(w.height);
        w.put_order(order.clone());
        Some(order)
    };
    let Some(order) = order else {
        w.notice(
            event,
            "vault_order_not_stored",
            format!("triggered vault order {uuid} has no row to rebuild from"),
        );
        return Ok(());
    };
    let rebuilt = rebuild_indexer_order(&order, &sub.owner, sub.number, &market.params())?;
    let headers = headers(w, "ConditionalOrderTriggered");
    w.pending.push(vulcan(
        id,
        UpdateMessage::OrderPlace(OrderPlaceV1 {
            order: Some(rebuilt),
            placement_status: OrderPlacementStatus::Opened as i32,
            time_stamp: None,
        }),
        headers,
    ));
    Ok(())
}

fn removal(
    w: &mut Working<'_, '_>,
    event: &DecodedEvent,
    id: &IndexerOrderId,
    reason: i32,
    skip_database: bool,
) -> Result<(), BlockError> {
    if !skip_database {
        require_subaccount(w, event, id)?;
        let uuid = stored_order_uuid(id);
        let mut order = w.order(&uuid).cloned().ok_or_else(|| {
            BlockError::inconsistent(event, format!("removed order {uuid} does not exist"))
        })?;
        // A TWAP suborder removal targets the parent row, which stays open.
        order.status = if id.order_flags == order_flags::TWAP_SUBORDER {
            OrderStatus::Open
        } else {
            OrderStatus::Canceled
        };
        order.updated_at = Some(w.time);
        order.updated_at_height = Some(w.height);
        w.put_order(order);
    }
    let headers = headers(w, "StatefulOrderRemoval");
    w.pending.push(vulcan(
        id,
        UpdateMessage::OrderRemove(OrderRemoveV1 {
            removed_order_id: Some(id.clone()),
            reason,
            removal_status: OrderRemovalStatus::Canceled as i32,
            time_stamp: None,
        }),
        headers,
    ));
    Ok(())
}
