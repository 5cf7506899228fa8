//! `IndexerTendermintBlock` → [`DecodedBlock`] (ingest.md §3.2, §3.9, §4.2 step 7).
//!
//! Each event gets its id and signed transaction index and its payload decoded with the message
//! type selected by (subtype, version). Events ender does not process (unknown subtype, a version
//! or position the reference does not accept) become [`Payload::Ignored`] with the reason, and are
//! still recorded as `tendermint_events` rows (quirk Q8). A payload that does not decode fails the
//! whole block.

use chrono::{DateTime, Utc};
use indexer_domain::{EventId, EventPlacement};
use indexer_proto::events as ev;
use indexer_proto::indexer_manager::indexer_tendermint_event::OrderingWithinBlock;
use indexer_proto::indexer_manager::{IndexerTendermintBlock, IndexerTendermintEvent};
use prost::Message;

use crate::error::BlockError;

/// A block ready for processing.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedBlock {
    pub height: u32,
    /// Block time truncated to milliseconds.
    pub time: DateTime<Utc>,
    pub tx_hashes: Vec<String>,
    pub events: Vec<DecodedEvent>,
}

/// One event of a block.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedEvent {
    pub placement: EventPlacement,
    pub event_index: u32,
    pub id: EventId,
    pub subtype: String,
    pub version: u32,
    pub payload: Payload,
}

impl DecodedEvent {
    /// Signed transaction index: the index, −1 for END_BLOCK, −2 for BEGIN_BLOCK.
    pub fn transaction_index(&self) -> i32 {
        self.placement.signed_transaction_index()
    }

    /// Short description for logs and errors: `order_fill v1 at 2/1/2`.
    pub fn describe(&self) -> String {
        format!(
            "{} v{} at {}/{}/{}",
            self.subtype,
            self.version,
            self.id.block_height(),
            self.transaction_index(),
            self.event_index
        )
    }
}

impl std::fmt::Display for DecodedEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// `perpetual_market` v1–v3 in one shape; fields a version lacks are `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct PerpetualMarketCreate {
    pub version: u32,
    pub id: u32,
    pub clob_pair_id: u32,
    pub ticker: String,
    pub market_id: u32,
    pub status: i32,
    pub quantum_conversion_exponent: i32,
    pub atomic_resolution: i32,
    pub subticks_per_tick: u32,
    pub step_base_quantums: u64,
    pub liquidity_tier: u32,
    pub market_type: Option<i32>,
    pub default_funding8hr_ppm: Option<i32>,
}

/// `update_perpetual` v1–v3 in one shape.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdatePerpetual {
    pub version: u32,
    pub id: u32,
    pub ticker: String,
    pub market_id: u32,
    pub atomic_resolution: i32,
    pub liquidity_tier: u32,
    pub market_type: Option<i32>,
    pub default_funding8hr_ppm: Option<i32>,
}

/// `liquidity_tier` v1/v2 in one shape; the caps exist only in v2.
#[derive(Debug, Clone, PartialEq)]
pub struct LiquidityTierUpsert {
    pub id: u32,
    pub name: String,
    pub initial_margin_ppm: u32,
    pub maintenance_fraction_ppm: u32,
    pub open_interest_caps: Option<(u64, u64)>,
}

/// Why an event gets no processing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IgnoreReason {
    UnknownSubtype,
    UnsupportedVersion,
    NotAcceptedInPosition,
}

impl IgnoreReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            IgnoreReason::UnknownSubtype => "unknown_subtype",
            IgnoreReason::UnsupportedVersion => "unsupported_version",
            IgnoreReason::NotAcceptedInPosition => "not_accepted_in_position",
        }
    }
}

/// A decoded event payload. Payloads live for one block, so the size spread between variants
/// costs nothing worth an allocation per event.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    OrderFill(ev::OrderFillEventV1),
    SubaccountUpdate(ev::SubaccountUpdateEventV1),
    Transfer(ev::TransferEventV1),
    Market(ev::MarketEventV1),
    FundingValues(ev::FundingEventV1),
    StatefulOrder(ev::StatefulOrderEventV1),
    Asset(ev::AssetCreateEventV1),
    PerpetualMarket(PerpetualMarketCreate),
    LiquidityTier(LiquidityTierUpsert),
    UpdatePerpetual(UpdatePerpetual),
    UpdateClobPair(ev::UpdateClobPairEventV1),
    Deleveraging(ev::DeleveragingEventV1),
    TradingReward(ev::TradingRewardsEventV1),
    RegisterAffiliate(ev::RegisterAffiliateEventV1),
    UpsertVault(ev::UpsertVaultEventV1),
    Ignored(IgnoreReason),
}

