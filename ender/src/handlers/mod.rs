//! One handler per event subtype (ingest.md §4.7). Each applies its rows to the block's
//! [`Working`] overlay and records its messages and Redis effects.

mod fills;
mod markets;
mod misc;
mod stateful;
mod subaccounts;
#[cfg(test)]
mod tests;

use indexer_domain::serializable_int;
use num_bigint::BigInt;
use prost::Message;
use sha2::{Digest, Sha256};

use crate::block::Working;
use crate::decode::{DecodedEvent, Payload};
use crate::error::BlockError;
use crate::validate::Skip;

/// Applies one event.
pub fn apply(w: &mut Working<'_, '_>, event: &DecodedEvent, skip: Skip) -> Result<(), BlockError> {
    if skip == Skip::Everything {
        w.notice(
            event,
            "skipped_stateful_order",
            "listed in SKIP_STATEFUL_ORDER_UUIDS",
        );
        return Ok(());
    }
    match &event.payload {
        Payload::OrderFill(fill) => fills::order_fill(w, event, fill),
        Payload::Deleveraging(d) => fills::deleveraging(w, event, d),
        Payload::SubaccountUpdate(update) => subaccounts::subaccount_update(w, event, update),
        Payload::Transfer(transfer) => subaccounts::transfer(w, event, transfer),
        Payload::Market(market) => markets::market(w, event, market),
        Payload::Asset(asset) => markets::asset(w, event, asset),
        Payload::PerpetualMarket(create) => markets::perpetual_market(w, event, create),
        Payload::LiquidityTier(tier) => markets::liquidity_tier(w, event, tier),
        Payload::UpdatePerpetual(update) => markets::update_perpetual(w, event, update),
        Payload::UpdateClobPair(update) => markets::update_clob_pair(w, event, update),
        Payload::FundingValues(funding) => markets::funding_values(w, event, funding),
        Payload::StatefulOrder(stateful) => {
            stateful::stateful_order(w, event, stateful, skip == Skip::Database)
        }
        Payload::TradingReward(rewards) => misc::trading_reward(w, event, rewards),
        Payload::RegisterAffiliate(affiliate) => misc::register_affiliate(w, event, affiliate),
        Payload::UpsertVault(vault) => misc::upsert_vault(w, event, vault),
        Payload::Ignored(reason) => {
            w.notice(event, "ignored_event", reason.as_str());
            Ok(())
        }
    }
}

/// A SerializableInt field.
fn big_int(bytes: &[u8]) -> Result<BigInt, BlockError> {
    Ok(serializable_int::decode(bytes)?)
}

/// Kafka key of a `to-vulcan` message: SHA-256 of the encoded order id (ingest.md §4.6).
pub fn order_id_key(id: &indexer_proto::protocol::v1::IndexerOrderId) -> Vec<u8> {
    Sha256::digest(id.encode_to_vec()).to_vec()
}
