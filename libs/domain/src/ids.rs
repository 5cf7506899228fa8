//! Deterministic identifiers (ingest.md §4.6). Every row id is a UUIDv5 in the indexer namespace
//! over a name string built from the row's natural key, so replaying a block produces the same ids
//! and a double application fails on the primary key. Event ids are the 12-byte
//! (height, transaction index + 2, event index) key of `tendermint_events`, also used inside
//! several names. Each function here builds exactly one template of the §4.6 table.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::candles::CandleResolution;
use crate::enums::{order_flags, Liquidity, TradingRewardAggregationPeriod};
use crate::error::{Error, Result};
use crate::time::to_iso;

/// Namespace of every indexer UUID.
pub const NAMESPACE: Uuid = Uuid::from_u128(0x0f9da948_a6fb_4c45_9edc_4685c3f3317d);

/// Text used for an absent part of a transfer name (the reference interpolates JavaScript
/// `undefined`).
const ABSENT: &str = "undefined";

/// UUIDv5 of an arbitrary name in the indexer namespace.
pub fn uuid_from_name(name: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, name.as_bytes())
}

/// `subaccounts.id`: `<owner>-<number>`.
pub fn subaccount_uuid(owner: &str, number: u32) -> Uuid {
    uuid_from_name(&format!("{owner}-{number}"))
}

/// Order id as used in Redis and by vulcan: `<subaccountUuid>-<clientId>-<clobPairId>-<orderFlags>`
/// with the flags as given (TWAP suborders keep 256 here).
pub fn order_uuid(subaccount: Uuid, client_id: u32, clob_pair_id: u32, order_flags: u32) -> Uuid {
    uuid_from_name(&format!(
        "{subaccount}-{client_id}-{clob_pair_id}-{order_flags}"
    ))
}

/// Flags used for the Postgres order row: a TWAP suborder (256) is recorded on its parent (128).
pub const fn db_order_flags(order_flags: u32) -> u32 {
    if order_flags == order_flags::TWAP_SUBORDER {
        order_flags::TWAP
    } else {
        order_flags
    }
}

/// Order id as ender's database step uses it: [`order_uuid`] after [`db_order_flags`], so a
/// suborder maps to its TWAP parent's row.
pub fn db_order_uuid(
    subaccount: Uuid,
    client_id: u32,
    clob_pair_id: u32,
    order_flags: u32,
) -> Uuid {
    order_uuid(
        subaccount,
        client_id,
        clob_pair_id,
        db_order_flags(order_flags),
    )
}

/// `transactions.id`: `<blockHeight>-<transactionIndex>`.
pub fn transaction_uuid(block_height: u32, transaction_index: u32) -> Uuid {
    uuid_from_name(&format!("{block_height}-{transaction_index}"))
}

/// `fills.id`: `<eventIdHex>-<liquidity>`.
pub fn fill_uuid(event_id: &EventId, liquidity: Liquidity) -> Uuid {
    uuid_from_name(&format!("{event_id}-{liquidity}"))
}

/// `perpetual_positions.id`: `<subaccountUuid>-<openEventIdHex>`.
pub fn perpetual_position_uuid(subaccount: Uuid, open_event_id: &EventId) -> Uuid {
    uuid_from_name(&format!("{subaccount}-{open_event_id}"))
}

/// `asset_positions.id`: `<subaccountUuid>-<assetId>`.
pub fn asset_position_uuid(subaccount: Uuid, asset_id: u32) -> Uuid {
    uuid_from_name(&format!("{subaccount}-{asset_id}"))
}

/// The two parties of a transfer; exactly one of subaccount / wallet is set per side in valid
/// events (a deposit comes from a wallet, a withdrawal goes to one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransferParties<'a> {
    pub sender_subaccount: Option<Uuid>,
    pub recipient_subaccount: Option<Uuid>,
    pub sender_wallet: Option<&'a str>,
    pub recipient_wallet: Option<&'a str>,
}