impl Payload {
    /// The handler that applies this payload: the event subtype, as a bounded metric label.
    pub fn handler(&self) -> &'static str {
        match self {
            Payload::OrderFill(_) => "order_fill",
            Payload::SubaccountUpdate(_) => "subaccount_update",
            Payload::Transfer(_) => "transfer",
            Payload::Market(_) => "market",
            Payload::FundingValues(_) => "funding_values",
            Payload::StatefulOrder(_) => "stateful_order",
            Payload::Asset(_) => "asset",
            Payload::PerpetualMarket(_) => "perpetual_market",
            Payload::LiquidityTier(_) => "liquidity_tier",
            Payload::UpdatePerpetual(_) => "update_perpetual",
            Payload::UpdateClobPair(_) => "update_clob_pair",
            Payload::Deleveraging(_) => "deleveraging",
            Payload::TradingReward(_) => "trading_reward",
            Payload::RegisterAffiliate(_) => "register_affiliate",
            Payload::UpsertVault(_) => "upsert_vault",
            Payload::Ignored(_) => "ignored",
        }
    }

    /// Events applied in the second pass of a non-genesis block (and first in genesis): markets,
    /// assets, perpetual markets, liquidity tiers, perpetual and clob pair updates, funding, vaults.
    pub fn is_ordered(&self) -> bool {
        matches!(
            self,
            Payload::Market(_)
                | Payload::Asset(_)
                | Payload::PerpetualMarket(_)
                | Payload::LiquidityTier(_)
                | Payload::UpdatePerpetual(_)
                | Payload::UpdateClobPair(_)
                | Payload::FundingValues(_)
                | Payload::UpsertVault(_)
        )
    }
}

/// Decodes a `to-ender` message value.
pub fn decode_message(bytes: &[u8]) -> Result<DecodedBlock, BlockError> {
    let block = IndexerTendermintBlock::decode(bytes)
        .map_err(|e| BlockError::Decode(format!("not an IndexerTendermintBlock: {e}")))?;
    decode_block(&block)
}

/// Decodes every event of `block`.
pub fn decode_block(block: &IndexerTendermintBlock) -> Result<DecodedBlock, BlockError> {
    let time = block
        .time
        .as_ref()
        .ok_or_else(|| BlockError::Decode(format!("block {} has no time", block.height)))?;
    let time = indexer_domain::time::from_timestamp(time)?;
    let events = block
        .events
        .iter()
        .map(|event| decode_event(block.height, block.tx_hashes.len(), event))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(DecodedBlock {
        height: block.height,
        time,
        tx_hashes: block.tx_hashes.clone(),
        events,
    })
}

fn decode_event(
    height: u32,
    tx_count: usize,
    event: &IndexerTendermintEvent,
) -> Result<DecodedEvent, BlockError> {
    let (transaction_index, block_event) = match event.ordering_within_block {
        Some(OrderingWithinBlock::TransactionIndex(index)) => (Some(index), None),
        Some(OrderingWithinBlock::BlockEvent(kind)) => (None, Some(kind)),
        None => (None, None),
    };
    let placement = EventPlacement::from_proto(transaction_index, block_event)?;
    if let EventPlacement::Transaction(index) = placement {
        if index as usize >= tx_count {
            return Err(BlockError::Decode(format!(
                "event {} of block {height} refers to transaction {index} of {tx_count}",
                event.event_index
            )));
        }
    }
    let version = if event.version == 0 { 1 } else { event.version };
    let id = EventId::from_placement(height, placement, event.event_index);
    let in_transaction = matches!(placement, EventPlacement::Transaction(_));
    let payload = decode_payload(&event.subtype, version, in_transaction, &event.data_bytes)
        .map_err(|e| {
            BlockError::Decode(format!(
                "{} v{version} payload of event {} does not decode: {e}",
                event.subtype,
                id.to_hex()
            ))
        })?;
    Ok(DecodedEvent {
        placement,
        event_index: event.event_index,
        id,
        subtype: event.subtype.clone(),
        version,
        payload,
    })
}

