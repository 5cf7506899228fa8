//! Hand-written `prost::Message` for `OrderFillEventV1`.
//!
//! Its `taker_order` oneof has members 2 and 4 with the plain field
//! `fill_amount` (3) between them. prost-derive encodes a oneof as one unit at
//! its lowest field number, which would write a liquidation taker as fields
//! 1, 4, 3, ...; protobuf writes fields in field-number order (1, 3, 4, ...).
//! This impl keeps field-number order so re-encoded events are byte-identical
//! to what the reference encoders produce. Decoding is order-independent.

use prost::bytes::{Buf, BufMut};
use prost::encoding::{self, DecodeContext, WireType};
use prost::DecodeError;

use crate::events::order_fill_event_v1::TakerOrder;
use crate::events::OrderFillEventV1;

const MESSAGE_NAME: &str = "OrderFillEventV1";

impl prost::Message for OrderFillEventV1 {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        if let Some(maker_order) = &self.maker_order {
            encoding::message::encode(1, maker_order, buf);
        }
        if let Some(TakerOrder::Order(order)) = &self.taker_order {
            encoding::message::encode(2, order, buf);
        }
        if self.fill_amount != 0 {
            encoding::uint64::encode(3, &self.fill_amount, buf);
        }
        if let Some(TakerOrder::LiquidationOrder(liquidation)) = &self.taker_order {
            encoding::message::encode(4, liquidation, buf);
        }
        if self.maker_fee != 0 {
            encoding::sint64::encode(5, &self.maker_fee, buf);
        }
        if self.taker_fee != 0 {
            encoding::sint64::encode(6, &self.taker_fee, buf);
        }
        for (tag, value) in self.uint64_fields_7_to_11() {
            if *value != 0 {
                encoding::uint64::encode(tag, value, buf);
            }
        }
        for (tag, value) in self.builder_addresses() {
            if !value.is_empty() {
                encoding::string::encode(tag, value, buf);
            }
        }
        for (tag, value) in self.router_fees() {
            if *value != 0 {
                encoding::uint64::encode(tag, value, buf);
            }
        }
        for (tag, value) in self.router_addresses() {
            if !value.is_empty() {
                encoding::string::encode(tag, value, buf);
            }
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        let (result, field) = match tag {
            1 => (
                encoding::message::merge(
                    wire_type,
                    self.maker_order.get_or_insert_with(Default::default),
                    buf,
                    ctx,
                ),
                "maker_order",
            ),
            2 | 4 => (
                TakerOrder::merge(&mut self.taker_order, tag, wire_type, buf, ctx),
                "taker_order",
            ),
            3 => (
                encoding::uint64::merge(wire_type, &mut self.fill_amount, buf, ctx),
                "fill_amount",
            ),
            5 => (
                encoding::sint64::merge(wire_type, &mut self.maker_fee, buf, ctx),
                "maker_fee",
            ),
            6 => (
                encoding::sint64::merge(wire_type, &mut self.taker_fee, buf, ctx),
                "taker_fee",
            ),
            7 => (
                encoding::uint64::merge(wire_type, &mut self.total_filled_maker, buf, ctx),
                "total_filled_maker",
            ),
            8 => (
                encoding::uint64::merge(wire_type, &mut self.total_filled_taker, buf, ctx),
                "total_filled_taker",
            ),
            9 => (
                encoding::uint64::merge(wire_type, &mut self.affiliate_rev_share, buf, ctx),
                "affiliate_rev_share",
            ),
            10 => (
                encoding::uint64::merge(wire_type, &mut self.maker_builder_fee, buf, ctx),
                "maker_builder_fee",
            ),
            11 => (
                encoding::uint64::merge(wire_type, &mut self.taker_builder_fee, buf, ctx),
                "taker_builder_fee",
            ),
            12 => (
                encoding::string::merge(wire_type, &mut self.maker_builder_address, buf, ctx),
                "maker_builder_address",
            ),
            13 => (
                encoding::string::merge(wire_type, &mut self.taker_builder_address, buf, ctx),
                "taker_builder_address",
            ),
            14 => (
                encoding::uint64::merge(wire_type, &mut self.maker_order_router_fee, buf, ctx),
                "maker_order_router_fee",
            ),
            15 => (
                encoding::uint64::merge(wire_type, &mut self.taker_order_router_fee, buf, ctx),
                "taker_order_router_fee",
            ),
            16 => (
                encoding::string::merge(wire_type, &mut self.maker_order_router_address, buf, ctx),
                "maker_order_router_address",
            ),
            17 => (
                encoding::string::merge(wire_type, &mut self.taker_order_router_address, buf, ctx),
                "taker_order_router_address",
            ),
            _ => return encoding::skip_field(wire_type, tag, buf, ctx),
        };
        result.map_err(|mut error| {
            error.push(MESSAGE_NAME, field);
            error
        })
    }

    fn encoded_len(&self) -> usize {
        let maker_order = self
            .maker_order
            .as_ref()
            .map_or(0, |order| encoding::message::encoded_len(1, order));
        let taker_order = self.taker_order.as_ref().map_or(0, TakerOrder::encoded_len);
        let fill_amount = nonzero_u64_len(3, &self.fill_amount);
        let fees = [(5, &self.maker_fee), (6, &self.taker_fee)]
            .into_iter()
            .filter(|(_, fee)| **fee != 0)
            .map(|(tag, fee)| encoding::sint64::encoded_len(tag, fee))
            .sum::<usize>();
        let u64s = self
            .uint64_fields_7_to_11()
            .into_iter()
            .chain(self.router_fees())
            .map(|(tag, value)| nonzero_u64_len(tag, value))
            .sum::<usize>();
        let strings = self
            .builder_addresses()
            .into_iter()
            .chain(self.router_addresses())
            .filter(|(_, value)| !value.is_empty())
            .map(|(tag, value)| encoding::string::encoded_len(tag, value))
            .sum::<usize>();
        maker_order + taker_order + fill_amount + fees + u64s + strings
    }

    fn clear(&mut self) {
        *self = Self::default();
    }
}

fn nonzero_u64_len(tag: u32, value: &u64) -> usize {
    if *value == 0 {
        0
    } else {
        encoding::uint64::encoded_len(tag, value)
    }
}

impl OrderFillEventV1 {
    fn uint64_fields_7_to_11(&self) -> [(u32, &u64); 5] {
        [
            (7, &self.total_filled_maker),
            (8, &self.total_filled_taker),
            (9, &self.affiliate_rev_share),
            (10, &self.maker_builder_fee),
            (11, &self.taker_builder_fee),
        ]
    }

    fn builder_addresses(&self) -> [(u32, &String); 2] {
        [
            (12, &self.maker_builder_address),
            (13, &self.taker_builder_address),
        ]
    }

    fn router_fees(&self) -> [(u32, &u64); 2] {
        [
            (14, &self.maker_order_router_fee),
            (15, &self.taker_order_router_fee),
        ]
    }

    fn router_addresses(&self) -> [(u32, &String); 2] {
        [
            (16, &self.maker_order_router_address),
            (17, &self.taker_order_router_address),
        ]
    }
}