/// `transfers.id`: `<senderSubaccountUuid>-<recipientSubaccountUuid>-<senderWalletAddress>-
/// <recipientWalletAddress>-<eventIdHex>-<assetId>`, absent parts spelled `undefined`.
pub fn transfer_uuid(parties: &TransferParties<'_>, event_id: &EventId, asset_id: u32) -> Uuid {
    let uuid_or_absent =
        |id: Option<Uuid>| id.map_or_else(|| ABSENT.to_owned(), |id| id.to_string());
    let sender_subaccount = uuid_or_absent(parties.sender_subaccount);
    let recipient_subaccount = uuid_or_absent(parties.recipient_subaccount);
    let sender_wallet = parties.sender_wallet.unwrap_or(ABSENT);
    let recipient_wallet = parties.recipient_wallet.unwrap_or(ABSENT);
    uuid_from_name(&format!(
        "{sender_subaccount}-{recipient_subaccount}-{sender_wallet}-{recipient_wallet}-{event_id}-{asset_id}"
    ))
}

/// `oracle_prices.id`: `<marketId>-<blockHeight>`.
pub fn oracle_price_uuid(market_id: u32, block_height: u32) -> Uuid {
    uuid_from_name(&format!("{market_id}-{block_height}"))
}

/// `funding_index_updates.id`: `<blockHeight>-<eventIdHex>-<perpetualId>`.
pub fn funding_index_update_uuid(block_height: u32, event_id: &EventId, perpetual_id: u32) -> Uuid {
    uuid_from_name(&format!("{block_height}-{event_id}-{perpetual_id}"))
}

/// `trading_rewards.id`: `<address>-<blockHeight>`.
pub fn trading_reward_uuid(address: &str, block_height: u32) -> Uuid {
    uuid_from_name(&format!("{address}-{block_height}"))
}

/// `candles.id`: `<startedAtIso>-<ticker>-<resolution>`.
pub fn candle_uuid(started_at: &DateTime<Utc>, ticker: &str, resolution: CandleResolution) -> Uuid {
    uuid_from_name(&format!("{}-{ticker}-{resolution}", to_iso(started_at)))
}

/// `pnl_ticks.id` (roundtable): `<subaccountUuid>-<createdAtIso>`.
pub fn pnl_tick_uuid(subaccount: Uuid, created_at: &DateTime<Utc>) -> Uuid {
    uuid_from_name(&format!("{subaccount}-{}", to_iso(created_at)))
}

/// `trading_reward_aggregations.id` (roundtable): `<address>-<period>-<startedAtHeight>`.
pub fn trading_reward_aggregation_uuid(
    address: &str,
    period: TradingRewardAggregationPeriod,
    started_at_height: u32,
) -> Uuid {
    uuid_from_name(&format!("{address}-{period}-{started_at_height}"))
}

/// Where an event sits in its block: inside a transaction, or in the BEGIN_BLOCK / END_BLOCK
/// groups (`IndexerTendermintEvent.ordering_within_block`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventPlacement {
    Transaction(u32),
    BeginBlock,
    EndBlock,
}

impl EventPlacement {
    /// From the proto oneof: `transaction_index` if set, else `block_event` (1 BEGIN_BLOCK,
    /// 2 END_BLOCK). An unspecified block event or a missing oneof is an error.
    pub fn from_proto(transaction_index: Option<u32>, block_event: Option<i32>) -> Result<Self> {
        match (transaction_index, block_event) {
            (Some(index), _) => Ok(EventPlacement::Transaction(index)),
            (None, Some(1)) => Ok(EventPlacement::BeginBlock),
            (None, Some(2)) => Ok(EventPlacement::EndBlock),
            (None, Some(other)) => Err(Error::InvalidProtoValue {
                type_name: "BlockEvent",
                value: i64::from(other),
            }),
            (None, None) => Err(Error::UnplacedEvent),
        }
    }

    /// The signed transaction index ender uses everywhere: the index itself, −2 for BEGIN_BLOCK,
    /// −1 for END_BLOCK (so block events sort before transaction 0).
    pub const fn signed_transaction_index(self) -> i32 {
        match self {
            EventPlacement::Transaction(index) => index as i32,
            EventPlacement::BeginBlock => -2,
            EventPlacement::EndBlock => -1,
        }
    }
}

/// `tendermint_events.id`: big-endian i32 height ‖ i32 (signed transaction index + 2) ‖ i32 event
/// index. Displays as 24 lower-case hex digits. Byte order equals block order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId([u8; 12]);

