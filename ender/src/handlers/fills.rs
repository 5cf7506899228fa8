//! `order_fill` (regular and liquidation takers) and `deleveraging` (ingest.md §4.7.1–4.7.3).

use indexer_domain::quantums::{quote_amount, quote_amount_of};
use indexer_domain::{
    ids, order_flags, weighted_average, Decimal, FillType, Liquidity, OrderSide, OrderStatus,
    OrderType, TimeInForce,
};
use indexer_proto::events::{
    order_fill_event_v1::TakerOrder, DeleveragingEventV1, LiquidationOrderV1, OrderFillEventV1,
};
use indexer_proto::off_chain_updates::{
    off_chain_update_v1::UpdateMessage, order_remove_v1::OrderRemovalStatus, OffChainUpdateV1,
    OrderRemoveV1, OrderUpdateV1,
};
use indexer_proto::protocol::v1::{IndexerOrder, IndexerSubaccountId};
use indexer_proto::shared::OrderRemovalReason;
use prost::Message;
use serde_json::json;
use uuid::Uuid;

use super::order_id_key;
use crate::block::{RedisEffect, Working};
use crate::decode::DecodedEvent;
use crate::error::BlockError;
use crate::messages::{self, Pending, Raw, SubaccountContents};
use crate::model::{Fill, Order, PerpetualMarket};
use crate::orders::{good_til, order_id, side_of, status_after_fill};
use crate::positions::{apply_fill_aggregate, realized_pnl_change, snapshot};
use crate::state::CanceledStatus;

pub fn order_fill(
    w: &mut Working<'_, '_>,
    event: &DecodedEvent,
    fill: &OrderFillEventV1,
) -> Result<(), BlockError> {
    let maker = fill.maker_order.as_ref().expect("validated");
    match fill.taker_order.as_ref().expect("validated") {
        TakerOrder::Order(taker) => {
            let maker_uuid = order_uuid_of(maker)?;
            let taker_uuid = order_uuid_of(taker)?;
            // Quirk Q1 fixed: the canceled status applies to both sides.
            let maker_canceled = w.canceled_status(&maker_uuid);
            let taker_canceled = w.canceled_status(&taker_uuid);
            order_side(
                w,
                event,
                fill,
                maker,
                maker,
                Liquidity::Maker,
                FillType::Limit,
                maker_canceled,
                true,
            )?;
            order_side(
                w,
                event,
                fill,
                taker,
                maker,
                Liquidity::Taker,
                FillType::Limit,
                taker_canceled,
                true,
            )
        }
        TakerOrder::LiquidationOrder(liquidation) => {
            order_side(
                w,
                event,
                fill,
                maker,
                maker,
                Liquidity::Maker,
                FillType::Liquidation,
                CanceledStatus::NotCanceled,
                false,
            )?;
            liquidated_side(w, event, fill, liquidation, maker)
        }
    }
}

fn order_uuid_of(order: &IndexerOrder) -> Result<Uuid, BlockError> {
    let (id, sub) = order_id(order)?;
    Ok(ids::db_order_uuid(
        ids::subaccount_uuid(&sub.owner, sub.number),
        id.client_id,
        id.clob_pair_id,
        id.order_flags,
    ))
}

fn market_of_clob_pair(
    w: &Working<'_, '_>,
    event: &DecodedEvent,
    clob_pair_id: u32,
) -> Result<PerpetualMarket, BlockError> {
    w.perpetual_market_by_clob_pair(clob_pair_id)
        .cloned()
        .ok_or_else(|| {
            BlockError::inconsistent(
                event,
                format!("no perpetual market for clob pair {clob_pair_id}"),
            )
        })
}

