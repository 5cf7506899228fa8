//! Typed fixtures of every message type, spelled out by hand with the value
//! scheme of proto/conformance/fixtures.py (see its module docstring): a field
//! numbered `n` holds `u32v(n)`, `u64v(n)`, its name as a string, ... Written
//! independently of the Python generator so that decoding is checked against
//! expectations, not against another decode.

use std::fmt::Debug;

use indexer_proto::events::{
    self, funding_event_v1, market_event_v1, order_fill_event_v1::TakerOrder, source_of_funds,
    stateful_order_event_v1 as stateful,
};
use indexer_proto::indexer_manager::{
    indexer_tendermint_event::{BlockEvent, OrderingWithinBlock},
    IndexerEventsStoreValue, IndexerTendermintBlock, IndexerTendermintEvent,
    IndexerTendermintEventWrapper,
};
use indexer_proto::off_chain_updates::{
    off_chain_update_v1::UpdateMessage, order_place_v1::OrderPlacementStatus,
    order_remove_v1::OrderRemovalStatus, OffChainUpdateV1, OrderPlaceV1, OrderRemoveV1,
    OrderReplaceV1, OrderUpdateV1,
};
use indexer_proto::protocol::v1::{
    indexer_order::{ConditionType, GoodTilOneof, Side, TimeInForce},
    BuilderCodeParameters, ClobPairStatus, IndexerAssetPosition, IndexerOrder, IndexerOrderId,
    IndexerPerpetualPosition, IndexerSubaccountId, PerpetualMarketType, TwapParameters,
    VaultStatus,
};
use indexer_proto::redis::{redis_order::TickerType, RedisOrder};
use indexer_proto::shared::OrderRemovalReason;
use indexer_proto::socks::{
    candle_message::Resolution, BlockHeightMessage, CandleMessage, MarketMessage, OrderbookMessage,
    SubaccountMessage, TradeMessage,
};
use prost::{Message, Name};
use prost_types::Timestamp;

/// Decodes foreign bytes and compares them with a fixture's typed value.
type DecodingCheck = Box<dyn Fn(&[u8]) -> Result<(), String>>;

/// One fixture: a typed value, its encoding, and a checker for foreign bytes.
pub struct Fixture {
    pub name: String,
    pub variant: &'static str,
    pub encoded: Vec<u8>,
    check: DecodingCheck,
}

impl Fixture {
    /// Decodes `bytes` as this fixture's type, requires the decoded value to
    /// equal the fixture field by field and to re-encode to `bytes`.
    pub fn check_decoding(&self, bytes: &[u8]) -> Result<(), String> {
        (self.check)(bytes)
    }
}