impl EventId {
    /// From a block height, signed transaction index (−2 / −1 for block events) and event index.
    pub fn new(block_height: u32, signed_transaction_index: i32, event_index: u32) -> Self {
        let mut bytes = [0u8; 12];
        bytes[0..4].copy_from_slice(&block_height.to_be_bytes());
        bytes[4..8].copy_from_slice(&(signed_transaction_index + 2).to_be_bytes());
        bytes[8..12].copy_from_slice(&event_index.to_be_bytes());
        EventId(bytes)
    }

    /// From the event's placement in the block.
    pub fn from_placement(block_height: u32, placement: EventPlacement, event_index: u32) -> Self {
        Self::new(
            block_height,
            placement.signed_transaction_index(),
            event_index,
        )
    }

    /// From the stored 12 bytes (`bytea`).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        <[u8; 12]>::try_from(bytes)
            .map(EventId)
            .map_err(|_| Error::InvalidEventId(hex::encode(bytes)))
    }

    /// Parses the 24-digit hex form.
    pub fn from_hex(text: &str) -> Result<Self> {
        let invalid = || Error::InvalidEventId(text.to_owned());
        let bytes = hex::decode(text).map_err(|_| invalid())?;
        Self::from_bytes(&bytes).map_err(|_| invalid())
    }

    /// The 12 bytes as stored.
    pub const fn as_bytes(&self) -> &[u8; 12] {
        &self.0
    }

    /// Lower-case hex, e.g. `000003e80000000400000003`.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn block_height(&self) -> u32 {
        u32::from_be_bytes(self.word(0))
    }

    pub fn signed_transaction_index(&self) -> i32 {
        i32::from_be_bytes(self.word(4)) - 2
    }

    pub fn event_index(&self) -> u32 {
        u32::from_be_bytes(self.word(8))
    }

    fn word(&self, start: usize) -> [u8; 4] {
        self.0[start..start + 4]
            .try_into()
            .expect("four bytes of a twelve-byte id")
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(&self.to_hex())
    }
}

impl serde::Serialize for EventId {
    /// The hex form, as in websocket and API JSON.
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for EventId {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        EventId::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::block_time;

    const OWNER_A: &str = "dydx1n88uc38xhjgxzw9nwre4ep2c8ga4fjxc565lnf";
    const OWNER_B: &str = "dydx1n88uc38xhjgxzw9nwre4ep2c8ga4fjxc575lnf";
    const MEGAVAULT: &str = "dydx18tkxrnrkqc2t0lr3zxr5g6a4hdvqksylxqje4r";

    fn uuid(text: &str) -> Uuid {
        Uuid::parse_str(text).unwrap()
    }

    fn subaccount_a() -> Uuid {
        subaccount_uuid(OWNER_A, 0)
    }

    fn fill_event() -> EventId {
        EventId::new(1000, 2, 3)
    }

    #[test]
    fn namespace_is_the_reference_one() {
        assert_eq!(NAMESPACE, uuid("0f9da948-a6fb-4c45-9edc-4685c3f3317d"));
    }

    #[test]
    fn event_id_vectors() {
        assert_eq!(
            EventId::new(1000, 2, 3).to_hex(),
            "000003e80000000400000003"
        );
        assert_eq!(
            EventId::from_placement(1000, EventPlacement::EndBlock, 0).to_hex(),
            "000003e80000000100000000"
        );
        assert_eq!(
            EventId::new(2, 0, 2).to_string(),
            "000000020000000200000002"
        );
        assert_eq!(
            EventId::from_placement(5, EventPlacement::BeginBlock, 1).to_hex(),
            "000000050000000000000001"
        );
    }

    #[test]
    fn event_id_parts_round_trip() {
        let id = EventId::from_placement(1000, EventPlacement::EndBlock, 7);
        assert_eq!(id.block_height(), 1000);
        assert_eq!(id.signed_transaction_index(), -1);
        assert_eq!(id.event_index(), 7);
        assert_eq!(EventId::from_hex(&id.to_hex()).unwrap(), id);
        assert_eq!(EventId::from_bytes(id.as_bytes()).unwrap(), id);
        assert!(EventId::from_bytes(&[0; 11]).is_err());
        assert!(EventId::from_hex("zz").is_err());
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"000003e80000000100000007\"");
        assert_eq!(serde_json::from_str::<EventId>(&json).unwrap(), id);
    }