fn non_zero(value: Decimal) -> Option<Decimal> {
    (!value.is_zero()).then_some(value)
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

/// The fill-per-order procedure for one side with an order (maker, regular taker).
#[allow(clippy::too_many_arguments)]
fn order_side(
    w: &mut Working<'_, '_>,
    event: &DecodedEvent,
    fill: &OrderFillEventV1,
    order: &IndexerOrder,
    maker: &IndexerOrder,
    liquidity: Liquidity,
    base_type: FillType,
    canceled: CanceledStatus,
    realize_pnl: bool,
) -> Result<(), BlockError> {
    let (id, sub) = order_id(order)?;
    let market = market_of_clob_pair(w, event, id.clob_pair_id)?;
    let params = market.params();
    let is_taker = liquidity == Liquidity::Taker;
    let fill_amount = params.size(fill.fill_amount);
    let maker_price = params.price(maker.subticks);
    let total_filled_quantums = if is_taker {
        fill.total_filled_taker
    } else {
        fill.total_filled_maker
    };
    let fee = quote_amount(if is_taker {
        fill.taker_fee
    } else {
        fill.maker_fee
    });
    let builder_fee = quote_amount(if is_taker {
        fill.taker_builder_fee
    } else {
        fill.maker_builder_fee
    });
    let builder_address = if is_taker {
        &fill.taker_builder_address
    } else {
        &fill.maker_builder_address
    };
    let router_fee = quote_amount(if is_taker {
        fill.taker_order_router_fee
    } else {
        fill.maker_order_router_fee
    });
    let router_address = if is_taker {
        &fill.taker_order_router_address
    } else {
        &fill.maker_order_router_address
    };
    let fill_type = if id.order_flags == order_flags::TWAP_SUBORDER && base_type == FillType::Limit
    {
        FillType::TwapSuborder
    } else {
        base_type
    };
    let subaccount_uuid = ids::subaccount_uuid(&sub.owner, sub.number);
    let order_uuid = ids::db_order_uuid(
        subaccount_uuid,
        id.client_id,
        id.clob_pair_id,
        id.order_flags,
    );
    let side = side_of(order)?;

    let row = upsert_filled_order(
        w,
        event,
        order,
        &market,
        &fill_amount,
        &maker_price,
        total_filled_quantums,
        canceled,
    )?;

    let before = snapshot(w.latest_position(subaccount_uuid, market.id));
    let record = Fill {
        id: ids::fill_uuid(&event.id, liquidity),
        subaccount_id: subaccount_uuid,
        side,
        liquidity,
        fill_type,
        clob_pair_id: id.clob_pair_id,
        order_id: Some(order_uuid),
        size: fill_amount.clone(),
        price: maker_price.clone(),
        quote_amount: quote_amount_of(&fill_amount, &maker_price),
        event_id: event.id,
        transaction_hash: w.tx_hash(event),
        created_at: w.time,
        created_at_height: w.height,
        client_metadata: Some(order.client_metadata),
        fee: fee.clone(),
        affiliate_rev_share: quote_amount(fill.affiliate_rev_share),
        builder_address: non_empty(builder_address),
        builder_fee: non_zero(builder_fee),
        order_router_address: non_empty(router_address),
        order_router_fee: non_zero(router_fee),
        position_size_before: Some(before.size.clone()),
        entry_price_before: before.entry_price.clone(),
        position_side_before: before.side,
    };
    let position_json = update_position(
        w,
        event,
        subaccount_uuid,
        &market,
        sub,
        side,
        &fill_amount,
        &maker_price,
        realize_pnl.then_some((&before, &fee)),
    )?;

    let contents = SubaccountContents {
        fills: vec![messages::fill_json(&record, &market.ticker)],
        perpetual_positions: vec![position_json],
        orders: vec![messages::order_json(&row, &market.ticker)],
        ..Default::default()
    };
    w.subaccount_message(event, sub, contents, Some(order_uuid));

    w.pending.push(vulcan(
        id,
        UpdateMessage::OrderUpdate(OrderUpdateV1 {
            order_id: Some(id.clone()),
            total_filled_quantums,
        }),
        vec![],
    ));
    w.redis.push(RedisEffect::StateFilledQuantums {
        order_id: order_uuid,
        quantums: total_filled_quantums,
    });
    if row.status == OrderStatus::Filled && order_flags::is_stateful(id.order_flags) {
        w.pending.push(vulcan(
            id,
            UpdateMessage::OrderRemove(OrderRemoveV1 {
                removed_order_id: Some(id.clone()),
                reason: OrderRemovalReason::FullyFilled as i32,
                removal_status: OrderRemovalStatus::Filled as i32,
                time_stamp: None,
            }),
            vec![],
        ));
    }
    if is_taker {
        push_trade(w, event, &record, &market);
    }
    w.insert_fill(record);
    Ok(())
}

/// The order row after a fill (§4.7.1 "Order row").
#[allow(clippy::too_many_arguments)]
fn upsert_filled_order(
    w: &mut Working<'_, '_>,
    event: &DecodedEvent,
    order: &IndexerOrder,
    market: &PerpetualMarket,
    fill_amount: &Decimal,
    maker_price: &Decimal,
    total_filled_quantums: u64,
    canceled: CanceledStatus,
) -> Result<Order, BlockError> {
    let (id, sub) = order_id(order)?;
    let params = market.params();
    let subaccount_uuid = ids::subaccount_uuid(&sub.owner, sub.number);
    let uuid = ids::db_order_uuid(
        subaccount_uuid,
        id.client_id,
        id.clob_pair_id,
        id.order_flags,
    );
    let flags = id.order_flags;
    let order_size = params.size(order.quantums);
    let order_price = params.price(order.subticks);
    let time_in_force = TimeInForce::from_proto(order.time_in_force)?;
    let side = side_of(order)?;
    let (good_til_block, good_til_block_time) = good_til(order)?;
    let row = match w.order(&uuid).cloned() {
        Some(mut existing) if flags == order_flags::TWAP_SUBORDER => {
            existing.price = weighted_average(
                Some(&existing.price),
                &existing.total_filled,
                Some(maker_price),
                fill_amount,
            )?;
            existing.total_filled = (&existing.total_filled + fill_amount).trim();
            existing.status = status_after_fill(
                &existing.total_filled,
                &existing.size,
                canceled,
                flags,
                time_in_force,
            );
            existing.updated_at = Some(w.time);
            existing.updated_at_height = Some(w.height);
            existing
        }
        Some(mut existing) => {
            let total_filled = params.size(total_filled_quantums);
            existing.status =
                status_after_fill(&total_filled, &order_size, canceled, flags, time_in_force);
            existing.side = side;
            existing.size = order_size;
            existing.total_filled = total_filled;
            existing.price = order_price;
            existing.order_flags = flags;
            existing.good_til_block = good_til_block;
            existing.good_til_block_time = good_til_block_time;
            existing.time_in_force = time_in_force;
            existing.reduce_only = order.reduce_only;
            existing.client_metadata = order.client_metadata;
            existing.updated_at = Some(w.time);
            existing.updated_at_height = Some(w.height);
            existing.order_router_address = Some(order.order_router_address.clone());
            existing
        }
        None => {
            let status =
                status_after_fill(fill_amount, &order_size, canceled, flags, time_in_force);
            let suborder = flags == order_flags::TWAP_SUBORDER;
            if suborder {
                w.notice(
                    event,
                    "twap_suborder_without_parent",
                    format!("fill of TWAP suborder {uuid} without a parent row"),
                );
            }
            Order {
                id: uuid,
                subaccount_id: subaccount_uuid,
                client_id: id.client_id,
                clob_pair_id: id.clob_pair_id,
                side,
                size: order_size,
                total_filled: fill_amount.clone(),
                price: if suborder {
                    maker_price.clone()
                } else {
                    order_price
                },
                order_type: if suborder {
                    OrderType::Twap
                } else {
                    OrderType::Limit
                },
                status,
                time_in_force,
                reduce_only: order.reduce_only,
                order_flags: if suborder { order_flags::TWAP } else { flags },
                good_til_block,
                good_til_block_time,
                created_at_height: Some(w.height),
                client_metadata: order.client_metadata,
                trigger_price: None,
                updated_at: Some(w.time),
                updated_at_height: Some(w.height),
                duration: None,
                interval: None,
                price_tolerance: None,
                builder_address: None,
                fee_ppm: None,
                order_router_address: Some(order.order_router_address.clone()),
                created_at: Some(w.time),
            }
        }
    };
    w.put_order(row.clone());
    Ok(row)
}

/// Applies a fill to the latest position; returns the POS json (before any realized-PnL change,
/// as the reference handler sees it).
#[allow(clippy::too_many_arguments)]
fn update_position(
    w: &mut Working<'_, '_>,
    event: &DecodedEvent,
    subaccount_uuid: Uuid,
    market: &PerpetualMarket,
    sub: &IndexerSubaccountId,
    side: OrderSide,
    size: &Decimal,
    price: &Decimal,
    realized: Option<(&crate::positions::Snapshot, &Decimal)>,
) -> Result<Raw, BlockError> {
    let mut position = w
        .latest_position(subaccount_uuid, market.id)
        .cloned()
        .ok_or_else(|| {
            BlockError::inconsistent(
                event,
                format!(
                    "Unable to find existing perpetual position for {subaccount_uuid} in {}",
                    market.ticker
                ),
            )
        })?;
    apply_fill_aggregate(&mut position, side, size, price)?;
    let json = w.position_json(event, &position, &sub.owner, sub.number);
    if let Some((before, fee)) = realized {
        let change = realized_pnl_change(before, side, size, price, fee);
        let total = position
            .total_realized_pnl
            .clone()
            .unwrap_or_else(Decimal::zero)
            + change;
        position.total_realized_pnl = Some(total.trim());
    }
    w.put_position(position);
    Ok(json)
}

fn push_trade(
    w: &mut Working<'_, '_>,
    event: &DecodedEvent,
    fill: &Fill,
    market: &PerpetualMarket,
) {
    let Some(trade_type) = fill.fill_type.trade_type() else {
        return;
    };
    w.trades.push(crate::candles::BlockTrade {
        ticker: market.ticker.clone(),
        transaction_index: event.transaction_index(),
        event_index: event.event_index,
        price: fill.price.clone(),
        size: fill.size.clone(),
    });
    w.pending.push(Pending::Trade {
        clob_pair_id: market.clob_pair_id,
        ticker: market.ticker.clone(),
        transaction_index: event.transaction_index(),
        event_index: event.event_index,
        trade: json!({
            "id": event.id.to_hex(),
            "size": fill.size.to_string(),
            "price": fill.price.to_string(),
            "side": fill.side.as_str(),
            "createdAt": indexer_domain::time::to_iso(&fill.created_at),
            "type": trade_type.as_str(),
        }),
    });
}

pub(super) fn vulcan(
    id: &indexer_proto::protocol::v1::IndexerOrderId,
    message: UpdateMessage,
    headers: Vec<(String, String)>,
) -> Pending {
    Pending::Vulcan {
        key: order_id_key(id),
        payload: OffChainUpdateV1 {
            update_message: Some(message),
        }
        .encode_to_vec(),
        headers,
    }
}

/// The liquidated subaccount's side of a liquidation fill (§4.7.2).
fn liquidated_side(
    w: &mut Working<'_, '_>,
    event: &DecodedEvent,
    fill: &OrderFillEventV1,
    liquidation: &LiquidationOrderV1,
    maker: &IndexerOrder,
) -> Result<(), BlockError> {
    let sub = liquidation.liquidated.as_ref().expect("validated");
    let market = market_of_clob_pair(w, event, liquidation.clob_pair_id)?;
    let maker_market = market_of_clob_pair(w, event, order_id(maker)?.0.clob_pair_id)?;
    let params = market.params();
    let size = params.size(fill.fill_amount);
    let price = maker_market.params().price(maker.subticks);
    let side = OrderSide::from_is_buy(liquidation.is_buy);
    let subaccount_uuid = ids::subaccount_uuid(&sub.owner, sub.number);
    let before = snapshot(w.latest_position(subaccount_uuid, market.id));
    let record = Fill {
        id: ids::fill_uuid(&event.id, Liquidity::Taker),
        subaccount_id: subaccount_uuid,
        side,
        liquidity: Liquidity::Taker,
        fill_type: FillType::Liquidated,
        clob_pair_id: liquidation.clob_pair_id,
        order_id: None,
        size: size.clone(),
        price: price.clone(),
        quote_amount: quote_amount_of(&size, &price),
        event_id: event.id,
        transaction_hash: w.tx_hash(event),
        created_at: w.time,
        created_at_height: w.height,
        client_metadata: None,
        fee: quote_amount(fill.taker_fee),
        affiliate_rev_share: quote_amount(fill.affiliate_rev_share),
        builder_address: non_empty(&fill.taker_builder_address),
        builder_fee: non_zero(quote_amount(fill.taker_builder_fee)),
        order_router_address: non_empty(&fill.taker_order_router_address),
        order_router_fee: non_zero(quote_amount(fill.taker_order_router_fee)),
        position_size_before: Some(before.size.clone()),
        entry_price_before: before.entry_price.clone(),
        position_side_before: before.side,
    };
    record_orderless_fill(w, event, &market, sub, record)
}

/// A fill without an order row (a liquidated side, a deleveraging side): the position moves
/// without realized PnL, the subaccount hears of the fill and the position, and a taker's fill
/// is also a trade.
fn record_orderless_fill(
    w: &mut Working<'_, '_>,
    event: &DecodedEvent,
    market: &PerpetualMarket,
    sub: &IndexerSubaccountId,
    record: Fill,
) -> Result<(), BlockError> {
    let position_json = update_position(
        w,
        event,
        record.subaccount_id,
        market,
        sub,
        record.side,
        &record.size,
        &record.price,
        None,
    )?;
    let contents = SubaccountContents {
        fills: vec![messages::fill_json(&record, &market.ticker)],
        perpetual_positions: vec![position_json],
        ..Default::default()
    };
    w.subaccount_message(event, sub, contents, None);
    if record.liquidity == Liquidity::Taker {
        push_trade(w, event, &record, market);
    }
    w.insert_fill(record);
    Ok(())
}

/// `deleveraging` (§4.7.3): two fills without orders, aggregates updated, no realized PnL.
pub fn deleveraging(
    w: &mut Working<'_, '_>,
    event: &DecodedEvent,
    d: &DeleveragingEventV1,
) -> Result<(), BlockError> {
    let market = w.perpetual_market(d.perpetual_id).cloned().ok_or_else(|| {
        BlockError::inconsistent(event, format!("no perpetual market {}", d.perpetual_id))
    })?;
    let params = market.params();
    let size = params.size(d.fill_amount);
    let price = params.deleveraging_price(d.total_quote_quantums, d.fill_amount)?;
    let quote = quote_amount(d.total_quote_quantums);
    let liquidated_side = OrderSide::from_is_buy(d.is_buy);
    let sides = [
        (
            d.liquidated.as_ref().expect("validated"),
            Liquidity::Taker,
            FillType::Deleveraged,
            liquidated_side,
        ),
        (
            d.offsetting.as_ref().expect("validated"),
            Liquidity::Maker,
            FillType::Offsetting,
            liquidated_side.opposite(),
        ),
    ];
    for (sub, liquidity, fill_type, side) in sides {
        let subaccount_uuid = ids::subaccount_uuid(&sub.owner, sub.number);
        let record = Fill {
            id: ids::fill_uuid(&event.id, liquidity),
            subaccount_id: subaccount_uuid,
            side,
            liquidity,
            fill_type,
            clob_pair_id: market.clob_pair_id,
            order_id: None,
            size: size.clone(),
            price: price.clone(),
            quote_amount: quote.clone(),
            event_id: event.id,
            transaction_hash: w.tx_hash(event),
            created_at: w.time,
            created_at_height: w.height,
            client_metadata: None,
            fee: Decimal::zero(),
            affiliate_rev_share: Decimal::zero(),
            builder_address: None,
            builder_fee: None,
            order_router_address: None,
            order_router_fee: None,
            position_size_before: None,
            entry_price_before: None,
            position_side_before: None,
        };
        record_orderless_fill(w, event, &market, sub, record)?;
    }
    Ok(())
}
