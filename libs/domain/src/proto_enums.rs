//! Conversions between the prost-generated protocol enums and the domain enums, for code that
//! holds the typed prost enum rather than the raw `i32` of a message field. They delegate to the
//! `from_proto`-style functions of [`crate::enums`], so the two paths cannot disagree.

use indexer_proto::indexer_manager::indexer_tendermint_event::OrderingWithinBlock;
use indexer_proto::off_chain_updates::order_remove_v1::OrderRemovalStatus;
use indexer_proto::protocol::v1::indexer_order::{Side, TimeInForce as ProtoTimeInForce};
use indexer_proto::protocol::v1::{
    ClobPairStatus, PerpetualMarketType as ProtoPerpetualMarketType,
    VaultStatus as ProtoVaultStatus,
};
use indexer_proto::socks::candle_message::Resolution;

use crate::candles::CandleResolution;
use crate::enums::{
    OrderSide, OrderStatus, PerpetualMarketStatus, PerpetualMarketType, TimeInForce, VaultStatus,
};
use crate::error::{Error, Result};
use crate::ids::EventPlacement;

impl TryFrom<Side> for OrderSide {
    type Error = Error;
    fn try_from(side: Side) -> Result<Self> {
        OrderSide::from_proto(side as i32)
    }
}

impl From<OrderSide> for Side {
    fn from(side: OrderSide) -> Self {
        match side {
            OrderSide::Buy => Side::Buy,
            OrderSide::Sell => Side::Sell,
        }
    }
}

impl From<ProtoTimeInForce> for TimeInForce {
    fn from(time_in_force: ProtoTimeInForce) -> Self {
        match time_in_force {
            ProtoTimeInForce::Unspecified => TimeInForce::Gtt,
            ProtoTimeInForce::Ioc => TimeInForce::Ioc,
            ProtoTimeInForce::PostOnly => TimeInForce::PostOnly,
            ProtoTimeInForce::FillOrKill => TimeInForce::Fok,
        }
    }
}

impl From<TimeInForce> for ProtoTimeInForce {
    fn from(time_in_force: TimeInForce) -> Self {
        match time_in_force {
            TimeInForce::Gtt => ProtoTimeInForce::Unspecified,
            TimeInForce::Ioc => ProtoTimeInForce::Ioc,
            TimeInForce::PostOnly => ProtoTimeInForce::PostOnly,
            TimeInForce::Fok => ProtoTimeInForce::FillOrKill,
        }
    }
}

impl TryFrom<ClobPairStatus> for PerpetualMarketStatus {
    type Error = Error;
    fn try_from(status: ClobPairStatus) -> Result<Self> {
        PerpetualMarketStatus::from_clob_pair_status(status as i32)
    }
}

impl TryFrom<ProtoPerpetualMarketType> for PerpetualMarketType {
    type Error = Error;
    fn try_from(market_type: ProtoPerpetualMarketType) -> Result<Self> {
        PerpetualMarketType::from_proto(market_type as i32)
    }
}

impl TryFrom<ProtoVaultStatus> for VaultStatus {
    type Error = Error;
    fn try_from(status: ProtoVaultStatus) -> Result<Self> {
        VaultStatus::from_proto(status as i32)
    }
}

impl TryFrom<OrderRemovalStatus> for OrderStatus {
    type Error = Error;
    fn try_from(status: OrderRemovalStatus) -> Result<Self> {
        OrderStatus::from_removal_status(status as i32)
    }
}

impl From<CandleResolution> for Resolution {
    fn from(resolution: CandleResolution) -> Self {
        match resolution {
            CandleResolution::OneMinute => Resolution::OneMinute,
            CandleResolution::FiveMinutes => Resolution::FiveMinutes,
            CandleResolution::FifteenMinutes => Resolution::FifteenMinutes,
            CandleResolution::ThirtyMinutes => Resolution::ThirtyMinutes,
            CandleResolution::OneHour => Resolution::OneHour,
            CandleResolution::FourHours => Resolution::FourHours,
            CandleResolution::OneDay => Resolution::OneDay,
        }
    }
}

impl From<Resolution> for CandleResolution {
    fn from(resolution: Resolution) -> Self {
        match resolution {
            Resolution::OneMinute => CandleResolution::OneMinute,
            Resolution::FiveMinutes => CandleResolution::FiveMinutes,
            Resolution::FifteenMinutes => CandleResolution::FifteenMinutes,
            Resolution::ThirtyMinutes => CandleResolution::ThirtyMinutes,
            Resolution::OneHour => CandleResolution::OneHour,
            Resolution::FourHours => CandleResolution::FourHours,
            Resolution::OneDay => CandleResolution::OneDay,
        }
    }
}

impl EventPlacement {
    /// From `IndexerTendermintEvent.ordering_within_block`.
    pub fn from_ordering(ordering: Option<&OrderingWithinBlock>) -> Result<Self> {
        match ordering {
            Some(OrderingWithinBlock::TransactionIndex(index)) => {
                EventPlacement::from_proto(Some(*index), None)
            }
            Some(OrderingWithinBlock::BlockEvent(event)) => {
                EventPlacement::from_proto(None, Some(*event))
            }
            None => EventPlacement::from_proto(None, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_proto_enums_convert_like_raw_numbers() {
        assert_eq!(OrderSide::try_from(Side::Sell).unwrap(), OrderSide::Sell);
        assert!(OrderSide::try_from(Side::Unspecified).is_err());
        assert_eq!(Side::from(OrderSide::Buy), Side::Buy);
        for tif in TimeInForce::ALL {
            let proto = ProtoTimeInForce::from(*tif);
            assert_eq!(proto as i32, tif.to_proto());
            assert_eq!(TimeInForce::from(proto), *tif);
        }
        assert_eq!(
            PerpetualMarketStatus::try_from(ClobPairStatus::FinalSettlement).unwrap(),
            PerpetualMarketStatus::FinalSettlement
        );
        assert!(PerpetualMarketStatus::try_from(ClobPairStatus::Unspecified).is_err());
        assert_eq!(
            PerpetualMarketType::try_from(ProtoPerpetualMarketType::Cross).unwrap(),
            PerpetualMarketType::Cross
        );
        assert_eq!(
            VaultStatus::try_from(ProtoVaultStatus::CloseOnly).unwrap(),
            VaultStatus::CloseOnly
        );
        assert_eq!(
            OrderStatus::try_from(OrderRemovalStatus::Canceled).unwrap(),
            OrderStatus::Canceled
        );
    }

    #[test]
    fn candle_resolutions_match_socks_numbers() {
        for resolution in CandleResolution::ALL {
            let proto = Resolution::from(*resolution);
            assert_eq!(proto as i32, resolution.socks_resolution());
            assert_eq!(CandleResolution::from(proto), *resolution);
        }
    }

    #[test]
    fn placement_from_the_proto_oneof() {
        let end_block = OrderingWithinBlock::BlockEvent(2);
        assert_eq!(
            EventPlacement::from_ordering(Some(&end_block)).unwrap(),
            EventPlacement::EndBlock
        );
        let tx = OrderingWithinBlock::TransactionIndex(3);
        assert_eq!(
            EventPlacement::from_ordering(Some(&tx))
                .unwrap()
                .signed_transaction_index(),
            3
        );
        assert_eq!(
            EventPlacement::from_ordering(None),
            Err(Error::UnplacedEvent)
        );
    }
}
