//! `trading_reward`, `register_affiliate`, `upsert_vault` (ingest.md §4.7.15–4.7.17).

use indexer_domain::quantums::trading_reward as reward_amount;
use indexer_domain::{ids, VaultStatus};
use indexer_proto::events::{RegisterAffiliateEventV1, TradingRewardsEventV1, UpsertVaultEventV1};
use indexer_proto::protocol::v1::IndexerSubaccountId;
use indexer_store::write::{AffiliateReferredUserRow, TradingRewardRow, VaultRow};
use serde_json::json;

use super::big_int;
use crate::block::Working;
use crate::decode::DecodedEvent;
use crate::error::BlockError;
use crate::messages::{self, SubaccountContents};
use crate::model::to_numeric;

pub fn trading_reward(
    w: &mut Working<'_, '_>,
    event: &DecodedEvent,
    rewards: &TradingRewardsEventV1,
) -> Result<(), BlockError> {
    for reward in &rewards.trading_rewards {
        let amount = reward_amount(&big_int(&reward.denom_amount)?);
        w.credit_wallet(&reward.owner, &amount);
        w.insert_trading_reward(TradingRewardRow {
            id: ids::trading_reward_uuid(&reward.owner, w.height),
            address: reward.owner.clone(),
            block_time: w.time,
            block_height: i64::from(w.height),
            amount: to_numeric(&amount),
        });
        let contents = SubaccountContents {
            trading_reward: Some(messages::raw_value(&json!({
                // The numeric(27,18) column's text, as the reference returns it.
                "tradingReward": amount.to_fixed(18),
                "createdAtHeight": w.height.to_string(),
                "createdAt": indexer_domain::time::to_iso(&w.time),
            }))),
            ..Default::default()
        };
        let sub = IndexerSubaccountId {
            owner: reward.owner.clone(),
            number: 0,
        };
        w.subaccount_message(event, &sub, contents, None);
    }
    Ok(())
}

pub fn register_affiliate(
    w: &mut Working<'_, '_>,
    _event: &DecodedEvent,
    e: &RegisterAffiliateEventV1,
) -> Result<(), BlockError> {
    w.insert_affiliate(AffiliateReferredUserRow {
        referee_address: e.referee.clone(),
        affiliate_address: e.affiliate.clone(),
        referred_at_block: i64::from(w.height),
    });
    Ok(())
}

pub fn upsert_vault(
    w: &mut Working<'_, '_>,
    _event: &DecodedEvent,
    e: &UpsertVaultEventV1,
) -> Result<(), BlockError> {
    w.upsert_vault(VaultRow {
        address: e.address.clone(),
        clob_pair_id: i64::from(e.clob_pair_id),
        status: VaultStatus::from_proto(e.status)?.as_str().to_owned(),
        created_at: w.time,
        updated_at: w.time,
    });
    Ok(())
}