/// Where a subtype is accepted (ingest.md §3.9): (as transaction event, as block event).
fn accepted_positions(subtype: &str) -> Option<(bool, bool)> {
    Some(match subtype {
        "order_fill" | "subaccount_update" | "transfer" | "market" | "asset"
        | "perpetual_market" | "liquidity_tier" | "update_perpetual" | "update_clob_pair"
        | "deleveraging" | "register_affiliate" => (true, false),
        "funding_values" | "trading_reward" => (false, true),
        "stateful_order" | "upsert_vault" => (true, true),
        _ => return None,
    })
}

fn decode_payload(
    subtype: &str,
    version: u32,
    in_transaction: bool,
    data: &[u8],
) -> Result<Payload, prost::DecodeError> {
    let Some((as_tx, as_block)) = accepted_positions(subtype) else {
        return Ok(Payload::Ignored(IgnoreReason::UnknownSubtype));
    };
    if (in_transaction && !as_tx) || (!in_transaction && !as_block) {
        return Ok(Payload::Ignored(IgnoreReason::NotAcceptedInPosition));
    }
    let multi_version = matches!(
        subtype,
        "perpetual_market" | "update_perpetual" | "liquidity_tier"
    );
    if !multi_version && version != 1 {
        return Ok(Payload::Ignored(IgnoreReason::UnsupportedVersion));
    }
    Ok(match subtype {
        "order_fill" => Payload::OrderFill(Message::decode(data)?),
        "subaccount_update" => Payload::SubaccountUpdate(Message::decode(data)?),
        "transfer" => Payload::Transfer(Message::decode(data)?),
        "market" => Payload::Market(Message::decode(data)?),
        "funding_values" => Payload::FundingValues(Message::decode(data)?),
        "stateful_order" => Payload::StatefulOrder(Message::decode(data)?),
        "asset" => Payload::Asset(Message::decode(data)?),
        "update_clob_pair" => Payload::UpdateClobPair(Message::decode(data)?),
        "deleveraging" => Payload::Deleveraging(Message::decode(data)?),
        "trading_reward" => Payload::TradingReward(Message::decode(data)?),
        "register_affiliate" => Payload::RegisterAffiliate(Message::decode(data)?),
        "upsert_vault" => Payload::UpsertVault(Message::decode(data)?),
        "perpetual_market" => match decode_perpetual_market(version, data)? {
            Some(create) => Payload::PerpetualMarket(create),
            None => Payload::Ignored(IgnoreReason::UnsupportedVersion),
        },
        "update_perpetual" => match decode_update_perpetual(version, data)? {
            Some(update) => Payload::UpdatePerpetual(update),
            None => Payload::Ignored(IgnoreReason::UnsupportedVersion),
        },
        "liquidity_tier" => Payload::LiquidityTier(decode_liquidity_tier(version, data)?),
        _ => Payload::Ignored(IgnoreReason::UnknownSubtype),
    })
}

/// Builds a [`PerpetualMarketCreate`] from any version of the event: the versions share every
/// field but the last two, which only later versions carry.
macro_rules! perpetual_market_create {
    ($e:ident, $version:expr, $market_type:expr, $default_funding8hr_ppm:expr) => {
        PerpetualMarketCreate {
            version: $version,
            id: $e.id,
            clob_pair_id: $e.clob_pair_id,
            ticker: $e.ticker,
            market_id: $e.market_id,
            status: $e.status,
            quantum_conversion_exponent: $e.quantum_conversion_exponent,
            atomic_resolution: $e.atomic_resolution,
            subticks_per_tick: $e.subticks_per_tick,
            step_base_quantums: $e.step_base_quantums,
            liquidity_tier: $e.liquidity_tier,
            market_type: $market_type,
            default_funding8hr_ppm: $default_funding8hr_ppm,
        }
    };
}