    #[test]
    fn event_ids_order_like_the_block() {
        let end_block = EventId::from_placement(7, EventPlacement::EndBlock, 0);
        let begin_block = EventId::from_placement(7, EventPlacement::BeginBlock, 3);
        let tx0 = EventId::new(7, 0, 0);
        let tx1 = EventId::new(7, 1, 0);
        assert!(begin_block < end_block && end_block < tx0 && tx0 < tx1);
        assert!(tx1 < EventId::new(8, -1, 0));
    }

    #[test]
    fn placement_from_proto() {
        assert_eq!(
            EventPlacement::from_proto(Some(4), None).unwrap(),
            EventPlacement::Transaction(4)
        );
        assert_eq!(
            EventPlacement::from_proto(None, Some(2)).unwrap(),
            EventPlacement::EndBlock
        );
        assert_eq!(
            EventPlacement::from_proto(None, Some(1))
                .unwrap()
                .signed_transaction_index(),
            -2
        );
        assert!(EventPlacement::from_proto(None, Some(0)).is_err());
        assert_eq!(
            EventPlacement::from_proto(None, None),
            Err(Error::UnplacedEvent)
        );
    }

    #[test]
    fn subaccount_vectors() {
        assert_eq!(subaccount_a(), uuid("df91255d-5e17-5e2e-824a-87ddf3c5214a"));
        assert_eq!(
            subaccount_uuid(OWNER_B, 0),
            uuid("88030a34-aba0-50f5-b315-108f2d394405")
        );
        assert_eq!(
            subaccount_uuid(MEGAVAULT, 0),
            uuid("c7169f81-0c80-54c5-a41f-9cbb6a538fdf")
        );
        assert_eq!(
            subaccount_uuid(OWNER_A, 1),
            uuid("1a6dedc4-8114-5d65-bb1f-8ce4257cab4d")
        );
    }

    #[test]
    fn order_vectors() {
        let a = subaccount_a();
        let b = subaccount_uuid(OWNER_B, 0);
        assert_eq!(
            order_uuid(a, 123, 0, 64),
            uuid("9b28d3e5-171d-5d7c-9006-f417365d6622")
        );
        assert_eq!(
            order_uuid(a, 11, 0, 0),
            uuid("a004befb-8557-55ba-9bd3-19f2a3d9f03a")
        );
        assert_eq!(
            order_uuid(b, 22, 0, 0),
            uuid("e28c13aa-30cb-508b-ab7a-00702c5616b0")
        );
        assert_eq!(
            order_uuid(a, 7, 0, 64),
            uuid("328506ad-aff4-5774-860c-ef52b852120b")
        );
    }

    #[test]
    fn twap_suborders_map_to_the_parent_only_in_the_database() {
        let a = subaccount_a();
        let parent = uuid("2e2354f5-283d-50f9-8b66-92d01e8df8ff");
        assert_eq!(order_uuid(a, 9, 0, 128), parent);
        assert_eq!(db_order_uuid(a, 9, 0, 256), parent);
        assert_ne!(order_uuid(a, 9, 0, 256), parent);
        assert_eq!(db_order_uuid(a, 123, 0, 64), order_uuid(a, 123, 0, 64));
        assert_eq!(db_order_flags(256), 128);
        assert_eq!(db_order_flags(32), 32);
    }

    #[test]
    fn transaction_and_fill_vectors() {
        assert_eq!(
            transaction_uuid(1000, 2),
            uuid("387a3cd9-fb27-5cb3-888e-4c3bb0752652")
        );
        assert_eq!(
            fill_uuid(&fill_event(), Liquidity::Taker),
            uuid("bf1e2567-c647-5425-b07e-1821e41e5bb7")
        );
        assert_eq!(
            fill_uuid(&fill_event(), Liquidity::Maker),
            uuid("cd73ae40-852a-5bb8-a03b-d27f7dd37ed9")
        );
        // §4.12 block 2, event tx 1 / index 2.
        let event = EventId::new(2, 1, 2);
        assert_eq!(
            fill_uuid(&event, Liquidity::Taker),
            uuid("2cf98ae7-fed3-5db3-89e0-3ebb680ae555")
        );
        assert_eq!(
            fill_uuid(&event, Liquidity::Maker),
            uuid("6d1bffcf-6e0a-5328-b1d1-5b91089bc557")
        );
    }