fn fixture<T>(variant: &'static str, expected: T) -> Fixture
where
    T: Message + Name + Default + PartialEq + Debug + 'static,
{
    let encoded = expected.encode_to_vec();
    assert_eq!(
        expected.encoded_len(),
        encoded.len(),
        "{} {variant}: encoded_len disagrees with the encoding",
        T::full_name()
    );
    let check = move |bytes: &[u8]| -> Result<(), String> {
        let decoded = T::decode(bytes).map_err(|e| format!("does not decode: {e}"))?;
        if decoded != expected {
            return Err(format!(
                "decoded value differs:\n{}",
                debug_diff(&expected, &decoded)
            ));
        }
        let reencoded = decoded.encode_to_vec();
        if reencoded != bytes {
            return Err(format!(
                "re-encodes differently:\n  python {}\n  rust   {}",
                hex::encode(bytes),
                hex::encode(reencoded)
            ));
        }
        Ok(())
    };
    Fixture {
        name: T::full_name(),
        variant,
        encoded,
        check: Box::new(check),
    }
}

/// The listed variants of one message type plus its all-default variant.
fn variants<T>(listed: Vec<(&'static str, T)>) -> Vec<Fixture>
where
    T: Message + Name + Default + PartialEq + Debug + 'static,
{
    let mut fixtures: Vec<Fixture> = listed
        .into_iter()
        .map(|(variant, value)| fixture(variant, value))
        .collect();
    fixtures.push(fixture("default", T::default()));
    fixtures
}

fn debug_diff(expected: &dyn Debug, decoded: &dyn Debug) -> String {
    let expected = format!("{expected:#?}");
    let decoded = format!("{decoded:#?}");
    expected
        .lines()
        .zip(decoded.lines())
        .filter(|(e, d)| e != d)
        .map(|(e, d)| format!("  expected {}\n  decoded  {}", e.trim(), d.trim()))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---- the value scheme (field number n) ----

const fn u32v(n: u32) -> u32 {
    1000 + n
}
const fn fixed32v(n: u32) -> u32 {
    u32::MAX - n
}
const fn i32v(n: i32) -> i32 {
    -(1000 + n)
}
const fn sint32v(n: i32) -> i32 {
    -(100 + n)
}
/// 2^64 - n: field 1 holds u64::MAX.
const fn u64v(n: u64) -> u64 {
    u64::MAX - (n - 1)
}
const fn sint64v(n: i64) -> i64 {
    i64::MIN + n
}
fn bytesv(n: u8) -> Vec<u8> {
    vec![3, n, 0, 255]
}
fn s(name: &str) -> String {
    name.to_owned()
}
fn timestamp(n: i64) -> Timestamp {
    Timestamp {
        seconds: 1_700_000_000 + n,
        nanos: 123_000_000,
    }
}

// ---- protocol.v1 ----

fn subaccount_id() -> IndexerSubaccountId {
    IndexerSubaccountId {
        owner: s("owner"),
        number: u32v(2),
    }
}

fn order_id() -> IndexerOrderId {
    IndexerOrderId {
        subaccount_id: Some(subaccount_id()),
        client_id: fixed32v(2),
        order_flags: u32v(3),
        clob_pair_id: u32v(4),
    }
}

fn twap_parameters() -> TwapParameters {
    TwapParameters {
        duration: u32v(1),
        interval: u32v(2),
        price_tolerance: u32v(3),
    }
}

fn builder_code_parameters() -> BuilderCodeParameters {
    BuilderCodeParameters {
        builder_address: s("builder_address"),
        fee_ppm: u32v(2),
    }
}

fn order_with(good_til: GoodTilOneof) -> IndexerOrder {
    IndexerOrder {
        order_id: Some(order_id()),
        side: Side::Sell as i32,
        quantums: u64v(3),
        subticks: u64v(4),
        good_til_oneof: Some(good_til),
        time_in_force: TimeInForce::FillOrKill as i32,
        reduce_only: true,
        client_metadata: u32v(9),
        condition_type: ConditionType::TakeProfit as i32,
        conditional_order_trigger_subticks: u64v(11),
        builder_code_params: Some(builder_code_parameters()),
        order_router_address: s("order_router_address"),
        twap_parameters: Some(twap_parameters()),
    }
}

fn order() -> IndexerOrder {
    order_with(GoodTilOneof::GoodTilBlock(u32v(5)))
}

fn perpetual_position() -> IndexerPerpetualPosition {
    IndexerPerpetualPosition {
        perpetual_id: u32v(1),
        quantums: bytesv(2),
        funding_index: bytesv(3),
        funding_payment: bytesv(4),
    }
}

fn asset_position() -> IndexerAssetPosition {
    IndexerAssetPosition {
        asset_id: u32v(1),
        quantums: bytesv(2),
        index: u64v(3),
    }
}

fn protocol_v1() -> Vec<Fixture> {
    [
        variants(vec![("v0", subaccount_id())]),
        variants(vec![("v0", order_id())]),
        variants(vec![
            ("v0", order()),
            (
                "v1",
                order_with(GoodTilOneof::GoodTilBlockTime(fixed32v(6))),
            ),
            (
                "zero_oneof",
                IndexerOrder {
                    good_til_oneof: Some(GoodTilOneof::GoodTilBlock(0)),
                    ..Default::default()
                },
            ),
        ]),
        variants(vec![("v0", twap_parameters())]),
        variants(vec![("v0", builder_code_parameters())]),
        variants(vec![("v0", perpetual_position())]),
        variants(vec![("v0", asset_position())]),
    ]
    .into_iter()
    .flatten()
    .collect()
}

// ---- indexer_manager ----

fn tendermint_event_with(ordering: OrderingWithinBlock) -> IndexerTendermintEvent {
    IndexerTendermintEvent {
        subtype: s("subtype"),
        ordering_within_block: Some(ordering),
        event_index: u32v(5),
        version: u32v(6),
        data_bytes: bytesv(7),
    }
}

fn tendermint_event() -> IndexerTendermintEvent {
    tendermint_event_with(OrderingWithinBlock::TransactionIndex(u32v(3)))
}

fn event_wrapper() -> IndexerTendermintEventWrapper {
    IndexerTendermintEventWrapper {
        event: Some(tendermint_event()),
        txn_hash: s("txn_hash"),
    }
}

fn indexer_manager() -> Vec<Fixture> {
    [
        variants(vec![("v0", event_wrapper())]),
        variants(vec![(
            "v0",
            IndexerEventsStoreValue {
                events: vec![event_wrapper(), Default::default()],
            },
        )]),
        variants(vec![
            ("v0", tendermint_event()),
            (
                "v1",
                tendermint_event_with(OrderingWithinBlock::BlockEvent(BlockEvent::EndBlock as i32)),
            ),
            (
                "zero_oneof",
                IndexerTendermintEvent {
                    ordering_within_block: Some(OrderingWithinBlock::TransactionIndex(0)),
                    ..Default::default()
                },
            ),
        ]),
        variants(vec![(
            "v0",
            IndexerTendermintBlock {
                height: u32v(1),
                time: Some(timestamp(2)),
                events: vec![tendermint_event(), Default::default()],
                tx_hashes: vec![s("tx_hashes"), s("tx_hashes#2")],
            },
        )]),
    ]
    .into_iter()
    .flatten()
    .collect()
}

// ---- events ----

fn funding_update() -> events::FundingUpdateV1 {
    events::FundingUpdateV1 {
        perpetual_id: u32v(1),
        funding_value_ppm: i32v(2),
        funding_index: bytesv(3),
    }
}

fn market_price_update() -> events::MarketPriceUpdateEventV1 {
    events::MarketPriceUpdateEventV1 {
        price_with_exponent: u64v(1),
    }
}

fn market_base() -> events::MarketBaseEventV1 {
    events::MarketBaseEventV1 {
        pair: s("pair"),
        min_price_change_ppm: u32v(2),
    }
}

fn market_create() -> events::MarketCreateEventV1 {
    events::MarketCreateEventV1 {
        base: Some(market_base()),
        exponent: sint32v(2),
    }
}

fn market_modify() -> events::MarketModifyEventV1 {
    events::MarketModifyEventV1 {
        base: Some(market_base()),
    }
}

fn market_event(event: market_event_v1::Event) -> events::MarketEventV1 {
    events::MarketEventV1 {
        market_id: u32v(1),
        event: Some(event),
    }
}

fn source_of_funds(source: source_of_funds::Source) -> events::SourceOfFunds {
    events::SourceOfFunds {
        source: Some(source),
    }
}

fn liquidation_order() -> events::LiquidationOrderV1 {
    events::LiquidationOrderV1 {
        liquidated: Some(subaccount_id()),
        clob_pair_id: u32v(2),
        perpetual_id: u32v(3),
        total_size: u64v(4),
        is_buy: true,
        subticks: u64v(6),
    }
}

fn order_fill(taker: TakerOrder) -> events::OrderFillEventV1 {
    events::OrderFillEventV1 {
        maker_order: Some(order()),
        taker_order: Some(taker),
        fill_amount: u64v(3),
        maker_fee: sint64v(5),
        taker_fee: sint64v(6),
        total_filled_maker: u64v(7),
        total_filled_taker: u64v(8),
        affiliate_rev_share: u64v(9),
        maker_builder_fee: u64v(10),
        taker_builder_fee: u64v(11),
        maker_builder_address: s("maker_builder_address"),
        taker_builder_address: s("taker_builder_address"),
        maker_order_router_fee: u64v(14),
        taker_order_router_fee: u64v(15),
        maker_order_router_address: s("maker_order_router_address"),
        taker_order_router_address: s("taker_order_router_address"),
    }
}

fn stateful_order_event(event: stateful::Event) -> events::StatefulOrderEventV1 {
    events::StatefulOrderEventV1 { event: Some(event) }
}

fn stateful_placement() -> stateful::StatefulOrderPlacementV1 {
    stateful::StatefulOrderPlacementV1 {
        order: Some(order()),
    }
}
fn stateful_removal() -> stateful::StatefulOrderRemovalV1 {
    stateful::StatefulOrderRemovalV1 {
        removed_order_id: Some(order_id()),
        reason: OrderRemovalReason::ViolatesIsolatedSubaccountConstraints as i32,
    }
}
fn conditional_placement() -> stateful::ConditionalOrderPlacementV1 {
    stateful::ConditionalOrderPlacementV1 {
        order: Some(order()),
    }
}
fn conditional_triggered() -> stateful::ConditionalOrderTriggeredV1 {
    stateful::ConditionalOrderTriggeredV1 {
        triggered_order_id: Some(order_id()),
    }
}
fn long_term_placement() -> stateful::LongTermOrderPlacementV1 {
    stateful::LongTermOrderPlacementV1 {
        order: Some(order()),
    }
}
fn long_term_replacement() -> stateful::LongTermOrderReplacementV1 {
    stateful::LongTermOrderReplacementV1 {
        old_order_id: Some(order_id()),
        order: Some(order()),
    }
}
fn twap_placement() -> stateful::TwapOrderPlacementV1 {
    stateful::TwapOrderPlacementV1 {
        order: Some(order()),
    }
}

fn perpetual_market_create_v1() -> events::PerpetualMarketCreateEventV1 {
    events::PerpetualMarketCreateEventV1 {
        id: u32v(1),
        clob_pair_id: u32v(2),
        ticker: s("ticker"),
        market_id: u32v(4),
        status: ClobPairStatus::FinalSettlement as i32,
        quantum_conversion_exponent: sint32v(6),
        atomic_resolution: sint32v(7),
        subticks_per_tick: u32v(8),
        step_base_quantums: u64v(9),
        liquidity_tier: u32v(10),
    }
}

fn perpetual_market_create_v2() -> events::PerpetualMarketCreateEventV2 {
    let v1 = perpetual_market_create_v1();
    events::PerpetualMarketCreateEventV2 {
        id: v1.id,
        clob_pair_id: v1.clob_pair_id,
        ticker: v1.ticker,
        market_id: v1.market_id,
        status: v1.status,
        quantum_conversion_exponent: v1.quantum_conversion_exponent,
        atomic_resolution: v1.atomic_resolution,
        subticks_per_tick: v1.subticks_per_tick,
        step_base_quantums: v1.step_base_quantums,
        liquidity_tier: v1.liquidity_tier,
        market_type: PerpetualMarketType::Isolated as i32,
    }
}

fn perpetual_market_create_v3() -> events::PerpetualMarketCreateEventV3 {
    let v2 = perpetual_market_create_v2();
    events::PerpetualMarketCreateEventV3 {
        id: v2.id,
        clob_pair_id: v2.clob_pair_id,
        ticker: v2.ticker,
        market_id: v2.market_id,
        status: v2.status,
        quantum_conversion_exponent: v2.quantum_conversion_exponent,
        atomic_resolution: v2.atomic_resolution,
        subticks_per_tick: v2.subticks_per_tick,
        step_base_quantums: v2.step_base_quantums,
        liquidity_tier: v2.liquidity_tier,
        market_type: v2.market_type,
        default_funding8hr_ppm: i32v(12),
    }
}

fn liquidity_tier_v1() -> events::LiquidityTierUpsertEventV1 {
    events::LiquidityTierUpsertEventV1 {
        id: u32v(1),
        name: s("name"),
        initial_margin_ppm: u32v(3),
        maintenance_fraction_ppm: u32v(4),
        base_position_notional: u64v(5),
    }
}

fn liquidity_tier_v2() -> events::LiquidityTierUpsertEventV2 {
    events::LiquidityTierUpsertEventV2 {
        id: u32v(1),
        name: s("name"),
        initial_margin_ppm: u32v(3),
        maintenance_fraction_ppm: u32v(4),
        base_position_notional: u64v(5),
        open_interest_lower_cap: u64v(6),
        open_interest_upper_cap: u64v(7),
    }
}

fn update_perpetual_v1() -> events::UpdatePerpetualEventV1 {
    events::UpdatePerpetualEventV1 {
        id: u32v(1),
        ticker: s("ticker"),
        market_id: u32v(3),
        atomic_resolution: sint32v(4),
        liquidity_tier: u32v(5),
    }
}

fn update_perpetual_v2() -> events::UpdatePerpetualEventV2 {
    events::UpdatePerpetualEventV2 {
        id: u32v(1),
        ticker: s("ticker"),
        market_id: u32v(3),
        atomic_resolution: sint32v(4),
        liquidity_tier: u32v(5),
        market_type: PerpetualMarketType::Isolated as i32,
    }
}

fn update_perpetual_v3() -> events::UpdatePerpetualEventV3 {
    events::UpdatePerpetualEventV3 {
        id: u32v(1),
        ticker: s("ticker"),
        market_id: u32v(3),
        atomic_resolution: sint32v(4),
        liquidity_tier: u32v(5),
        market_type: PerpetualMarketType::Isolated as i32,
        default_funding8hr_ppm: i32v(7),
    }
}

fn trading_reward() -> events::AddressTradingReward {
    events::AddressTradingReward {
        owner: s("owner"),
        denom_amount: bytesv(2),
    }
}

fn open_interest_update() -> events::OpenInterestUpdate {
    events::OpenInterestUpdate {
        perpetual_id: u32v(1),
        open_interest: bytesv(2),
    }
}

fn events_package() -> Vec<Fixture> {
    use market_event_v1::Event as Market;
    use source_of_funds::Source;
    use stateful::Event as Stateful;
    [
        variants(vec![("v0", funding_update())]),
        variants(vec![(
            "v0",
            events::FundingEventV1 {
                updates: vec![funding_update(), Default::default()],
                r#type: funding_event_v1::Type::PremiumVote as i32,
            },
        )]),
        variants(vec![
            (
                "v0",
                market_event(Market::PriceUpdate(market_price_update())),
            ),
            ("v1", market_event(Market::MarketCreate(market_create()))),
            ("v2", market_event(Market::MarketModify(market_modify()))),
            (
                "zero_oneof",
                events::MarketEventV1 {
                    market_id: 0,
                    event: Some(Market::PriceUpdate(Default::default())),
                },
            ),
        ]),
        variants(vec![("v0", market_price_update())]),
        variants(vec![("v0", market_base())]),
        variants(vec![("v0", market_create())]),
        variants(vec![("v0", market_modify())]),
        variants(vec![
            ("v0", source_of_funds(Source::SubaccountId(subaccount_id()))),
            ("v1", source_of_funds(Source::Address(s("address")))),
            (
                "zero_oneof",
                source_of_funds(Source::SubaccountId(Default::default())),
            ),
        ]),
        variants(vec![(
            "v0",
            events::TransferEventV1 {
                sender_subaccount_id: Some(subaccount_id()),
                recipient_subaccount_id: Some(subaccount_id()),
                asset_id: u32v(3),
                amount: u64v(4),
                sender: Some(source_of_funds(Source::SubaccountId(subaccount_id()))),
                recipient: Some(source_of_funds(Source::SubaccountId(subaccount_id()))),
            },
        )]),
        variants(vec![
            ("v0", order_fill(TakerOrder::Order(order()))),
            (
                "v1",
                order_fill(TakerOrder::LiquidationOrder(liquidation_order())),
            ),
            (
                "zero_oneof",
                events::OrderFillEventV1 {
                    taker_order: Some(TakerOrder::Order(Default::default())),
                    ..Default::default()
                },
            ),
        ]),
        variants(vec![(
            "v0",
            events::DeleveragingEventV1 {
                liquidated: Some(subaccount_id()),
                offsetting: Some(subaccount_id()),
                perpetual_id: u32v(3),
                fill_amount: u64v(4),
                total_quote_quantums: u64v(5),
                is_buy: true,
                is_final_settlement: true,
            },
        )]),
        variants(vec![("v0", liquidation_order())]),
        variants(vec![(
            "v0",
            events::SubaccountUpdateEventV1 {
                subaccount_id: Some(subaccount_id()),
                updated_perpetual_positions: vec![perpetual_position(), Default::default()],
                updated_asset_positions: vec![asset_position(), Default::default()],
            },
        )]),
        variants(vec![
            (
                "v0",
                stateful_order_event(Stateful::OrderPlace(stateful_placement())),
            ),
            (
                "v1",
                stateful_order_event(Stateful::OrderRemoval(stateful_removal())),
            ),
            (
                "v2",
                stateful_order_event(Stateful::ConditionalOrderPlacement(conditional_placement())),
            ),
            (
                "v3",
                stateful_order_event(Stateful::ConditionalOrderTriggered(conditional_triggered())),
            ),
            (
                "v4",
                stateful_order_event(Stateful::LongTermOrderPlacement(long_term_placement())),
            ),
            (
                "v5",
                stateful_order_event(Stateful::OrderReplacement(long_term_replacement())),
            ),
            (
                "v6",
                stateful_order_event(Stateful::TwapOrderPlacement(twap_placement())),
            ),
            (
                "zero_oneof",
                stateful_order_event(Stateful::OrderPlace(Default::default())),
            ),
        ]),
        variants(vec![("v0", stateful_placement())]),
        variants(vec![("v0", stateful_removal())]),
        variants(vec![("v0", conditional_placement())]),
        variants(vec![("v0", conditional_triggered())]),
        variants(vec![("v0", long_term_placement())]),
        variants(vec![("v0", long_term_replacement())]),
        variants(vec![("v0", twap_placement())]),
        variants(vec![(
            "v0",
            events::AssetCreateEventV1 {
                id: u32v(1),
                symbol: s("symbol"),
                has_market: true,
                market_id: u32v(4),
                atomic_resolution: sint32v(5),
            },
        )]),
        variants(vec![("v0", perpetual_market_create_v1())]),
        variants(vec![("v0", perpetual_market_create_v2())]),
        variants(vec![("v0", perpetual_market_create_v3())]),
        variants(vec![("v0", liquidity_tier_v1())]),
        variants(vec![(
            "v0",
            events::UpdateClobPairEventV1 {
                clob_pair_id: u32v(1),
                status: ClobPairStatus::FinalSettlement as i32,
                quantum_conversion_exponent: sint32v(3),
                subticks_per_tick: u32v(4),
                step_base_quantums: u64v(5),
            },
        )]),
        variants(vec![("v0", update_perpetual_v1())]),
        variants(vec![("v0", update_perpetual_v2())]),
        variants(vec![("v0", update_perpetual_v3())]),
        variants(vec![(
            "v0",
            events::TradingRewardsEventV1 {
                trading_rewards: vec![trading_reward(), Default::default()],
            },
        )]),
        variants(vec![("v0", trading_reward())]),
        variants(vec![(
            "v0",
            events::OpenInterestUpdateEventV1 {
                open_interest_updates: vec![open_interest_update(), Default::default()],
            },
        )]),
        variants(vec![("v0", open_interest_update())]),
        variants(vec![("v0", liquidity_tier_v2())]),
        variants(vec![(
            "v0",
            events::RegisterAffiliateEventV1 {
                referee: s("referee"),
                affiliate: s("affiliate"),
            },
        )]),
        variants(vec![(
            "v0",
            events::UpsertVaultEventV1 {
                address: s("address"),
                clob_pair_id: u32v(2),
                status: VaultStatus::CloseOnly as i32,
            },
        )]),
    ]
    .into_iter()
    .flatten()
    .collect()
}

// ---- off_chain_updates ----

fn order_place() -> OrderPlaceV1 {
    OrderPlaceV1 {
        order: Some(order()),
        placement_status: OrderPlacementStatus::Opened as i32,
        time_stamp: Some(timestamp(3)),
    }
}

fn order_remove() -> OrderRemoveV1 {
    OrderRemoveV1 {
        removed_order_id: Some(order_id()),
        reason: OrderRemovalReason::ViolatesIsolatedSubaccountConstraints as i32,
        removal_status: OrderRemovalStatus::Filled as i32,
        time_stamp: Some(timestamp(4)),
    }
}

fn order_update() -> OrderUpdateV1 {
    OrderUpdateV1 {
        order_id: Some(order_id()),
        total_filled_quantums: u64v(2),
    }
}

fn order_replace() -> OrderReplaceV1 {
    OrderReplaceV1 {
        old_order_id: Some(order_id()),
        order: Some(order()),
        placement_status: OrderPlacementStatus::Opened as i32,
        time_stamp: Some(timestamp(4)),
    }
}

fn off_chain_update(message: UpdateMessage) -> OffChainUpdateV1 {
    OffChainUpdateV1 {
        update_message: Some(message),
    }
}

fn off_chain_updates() -> Vec<Fixture> {
    [
        variants(vec![("v0", order_place())]),
        variants(vec![("v0", order_remove())]),
        variants(vec![("v0", order_update())]),
        variants(vec![("v0", order_replace())]),
        variants(vec![
            (
                "v0",
                off_chain_update(UpdateMessage::OrderPlace(order_place())),
            ),
            (
                "v1",
                off_chain_update(UpdateMessage::OrderRemove(order_remove())),
            ),
            (
                "v2",
                off_chain_update(UpdateMessage::OrderUpdate(order_update())),
            ),
            (
                "v3",
                off_chain_update(UpdateMessage::OrderReplace(order_replace())),
            ),
            (
                "zero_oneof",
                off_chain_update(UpdateMessage::OrderPlace(Default::default())),
            ),
        ]),
    ]
    .into_iter()
    .flatten()
    .collect()
}

// ---- redis and socks ----

fn redis_and_socks() -> Vec<Fixture> {
    let mut fixtures = variants(vec![(
        "v0",
        RedisOrder {
            id: s("id"),
            order: Some(order()),
            ticker: s("ticker"),
            ticker_type: TickerType::Spot as i32,
            price: s("price"),
            size: s("size"),
        },
    )]);
    fixtures.extend(variants(vec![(
        "v0",
        OrderbookMessage {
            contents: s("contents"),
            clob_pair_id: s("clob_pair_id"),
            version: s("version"),
        },
    )]));
    fixtures.extend(variants(vec![(
        "v0",
        SubaccountMessage {
            block_height: s("block_height"),
            transaction_index: i32v(2),
            event_index: u32v(3),
            contents: s("contents"),
            subaccount_id: Some(subaccount_id()),
            version: s("version"),
        },
    )]));
    fixtures.extend(variants(vec![(
        "v0",
        TradeMessage {
            block_height: s("block_height"),
            contents: s("contents"),
            clob_pair_id: s("clob_pair_id"),
            version: s("version"),
        },
    )]));
    fixtures.extend(variants(vec![(
        "v0",
        MarketMessage {
            contents: s("contents"),
            version: s("version"),
        },
    )]));
    fixtures.extend(variants(vec![(
        "v0",
        CandleMessage {
            contents: s("contents"),
            clob_pair_id: s("clob_pair_id"),
            resolution: Resolution::OneDay as i32,
            version: s("version"),
        },
    )]));
    fixtures.extend(variants(vec![(
        "v0",
        BlockHeightMessage {
            block_height: s("block_height"),
            time: s("time"),
            version: s("version"),
        },
    )]));
    fixtures
}

/// Every fixture of every message type.
pub fn all() -> Vec<Fixture> {
    [
        indexer_manager(),
        protocol_v1(),
        events_package(),
        off_chain_updates(),
        redis_and_socks(),
    ]
    .into_iter()
    .flatten()
    .collect()
}