fn decode_perpetual_market(
    version: u32,
    data: &[u8],
) -> Result<Option<PerpetualMarketCreate>, prost::DecodeError> {
    Ok(Some(match version {
        1 => {
            let e = ev::PerpetualMarketCreateEventV1::decode(data)?;
            perpetual_market_create!(e, version, None, None)
        }
        2 => {
            let e = ev::PerpetualMarketCreateEventV2::decode(data)?;
            perpetual_market_create!(e, version, Some(e.market_type), None)
        }
        3 => {
            let e = ev::PerpetualMarketCreateEventV3::decode(data)?;
            let funding = Some(e.default_funding8hr_ppm);
            perpetual_market_create!(e, version, Some(e.market_type), funding)
        }
        _ => return Ok(None),
    }))
}

fn decode_update_perpetual(
    version: u32,
    data: &[u8],
) -> Result<Option<UpdatePerpetual>, prost::DecodeError> {
    Ok(Some(match version {
        1 => {
            let e = ev::UpdatePerpetualEventV1::decode(data)?;
            UpdatePerpetual {
                version,
                id: e.id,
                ticker: e.ticker,
                market_id: e.market_id,
                atomic_resolution: e.atomic_resolution,
                liquidity_tier: e.liquidity_tier,
                market_type: None,
                default_funding8hr_ppm: None,
            }
        }
        2 => {
            let e = ev::UpdatePerpetualEventV2::decode(data)?;
            UpdatePerpetual {
                version,
                id: e.id,
                ticker: e.ticker,
                market_id: e.market_id,
                atomic_resolution: e.atomic_resolution,
                liquidity_tier: e.liquidity_tier,
                market_type: Some(e.market_type),
                default_funding8hr_ppm: None,
            }
        }
        3 => {
            let e = ev::UpdatePerpetualEventV3::decode(data)?;
            UpdatePerpetual {
                version,
                id: e.id,
                ticker: e.ticker,
                market_id: e.market_id,
                atomic_resolution: e.atomic_resolution,
                liquidity_tier: e.liquidity_tier,
                market_type: Some(e.market_type),
                default_funding8hr_ppm: Some(e.default_funding8hr_ppm),
            }
        }
        _ => return Ok(None),
    }))
}

