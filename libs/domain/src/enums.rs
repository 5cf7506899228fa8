//! The string enums stored in Postgres and shown by the APIs (serve.md Appendix A), with their
//! exact spellings, plus the conversions from protocol enum numbers that ender applies
//! (ingest.md §4.7). Every enum has `as_str()`, `Display`, `FromStr`, serde as that string, and
//! `ALL` listing its values in declaration order. Protocol conversions take the raw `i32` that
//! prost stores in message fields, so an unknown number is a typed error rather than a panic.

use crate::candles::CandleResolution;
use crate::decimal::Decimal;
use crate::error::{Error, Result};

/// Declares a fieldless enum whose values are spelled by fixed strings.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $($(#[$variant_meta:meta])* $variant:ident => $text:literal),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$variant_meta])* #[doc = concat!("`", $text, "`")] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The exact spelling.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::error::Error;

            fn from_str(text: &str) -> ::std::result::Result<Self, Self::Err> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::error::Error::InvalidEnumString {
                        type_name: stringify!($name),
                        value: text.to_owned(),
                    }),
                }
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::std::result::Result<Self, D::Error> {
                let text = <::std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use string_enum;

fn invalid_proto(type_name: &'static str, value: impl Into<i64>) -> Error {
    Error::InvalidProtoValue {
        type_name,
        value: value.into(),
    }
}

/// Protocol `order_flags` values (`IndexerOrderId.order_flags`).
pub mod order_flags {
    /// Short-term order (lives until its good-til-block).
    pub const SHORT_TERM: u32 = 0;
    /// Conditional (stop / take-profit) order.
    pub const CONDITIONAL: u32 = 32;
    /// Long-term (stateful) order.
    pub const LONG_TERM: u32 = 64;
    /// TWAP parent order.
    pub const TWAP: u32 = 128;
    /// TWAP suborder placed by the protocol for a TWAP parent.
    pub const TWAP_SUBORDER: u32 = 256;

    /// True for orders stored on chain (conditional and long-term), whose fully filled state must
    /// be removed from the book by the indexer.
    pub const fn is_stateful(flags: u32) -> bool {
        matches!(flags, CONDITIONAL | LONG_TERM)
    }
}

string_enum! {
    /// Side of an order or fill.
    OrderSide { Buy => "BUY", Sell => "SELL" }
}

impl OrderSide {
    /// From `IndexerOrder.side` (1 BUY, 2 SELL; 0 is invalid).
    pub fn from_proto(side: i32) -> Result<Self> {
        match side {
            1 => Ok(OrderSide::Buy),
            2 => Ok(OrderSide::Sell),
            other => Err(invalid_proto("OrderSide", other)),
        }
    }

    /// From a protocol `is_buy` flag (liquidations, deleveraging).
    pub const fn from_is_buy(is_buy: bool) -> Self {
        if is_buy {
            OrderSide::Buy
        } else {
            OrderSide::Sell
        }
    }

    /// The `IndexerOrder.side` number.
    pub const fn to_proto(self) -> i32 {
        match self {
            OrderSide::Buy => 1,
            OrderSide::Sell => 2,
        }
    }

    /// The other side.
    pub const fn opposite(self) -> Self {
        match self {
            OrderSide::Buy => OrderSide::Sell,
            OrderSide::Sell => OrderSide::Buy,
        }
    }
}

string_enum! {
    /// Order type stored in `orders.type`.
    OrderType {
        Limit => "LIMIT",
        Market => "MARKET",
        StopLimit => "STOP_LIMIT",
        StopMarket => "STOP_MARKET",
        TrailingStop => "TRAILING_STOP",
        TakeProfit => "TAKE_PROFIT",
        TakeProfitMarket => "TAKE_PROFIT_MARKET",
        Twap => "TWAP",
        TwapSuborder => "TWAP_SUBORDER",
    }
}

impl OrderType {
    /// Order type of a placed order from its flags and `IndexerOrder.condition_type`
    /// (ingest.md §4.7.13): flags 0 and 64 → LIMIT; 32 → LIMIT / STOP_LIMIT / TAKE_PROFIT for
    /// condition 0 / 1 / 2; 128 → TWAP; 256 → TWAP_SUBORDER; anything else is an error.
    pub fn from_order_flags(flags: u32, condition_type: i32) -> Result<Self> {
        match (flags, condition_type) {
            (order_flags::SHORT_TERM | order_flags::LONG_TERM, _) => Ok(OrderType::Limit),
            (order_flags::CONDITIONAL, 0) => Ok(OrderType::Limit),
            (order_flags::CONDITIONAL, 1) => Ok(OrderType::StopLimit),
            (order_flags::CONDITIONAL, 2) => Ok(OrderType::TakeProfit),
            (order_flags::CONDITIONAL, other) => Err(invalid_proto("ConditionType", other)),
            (order_flags::TWAP, _) => Ok(OrderType::Twap),
            (order_flags::TWAP_SUBORDER, _) => Ok(OrderType::TwapSuborder),
            (other, _) => Err(invalid_proto("OrderFlags", other)),
        }
    }

    /// `IndexerOrder.condition_type` when rebuilding an order from its row (ingest.md §4.7.14):
    /// STOP_* → 1 (STOP_LOSS), TAKE_PROFIT* → 2, everything else → 0.
    pub const fn condition_type(self) -> i32 {
        match self {
            OrderType::StopLimit | OrderType::StopMarket => 1,
            OrderType::TakeProfit | OrderType::TakeProfitMarket => 2,
            _ => 0,
        }
    }
}

string_enum! {
    /// Order status stored in `orders.status`.
    OrderStatus {
        Open => "OPEN",
        Filled => "FILLED",
        Canceled => "CANCELED",
        BestEffortCanceled => "BEST_EFFORT_CANCELED",
        Untriggered => "UNTRIGGERED",
        Error => "ERROR",
    }
}

impl OrderStatus {
    /// Status written for an `OrderRemoveV1.removal_status` (1 BEST_EFFORT_CANCELED, 2 CANCELED,
    /// 3 FILLED; 0 is invalid).
    pub fn from_removal_status(removal_status: i32) -> Result<Self> {
        match removal_status {
            1 => Ok(OrderStatus::BestEffortCanceled),
            2 => Ok(OrderStatus::Canceled),
            3 => Ok(OrderStatus::Filled),
            other => Err(invalid_proto("OrderRemovalStatus", other)),
        }
    }
}

string_enum! {
    /// Order status as the APIs show it: the stored statuses plus BEST_EFFORT_OPENED, which only
    /// exists in vulcan's messages and the Redis-backed views.
    ApiOrderStatus {
        Open => "OPEN",
        Filled => "FILLED",
        Canceled => "CANCELED",
        BestEffortCanceled => "BEST_EFFORT_CANCELED",
        Untriggered => "UNTRIGGERED",
        Error => "ERROR",
        BestEffortOpened => "BEST_EFFORT_OPENED",
    }
}

impl From<OrderStatus> for ApiOrderStatus {
    fn from(status: OrderStatus) -> Self {
        match status {
            OrderStatus::Open => ApiOrderStatus::Open,
            OrderStatus::Filled => ApiOrderStatus::Filled,
            OrderStatus::Canceled => ApiOrderStatus::Canceled,
            OrderStatus::BestEffortCanceled => ApiOrderStatus::BestEffortCanceled,
            OrderStatus::Untriggered => ApiOrderStatus::Untriggered,
            OrderStatus::Error => ApiOrderStatus::Error,
        }
    }
}

string_enum! {
    /// Time in force stored in `orders.timeInForce`.
    TimeInForce { Gtt => "GTT", Fok => "FOK", Ioc => "IOC", PostOnly => "POST_ONLY" }
}

impl TimeInForce {
    /// From `IndexerOrder.time_in_force`: 0 (unspecified) → GTT, 1 → IOC, 2 → POST_ONLY,
    /// 3 → FOK, anything else is an error.
    pub fn from_proto(time_in_force: i32) -> Result<Self> {
        match time_in_force {
            0 => Ok(TimeInForce::Gtt),
            1 => Ok(TimeInForce::Ioc),
            2 => Ok(TimeInForce::PostOnly),
            3 => Ok(TimeInForce::Fok),
            other => Err(invalid_proto("TimeInForce", other)),
        }
    }

    /// The `IndexerOrder.time_in_force` number.
    pub const fn to_proto(self) -> i32 {
        match self {
            TimeInForce::Gtt => 0,
            TimeInForce::Ioc => 1,
            TimeInForce::PostOnly => 2,
            TimeInForce::Fok => 3,
        }
    }

    /// The API value: POST_ONLY is shown as GTT together with `postOnly: true`.
    pub const fn api(self) -> ApiTimeInForce {
        match self {
            TimeInForce::Gtt | TimeInForce::PostOnly => ApiTimeInForce::Gtt,
            TimeInForce::Fok => ApiTimeInForce::Fok,
            TimeInForce::Ioc => ApiTimeInForce::Ioc,
        }
    }

    /// The API's `postOnly` flag.
    pub const fn is_post_only(self) -> bool {
        matches!(self, TimeInForce::PostOnly)
    }

    /// IOC and FOK orders never rest on the book.
    pub const fn is_immediate(self) -> bool {
        matches!(self, TimeInForce::Ioc | TimeInForce::Fok)
    }
}

string_enum! {
    /// Time in force as the APIs show it.
    ApiTimeInForce { Gtt => "GTT", Fok => "FOK", Ioc => "IOC" }
}

string_enum! {
    /// Which side of a match a fill was.
    Liquidity { Taker => "TAKER", Maker => "MAKER" }
}

string_enum! {
    /// Fill type stored in `fills.type`.
    FillType {
        Limit => "LIMIT",
        Liquidated => "LIQUIDATED",
        Liquidation => "LIQUIDATION",
        Deleveraged => "DELEVERAGED",
        Offsetting => "OFFSETTING",
        TwapSuborder => "TWAP_SUBORDER",
    }
}

impl FillType {
    /// Trade type of a trade built from a taker fill of this type; `None` for the maker-only
    /// types LIQUIDATION and OFFSETTING, which never produce trades.
    pub const fn trade_type(self) -> Option<TradeType> {
        match self {
            FillType::Limit => Some(TradeType::Limit),
            FillType::Liquidated => Some(TradeType::Liquidated),
            FillType::Deleveraged => Some(TradeType::Deleveraged),
            FillType::TwapSuborder => Some(TradeType::TwapSuborder),
            FillType::Liquidation | FillType::Offsetting => None,
        }
    }
}

string_enum! {
    /// Type of a public trade.
    TradeType {
        Limit => "LIMIT",
        Liquidated => "LIQUIDATED",
        Deleveraged => "DELEVERAGED",
        TwapSuborder => "TWAP_SUBORDER",
    }
}

string_enum! {
    /// Market kind.
    MarketType { Perpetual => "PERPETUAL", Spot => "SPOT" }
}

string_enum! {
    /// Margin mode of a perpetual market (`perpetual_markets.marketType`).
    PerpetualMarketType { Cross => "CROSS", Isolated => "ISOLATED" }
}

impl PerpetualMarketType {
    /// From the protocol `PerpetualMarketType` (1 CROSS, 2 ISOLATED; anything else is an error).
    pub fn from_proto(market_type: i32) -> Result<Self> {
        match market_type {
            1 => Ok(PerpetualMarketType::Cross),
            2 => Ok(PerpetualMarketType::Isolated),
            other => Err(invalid_proto("PerpetualMarketType", other)),
        }
    }
}

string_enum! {
    /// Trading status of a perpetual market (`perpetual_markets.status`).
    PerpetualMarketStatus {
        Active => "ACTIVE",
        Paused => "PAUSED",
        CancelOnly => "CANCEL_ONLY",
        PostOnly => "POST_ONLY",
        Initializing => "INITIALIZING",
        FinalSettlement => "FINAL_SETTLEMENT",
    }
}

impl PerpetualMarketStatus {
    /// From the protocol `ClobPairStatus` (1 ACTIVE … 6 FINAL_SETTLEMENT; 0 and unknown values
    /// are errors).
    pub fn from_clob_pair_status(status: i32) -> Result<Self> {
        match status {
            1 => Ok(PerpetualMarketStatus::Active),
            2 => Ok(PerpetualMarketStatus::Paused),
            3 => Ok(PerpetualMarketStatus::CancelOnly),
            4 => Ok(PerpetualMarketStatus::PostOnly),
            5 => Ok(PerpetualMarketStatus::Initializing),
            6 => Ok(PerpetualMarketStatus::FinalSettlement),
            other => Err(invalid_proto("ClobPairStatus", other)),
        }
    }
}

string_enum! {
    /// Status of a perpetual position row.
    PerpetualPositionStatus { Open => "OPEN", Closed => "CLOSED", Liquidated => "LIQUIDATED" }
}

string_enum! {
    /// Side of a position.
    PositionSide { Long => "LONG", Short => "SHORT" }
}

impl PositionSide {
    /// Side of a signed position size: LONG if above zero, otherwise SHORT (zero counts as SHORT,
    /// ingest.md §4.7.4).
    pub fn from_size(size: &Decimal) -> Self {
        if size.is_positive() {
            PositionSide::Long
        } else {
            PositionSide::Short
        }
    }

    /// Whether a fill on `side` grows a position on this side (LONG + BUY, SHORT + SELL).
    pub const fn is_increased_by(self, side: OrderSide) -> bool {
        matches!(
            (self, side),
            (PositionSide::Long, OrderSide::Buy) | (PositionSide::Short, OrderSide::Sell)
        )
    }
}

string_enum! {
    /// Kind of a transfer from the point of view of one subaccount.
    TransferType {
        TransferIn => "TRANSFER_IN",
        TransferOut => "TRANSFER_OUT",
        Deposit => "DEPOSIT",
        Withdrawal => "WITHDRAWAL",
    }
}

string_enum! {
    /// Aggregation period of `trading_reward_aggregations`.
    TradingRewardAggregationPeriod { Daily => "DAILY", Weekly => "WEEKLY", Monthly => "MONTHLY" }
}

string_enum! {
    /// Status of a vault (`vaults.status`).
    VaultStatus {
        Deactivated => "DEACTIVATED",
        StandBy => "STAND_BY",
        Quoting => "QUOTING",
        CloseOnly => "CLOSE_ONLY",
    }
}

impl VaultStatus {
    /// From the protocol `VaultStatus` (1 DEACTIVATED, 2 STAND_BY, 3 QUOTING, 4 CLOSE_ONLY;
    /// anything else is an error).
    pub fn from_proto(status: i32) -> Result<Self> {
        match status {
            1 => Ok(VaultStatus::Deactivated),
            2 => Ok(VaultStatus::StandBy),
            3 => Ok(VaultStatus::Quoting),
            4 => Ok(VaultStatus::CloseOnly),
            other => Err(invalid_proto("VaultStatus", other)),
        }
    }
}

string_enum! {
    /// Period of the sparklines endpoint.
    SparklineTimePeriod { OneDay => "ONE_DAY", SevenDays => "SEVEN_DAYS" }
}

impl SparklineTimePeriod {
    /// Candle resolution the sparkline is built from: ONE_DAY → 1HOUR, SEVEN_DAYS → 4HOURS.
    pub const fn candle_resolution(self) -> CandleResolution {
        match self {
            SparklineTimePeriod::OneDay => CandleResolution::OneHour,
            SparklineTimePeriod::SevenDays => CandleResolution::FourHours,
        }
    }

    /// How far back the sparkline reaches.
    pub fn lookback(self) -> chrono::Duration {
        match self {
            SparklineTimePeriod::OneDay => chrono::Duration::days(1),
            SparklineTimePeriod::SevenDays => chrono::Duration::days(7),
        }
    }
}

string_enum! {
    /// Interval of historical PnL queries (lower case, unlike the other enums).
    PnlTickInterval { Hour => "hour", Day => "day" }
}

string_enum! {
    /// Position-history classification.
    TradeHistoryType {
        Open => "OPEN",
        Extend => "EXTEND",
        PartialClose => "PARTIAL_CLOSE",
        Close => "CLOSE",
        LiquidationPartialClose => "LIQUIDATION_PARTIAL_CLOSE",
        LiquidationClose => "LIQUIDATION_CLOSE",
    }
}

string_enum! {
    /// Compliance status of an address.
    ComplianceStatus {
        Compliant => "COMPLIANT",
        FirstStrikeCloseOnly => "FIRST_STRIKE_CLOSE_ONLY",
        FirstStrike => "FIRST_STRIKE",
        CloseOnly => "CLOSE_ONLY",
        Blocked => "BLOCKED",
    }
}

string_enum! {
    /// Why an address got its compliance status.
    ComplianceReason {
        Manual => "MANUAL",
        UsGeo => "US_GEO",
        CaGeo => "CA_GEO",
        GbGeo => "GB_GEO",
        SanctionedGeo => "SANCTIONED_GEO",
        ComplianceProvider => "COMPLIANCE_PROVIDER",
    }
}

string_enum! {
    /// Action of a compliance status update request.
    ComplianceAction {
        Connect => "CONNECT",
        ValidSurvey => "VALID_SURVEY",
        InvalidSurvey => "INVALID_SURVEY",
    }
}

string_enum! {
    /// Error code of a blocked request.
    BlockedCode { Geoblocked => "GEOBLOCKED", ComplianceBlocked => "COMPLIANCE_BLOCKED" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt;
    use std::str::FromStr;

    #[test]
    fn spellings_round_trip_through_strings_and_json() {
        fn check<T>(all: &[T])
        where
            T: Copy + PartialEq + fmt::Debug + fmt::Display + FromStr<Err = Error>,
            T: serde::Serialize + serde::de::DeserializeOwned,
        {
            for value in all {
                let text = value.to_string();
                assert_eq!(text.parse::<T>().unwrap(), *value);
                let json = serde_json::to_string(value).unwrap();
                assert_eq!(json, format!("\"{text}\""));
                assert_eq!(serde_json::from_str::<T>(&json).unwrap(), *value);
            }
        }
        check(OrderSide::ALL);
        check(OrderType::ALL);
        check(OrderStatus::ALL);
        check(ApiOrderStatus::ALL);
        check(TimeInForce::ALL);
        check(ApiTimeInForce::ALL);
        check(Liquidity::ALL);
        check(FillType::ALL);
        check(TradeType::ALL);
        check(MarketType::ALL);
        check(PerpetualMarketType::ALL);
        check(PerpetualMarketStatus::ALL);
        check(PerpetualPositionStatus::ALL);
        check(PositionSide::ALL);
        check(TransferType::ALL);
        check(TradingRewardAggregationPeriod::ALL);
        check(VaultStatus::ALL);
        check(SparklineTimePeriod::ALL);
        check(PnlTickInterval::ALL);
        check(TradeHistoryType::ALL);
        check(ComplianceStatus::ALL);
        check(ComplianceReason::ALL);
        check(ComplianceAction::ALL);
        check(BlockedCode::ALL);
    }

    #[test]
    fn exact_spellings_of_appendix_a() {
        let statuses: Vec<&str> = ApiOrderStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            statuses,
            [
                "OPEN",
                "FILLED",
                "CANCELED",
                "BEST_EFFORT_CANCELED",
                "UNTRIGGERED",
                "ERROR",
                "BEST_EFFORT_OPENED"
            ]
        );
        assert_eq!(OrderType::TakeProfitMarket.as_str(), "TAKE_PROFIT_MARKET");
        assert_eq!(VaultStatus::StandBy.as_str(), "STAND_BY");
        assert_eq!(PnlTickInterval::Hour.as_str(), "hour");
        assert_eq!(
            ComplianceStatus::FirstStrikeCloseOnly.as_str(),
            "FIRST_STRIKE_CLOSE_ONLY"
        );
        assert_eq!(
            TradingRewardAggregationPeriod::Monthly.to_string(),
            "MONTHLY"
        );
    }

    #[test]
    fn unknown_spellings_are_rejected() {
        let err = "buy".parse::<OrderSide>().unwrap_err();
        assert_eq!(
            err,
            Error::InvalidEnumString {
                type_name: "OrderSide",
                value: "buy".into()
            }
        );
        assert!("HOUR".parse::<PnlTickInterval>().is_err());
        assert!(serde_json::from_str::<OrderStatus>("\"BEST_EFFORT_OPENED\"").is_err());
    }

    #[test]
    fn time_in_force_from_proto() {
        assert_eq!(TimeInForce::from_proto(0).unwrap(), TimeInForce::Gtt);
        assert_eq!(TimeInForce::from_proto(1).unwrap(), TimeInForce::Ioc);
        assert_eq!(TimeInForce::from_proto(2).unwrap(), TimeInForce::PostOnly);
        assert_eq!(TimeInForce::from_proto(3).unwrap(), TimeInForce::Fok);
        assert!(TimeInForce::from_proto(4).is_err());
        for tif in TimeInForce::ALL {
            assert_eq!(TimeInForce::from_proto(tif.to_proto()).unwrap(), *tif);
        }
    }

    #[test]
    fn post_only_is_shown_as_gtt_with_a_flag() {
        assert_eq!(TimeInForce::PostOnly.api(), ApiTimeInForce::Gtt);
        assert!(TimeInForce::PostOnly.is_post_only());
        assert!(!TimeInForce::Gtt.is_post_only());
        assert_eq!(TimeInForce::Ioc.api().as_str(), "IOC");
    }

    #[test]
    fn market_status_from_clob_pair_status() {
        let mapped: Vec<&str> = (1..=6)
            .map(|n| {
                PerpetualMarketStatus::from_clob_pair_status(n)
                    .unwrap()
                    .as_str()
            })
            .collect();
        assert_eq!(
            mapped,
            [
                "ACTIVE",
                "PAUSED",
                "CANCEL_ONLY",
                "POST_ONLY",
                "INITIALIZING",
                "FINAL_SETTLEMENT"
            ]
        );
        assert!(PerpetualMarketStatus::from_clob_pair_status(0).is_err());
        assert!(PerpetualMarketStatus::from_clob_pair_status(7).is_err());
    }

    #[test]
    fn other_proto_conversions() {
        assert_eq!(OrderSide::from_proto(1).unwrap(), OrderSide::Buy);
        assert_eq!(OrderSide::from_proto(2).unwrap(), OrderSide::Sell);
        assert!(OrderSide::from_proto(0).is_err());
        assert_eq!(OrderSide::from_is_buy(false), OrderSide::Sell);
        assert_eq!(
            PerpetualMarketType::from_proto(2).unwrap(),
            PerpetualMarketType::Isolated
        );
        assert!(PerpetualMarketType::from_proto(0).is_err());
        assert_eq!(VaultStatus::from_proto(3).unwrap(), VaultStatus::Quoting);
        assert!(VaultStatus::from_proto(0).is_err());
        assert_eq!(
            OrderStatus::from_removal_status(1).unwrap(),
            OrderStatus::BestEffortCanceled
        );
        assert_eq!(
            OrderStatus::from_removal_status(3).unwrap(),
            OrderStatus::Filled
        );
        assert!(OrderStatus::from_removal_status(0).is_err());
    }

    #[test]
    fn order_type_from_flags_and_condition() {
        use order_flags::*;
        assert_eq!(
            OrderType::from_order_flags(SHORT_TERM, 0).unwrap(),
            OrderType::Limit
        );
        assert_eq!(
            OrderType::from_order_flags(LONG_TERM, 0).unwrap(),
            OrderType::Limit
        );
        assert_eq!(
            OrderType::from_order_flags(CONDITIONAL, 1).unwrap(),
            OrderType::StopLimit
        );
        assert_eq!(
            OrderType::from_order_flags(CONDITIONAL, 2).unwrap(),
            OrderType::TakeProfit
        );
        assert!(OrderType::from_order_flags(CONDITIONAL, 3).is_err());
        assert_eq!(
            OrderType::from_order_flags(TWAP, 0).unwrap(),
            OrderType::Twap
        );
        assert_eq!(
            OrderType::from_order_flags(TWAP_SUBORDER, 0).unwrap(),
            OrderType::TwapSuborder
        );
        assert!(OrderType::from_order_flags(16, 0).is_err());
        assert_eq!(OrderType::StopMarket.condition_type(), 1);
        assert_eq!(OrderType::TakeProfitMarket.condition_type(), 2);
        assert_eq!(OrderType::Twap.condition_type(), 0);
        assert!(is_stateful(CONDITIONAL) && is_stateful(LONG_TERM));
        assert!(!is_stateful(SHORT_TERM) && !is_stateful(TWAP_SUBORDER));
    }

    #[test]
    fn trade_types_of_fill_types() {
        assert_eq!(FillType::Limit.trade_type(), Some(TradeType::Limit));
        assert_eq!(
            FillType::Liquidated.trade_type(),
            Some(TradeType::Liquidated)
        );
        assert_eq!(
            FillType::Deleveraged.trade_type(),
            Some(TradeType::Deleveraged)
        );
        assert_eq!(
            FillType::TwapSuborder.trade_type(),
            Some(TradeType::TwapSuborder)
        );
        assert_eq!(FillType::Liquidation.trade_type(), None);
        assert_eq!(FillType::Offsetting.trade_type(), None);
    }

    #[test]
    fn position_side_rules() {
        let d = |text: &str| Decimal::parse(text).unwrap();
        assert_eq!(PositionSide::from_size(&d("0.1")), PositionSide::Long);
        assert_eq!(PositionSide::from_size(&d("-0.1")), PositionSide::Short);
        assert_eq!(PositionSide::from_size(&d("0")), PositionSide::Short);
        assert!(PositionSide::Long.is_increased_by(OrderSide::Buy));
        assert!(!PositionSide::Short.is_increased_by(OrderSide::Buy));
    }

    #[test]
    fn sparklines_use_hourly_and_four_hourly_candles() {
        assert_eq!(
            SparklineTimePeriod::OneDay.candle_resolution().as_str(),
            "1HOUR"
        );
        assert_eq!(
            SparklineTimePeriod::SevenDays.candle_resolution().as_str(),
            "4HOURS"
        );
        assert_eq!(SparklineTimePeriod::SevenDays.lookback().num_hours(), 168);
    }
}
