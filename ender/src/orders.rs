//! Order rows: status after a fill, rows for placements, and rebuilding an `IndexerOrder` from a
//! stored row (ingest.md §4.7.1, §4.7.13, §4.7.14, §4.7.18).

use chrono::{DateTime, Utc};
use indexer_domain::{
    order_flags, Decimal, MarketParams, OrderSide, OrderStatus, OrderType, TimeInForce,
};
use indexer_proto::protocol::v1::{
    indexer_order::GoodTilOneof, BuilderCodeParameters, IndexerOrder, IndexerOrderId,
    IndexerSubaccountId,
};

use crate::error::BlockError;
use crate::model::Order;
use crate::state::CanceledStatus;

/// Status of an order after a fill (§4.7.1 `orderStatus`).
pub fn status_after_fill(
    total_filled: &Decimal,
    size: &Decimal,
    canceled: CanceledStatus,
    flags: u32,
    time_in_force: TimeInForce,
) -> OrderStatus {
    if total_filled >= size {
        return OrderStatus::Filled;
    }
    if flags == order_flags::LONG_TERM || flags == order_flags::TWAP_SUBORDER {
        return OrderStatus::Open;
    }
    match (time_in_force, canceled) {
        (TimeInForce::Fok, _) => OrderStatus::Filled,
        (TimeInForce::Ioc, _) => OrderStatus::Canceled,
        (_, CanceledStatus::BestEffortCanceled) => OrderStatus::BestEffortCanceled,
        (_, CanceledStatus::Canceled) => OrderStatus::Canceled,
        _ => OrderStatus::Open,
    }
}

/// The `goodTilBlock` / `goodTilBlockTime` pair of an order.
pub fn good_til(order: &IndexerOrder) -> Result<(Option<u32>, Option<DateTime<Utc>>), BlockError> {
    Ok(match order.good_til_oneof {
        Some(GoodTilOneof::GoodTilBlock(block)) => (Some(block), None),
        Some(GoodTilOneof::GoodTilBlockTime(seconds)) => {
            let time = DateTime::from_timestamp(i64::from(seconds), 0).ok_or_else(|| {
                BlockError::Decode(format!("good_til_block_time {seconds} out of range"))
            })?;
            (None, Some(time))
        }
        None => (None, None),
    })
}

/// The order's id fields, failing when absent (validation guarantees them).
pub fn order_id(
    order: &IndexerOrder,
) -> Result<(&IndexerOrderId, &IndexerSubaccountId), BlockError> {
    let id = order
        .order_id
        .as_ref()
        .ok_or_else(|| BlockError::Decode("order without order_id".into()))?;
    let subaccount = id
        .subaccount_id
        .as_ref()
        .ok_or_else(|| BlockError::Decode("order id without subaccount".into()))?;
    Ok((id, subaccount))
}

/// Rebuilds the `IndexerOrder` of a stored conditional or long-term order (§4.7.14).
pub fn rebuild_indexer_order(
    order: &Order,
    owner: &str,
    number: u32,
    params: &MarketParams,
) -> Result<IndexerOrder, BlockError> {
    if order.order_flags != order_flags::CONDITIONAL && order.order_flags != order_flags::LONG_TERM
    {
        return Err(BlockError::inconsistent(
            order.id,
            format!("cannot rebuild an order with flags {}", order.order_flags),
        ));
    }
    let quantums = params.quantums_from_size(&order.size).to_u64_exact()?;
    let subticks = params.subticks_from_price(&order.price).to_u64_exact()?;
    let trigger = match &order.trigger_price {
        Some(price) => params.subticks_from_price(price).to_u64_exact()?,
        None => 0,
    };
    let good_til = order
        .good_til_block_time
        .map(|t| GoodTilOneof::GoodTilBlockTime(t.timestamp() as u32));
    let builder_code_params = match (&order.builder_address, &order.fee_ppm) {
        (Some(address), Some(fee)) => Some(BuilderCodeParameters {
            builder_address: address.clone(),
            fee_ppm: fee
                .parse()
                .map_err(|_| BlockError::Corrupt(format!("orders.feePpm {fee:?}")))?,
        }),
        _ => None,
    };
    Ok(IndexerOrder {
        order_id: Some(IndexerOrderId {
            subaccount_id: Some(IndexerSubaccountId {
                owner: owner.into(),
                number,
            }),
            client_id: order.client_id,
            order_flags: order.order_flags,
            clob_pair_id: order.clob_pair_id,
        }),
        side: order.side.to_proto(),
        quantums,
        subticks,
        time_in_force: order.time_in_force.to_proto(),
        reduce_only: order.reduce_only,
        client_metadata: order.client_metadata,
        condition_type: order.order_type.condition_type(),
        conditional_order_trigger_subticks: trigger,
        builder_code_params,
        order_router_address: order.order_router_address.clone().unwrap_or_default(),
        twap_parameters: None,
        good_til_oneof: good_til,
    })
}

/// Order side of a protocol order.
pub fn side_of(order: &IndexerOrder) -> Result<OrderSide, BlockError> {
    Ok(OrderSide::from_proto(order.side)?)
}

/// Order type of a placed order.
pub fn type_of(order: &IndexerOrder, flags: u32) -> Result<OrderType, BlockError> {
    Ok(OrderType::from_order_flags(flags, order.condition_type)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn status_rules_apply_in_order() {
        use CanceledStatus::*;
        // (filled, size, canceled, order flags, time in force, status after the fill)
        #[rustfmt::skip]
        let cases = [
            ("1", "1", Canceled, 0, TimeInForce::Gtt, OrderStatus::Filled),
            ("0.5", "1", Canceled, 64, TimeInForce::Ioc, OrderStatus::Open),
            ("0.5", "1", NotCanceled, 256, TimeInForce::Gtt, OrderStatus::Open),
            ("0.5", "1", NotCanceled, 0, TimeInForce::Fok, OrderStatus::Filled),
            ("0.5", "1", NotCanceled, 0, TimeInForce::Ioc, OrderStatus::Canceled),
            ("0.5", "1", BestEffortCanceled, 0, TimeInForce::Gtt, OrderStatus::BestEffortCanceled),
            ("0.5", "1", Canceled, 32, TimeInForce::PostOnly, OrderStatus::Canceled),
            ("0.5", "1", NotCanceled, 32, TimeInForce::Gtt, OrderStatus::Open),
        ];
        for (i, (filled, size, canceled, flags, tif, expected)) in cases.into_iter().enumerate() {
            let status = status_after_fill(&d(filled), &d(size), canceled, flags, tif);
            assert_eq!(status, expected, "case {i}");
        }
    }
}