/// Version 1 decodes as V1 (no caps); any other version decodes as V2 (reference behaviour).
fn decode_liquidity_tier(
    version: u32,
    data: &[u8],
) -> Result<LiquidityTierUpsert, prost::DecodeError> {
    if version == 1 {
        let e = ev::LiquidityTierUpsertEventV1::decode(data)?;
        return Ok(LiquidityTierUpsert {
            id: e.id,
            name: e.name,
            initial_margin_ppm: e.initial_margin_ppm,
            maintenance_fraction_ppm: e.maintenance_fraction_ppm,
            open_interest_caps: None,
        });
    }
    let e = ev::LiquidityTierUpsertEventV2::decode(data)?;
    Ok(LiquidityTierUpsert {
        id: e.id,
        name: e.name,
        initial_margin_ppm: e.initial_margin_ppm,
        maintenance_fraction_ppm: e.maintenance_fraction_ppm,
        open_interest_caps: Some((e.open_interest_lower_cap, e.open_interest_upper_cap)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexer_proto::indexer_manager::indexer_tendermint_event::BlockEvent;

    fn event(
        subtype: &str,
        ordering: OrderingWithinBlock,
        version: u32,
        data: Vec<u8>,
    ) -> IndexerTendermintEvent {
        IndexerTendermintEvent {
            subtype: subtype.into(),
            ordering_within_block: Some(ordering),
            event_index: 0,
            version,
            data_bytes: data,
        }
    }

    fn block(events: Vec<IndexerTendermintEvent>) -> IndexerTendermintBlock {
        IndexerTendermintBlock {
            height: 1000,
            time: Some(prost_types::Timestamp {
                seconds: 1_704_067_201,
                nanos: 500_999_999,
            }),
            events,
            tx_hashes: vec!["A".into(), "B".into(), "C".into()],
        }
    }

    #[test]
    fn event_ids_and_time_follow_the_spec() {
        let vault = ev::UpsertVaultEventV1 {
            address: "x".into(),
            clob_pair_id: 1,
            status: 3,
        };
        let mut tx = event(
            "upsert_vault",
            OrderingWithinBlock::TransactionIndex(2),
            0,
            vault.encode_to_vec(),
        );
        tx.event_index = 3;
        let end = event(
            "upsert_vault",
            OrderingWithinBlock::BlockEvent(BlockEvent::EndBlock as i32),
            1,
            vault.encode_to_vec(),
        );
        let decoded = decode_block(&block(vec![tx, end])).unwrap();
        assert_eq!(decoded.events[0].id.to_hex(), "000003e80000000400000003");
        assert_eq!(decoded.events[0].version, 1, "version 0 is treated as 1");
        assert_eq!(decoded.events[1].id.to_hex(), "000003e80000000100000000");
        assert_eq!(decoded.events[1].transaction_index(), -1);
        assert_eq!(
            indexer_domain::time::to_iso(&decoded.time),
            "2024-01-01T00:00:01.500Z"
        );
        assert!(matches!(decoded.events[0].payload, Payload::UpsertVault(_)));
    }

    #[test]
    fn unknown_and_misplaced_events_are_ignored_not_fatal() {
        let decoded = decode_block(&block(vec![
            event(
                "open_interest_update",
                OrderingWithinBlock::TransactionIndex(0),
                1,
                vec![],
            ),
            event(
                "order_fill",
                OrderingWithinBlock::BlockEvent(BlockEvent::EndBlock as i32),
                1,
                vec![],
            ),
            event(
                "transfer",
                OrderingWithinBlock::TransactionIndex(0),
                2,
                vec![],
            ),
            event(
                "perpetual_market",
                OrderingWithinBlock::TransactionIndex(0),
                4,
                vec![],
            ),
        ]))
        .unwrap();
        let reasons: Vec<_> = decoded
            .events
            .iter()
            .map(|e| match &e.payload {
                Payload::Ignored(reason) => reason.clone(),
                other => panic!("expected ignored, got {other:?}"),
            })
            .collect();
        assert_eq!(
            reasons,
            [
                IgnoreReason::UnknownSubtype,
                IgnoreReason::NotAcceptedInPosition,
                IgnoreReason::UnsupportedVersion,
                IgnoreReason::UnsupportedVersion
            ]
        );
    }

    #[test]
    fn garbage_payload_and_missing_time_fail_the_block() {
        let bad = event(
            "transfer",
            OrderingWithinBlock::TransactionIndex(0),
            1,
            vec![0xff, 0xff, 0xff],
        );
        assert!(matches!(
            decode_block(&block(vec![bad])),
            Err(BlockError::Decode(_))
        ));
        let mut timeless = block(vec![]);
        timeless.time = None;
        assert!(matches!(
            decode_block(&timeless),
            Err(BlockError::Decode(_))
        ));
        assert!(matches!(
            decode_message(&[0xff, 0x01]),
            Err(BlockError::Decode(_))
        ));
    }

    #[test]
    fn transaction_index_beyond_tx_hashes_fails() {
        let vault = ev::UpsertVaultEventV1 {
            address: "x".into(),
            clob_pair_id: 1,
            status: 3,
        };
        let e = event(
            "upsert_vault",
            OrderingWithinBlock::TransactionIndex(3),
            1,
            vault.encode_to_vec(),
        );
        assert!(matches!(
            decode_block(&block(vec![e])),
            Err(BlockError::Decode(_))
        ));
    }

    #[test]
    fn liquidity_tier_v1_has_no_caps_and_other_versions_decode_as_v2() {
        let v2 = ev::LiquidityTierUpsertEventV2 {
            id: 1,
            name: "Mid".into(),
            initial_margin_ppm: 100_000,
            maintenance_fraction_ppm: 500_000,
            base_position_notional: 0,
            open_interest_lower_cap: 5,
            open_interest_upper_cap: 10,
        };
        let decoded = decode_liquidity_tier(7, &v2.encode_to_vec()).unwrap();
        assert_eq!(decoded.open_interest_caps, Some((5, 10)));
        let v1 = decode_liquidity_tier(1, &v2.encode_to_vec()).unwrap();
        assert_eq!(v1.open_interest_caps, None);
    }
}