    #[test]
    fn position_vectors() {
        let a = subaccount_a();
        assert_eq!(
            asset_position_uuid(a, 0),
            uuid("ac6d808f-3d6e-5c04-accf-3cdb42122e46")
        );
        assert_eq!(
            perpetual_position_uuid(a, &fill_event()),
            uuid("7244f6a4-c895-5854-878d-2209e1e672c2")
        );
        assert_eq!(
            perpetual_position_uuid(a, &EventId::new(2, 1, 0)),
            uuid("6ea462bc-4b87-58ac-ae43-8f1e363b20c5")
        );
        assert_eq!(
            perpetual_position_uuid(subaccount_uuid(OWNER_B, 0), &EventId::new(2, 1, 1)),
            uuid("a261036c-9112-5649-977f-879655a39a6f")
        );
    }

    #[test]
    fn market_data_vectors() {
        assert_eq!(
            oracle_price_uuid(0, 1000),
            uuid("1b0fc9b0-04da-5fe1-bfb9-f7e9ed314ccc")
        );
        assert_eq!(
            oracle_price_uuid(0, 2),
            uuid("e2c030ab-c141-518a-b119-edcbf3746726")
        );
        let end_block = EventId::from_placement(1000, EventPlacement::EndBlock, 0);
        assert_eq!(
            funding_index_update_uuid(1000, &end_block, 0),
            uuid("94e8462c-d17e-5768-bb91-3dc159ecb90d")
        );
        let end_block = EventId::from_placement(3, EventPlacement::EndBlock, 0);
        assert_eq!(
            funding_index_update_uuid(3, &end_block, 0),
            uuid("86ea0819-3dbc-5ebe-b448-6200ef639459")
        );
    }

    #[test]
    fn trading_reward_vectors() {
        assert_eq!(
            trading_reward_uuid(OWNER_A, 1000),
            uuid("f971556e-fc01-54dc-9625-605cdf387b95")
        );
        assert_eq!(
            trading_reward_uuid(OWNER_A, 3),
            uuid("a0811444-ade9-558e-9947-9ca5dfe28d74")
        );
    }

    #[test]
    fn transfer_vectors() {
        let deposit = TransferParties {
            sender_wallet: Some(OWNER_B),
            recipient_subaccount: Some(subaccount_a()),
            ..TransferParties::default()
        };
        assert_eq!(
            transfer_uuid(&deposit, &EventId::new(2, 0, 2), 0),
            uuid("7b4e13e8-2fd6-54f1-9273-b45053a5a342")
        );
        let between_subaccounts = TransferParties {
            sender_subaccount: Some(subaccount_a()),
            recipient_subaccount: Some(subaccount_uuid(OWNER_A, 1)),
            ..TransferParties::default()
        };
        assert_eq!(
            transfer_uuid(&between_subaccounts, &EventId::new(3, 1, 0), 0),
            uuid("78a5bb3d-889f-5b60-8c51-a16ff9e4390e")
        );
    }

    #[test]
    fn candle_vector() {
        let started_at = block_time(1_704_067_260, 0).unwrap();
        assert_eq!(
            candle_uuid(&started_at, "BTC-USD", CandleResolution::OneMinute),
            uuid("d88252b7-d65d-52ba-9e35-7dd607df930e")
        );
    }

    #[test]
    fn roundtable_templates() {
        let created_at = block_time(1_704_067_260, 0).unwrap();
        let name = format!("{}-2024-01-01T00:01:00.000Z", subaccount_a());
        assert_eq!(
            pnl_tick_uuid(subaccount_a(), &created_at),
            uuid_from_name(&name)
        );
        assert_eq!(
            trading_reward_aggregation_uuid(OWNER_A, TradingRewardAggregationPeriod::Daily, 15),
            uuid_from_name(&format!("{OWNER_A}-DAILY-15"))
        );
    }
}
