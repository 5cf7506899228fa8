//! `subaccount_update` and `transfer` (ingest.md §4.7.4–4.7.5).

use indexer_domain::ids::{self, TransferParties};
use indexer_domain::quantums::{asset_amount, settled_funding_delta};
use indexer_domain::TransferType;
use indexer_proto::events::{source_of_funds::Source, SubaccountUpdateEventV1, TransferEventV1};
use indexer_proto::protocol::v1::IndexerSubaccountId;
use indexer_store::write::{AssetPositionRow, TransferRow};
use serde_json::{json, Value};

use super::big_int;
use crate::block::Working;
use crate::decode::DecodedEvent;
use crate::error::BlockError;
use crate::messages::{self, SubaccountContents};
use crate::model::to_numeric;
use crate::positions::{apply_position_update, EventAt, UpdateOutcome};

pub fn subaccount_update(
    w: &mut Working<'_, '_>,
    event: &DecodedEvent,
    update: &SubaccountUpdateEventV1,
) -> Result<(), BlockError> {
    let sub = update.subaccount_id.as_ref().expect("validated");
    let subaccount_uuid = w.upsert_subaccount(&sub.owner, sub.number);
    let at = EventAt {
        id: event.id,
        time: w.time,
        height: w.height,
    };
    let mut positions_json = Vec::new();
    for update in &update.updated_perpetual_positions {
        let market = w
            .perpetual_market(update.perpetual_id)
            .cloned()
            .ok_or_else(|| {
                BlockError::inconsistent(
                    event,
                    format!("no perpetual market {}", update.perpetual_id),
                )
            })?;
        let size = market.params().size(big_int(&update.quantums)?);
        let funding = settled_funding_delta(&big_int(&update.funding_payment)?);
        let latest = w.latest_position(subaccount_uuid, market.id).cloned();
        match apply_position_update(
            latest.as_ref(),
            subaccount_uuid,
            market.id,
            &size,
            &funding,
            at,
        ) {
            UpdateOutcome::Rows(rows) => {
                for row in rows {
                    positions_json.push(w.position_json(event, &row, &sub.owner, sub.number));
                    w.put_position(row);
                }
            }
            UpdateOutcome::ZeroWithoutOpenPosition => w.notice(
                event,
                "inconsistent_event",
                format!(
                    "size-0 update of {} with no open position ignored (quirk Q7)",
                    market.ticker
                ),
            ),
        }
    }
    let mut assets_json = Vec::new();
    for update in &update.updated_asset_positions {
        let asset = w.asset(update.asset_id).cloned().ok_or_else(|| {
            BlockError::inconsistent(event, format!("no asset {}", update.asset_id))
        })?;
        let signed = asset_amount(big_int(&update.quantums)?, asset.atomic_resolution);
        let id = ids::asset_position_uuid(subaccount_uuid, asset.id);
        let is_long = signed.is_positive();
        let size = signed.abs();
        assets_json.push(messages::asset_position_json(
            id,
            &sub.owner,
            sub.number,
            asset.id,
            &asset.symbol,
            is_long,
            &size,
        ));
        w.upsert_asset_position(AssetPositionRow {
            id,
            asset_id: asset.id.to_string(),
            subaccount_id: subaccount_uuid,
            size: to_numeric(&size),
            is_long,
        });
    }
    let contents = SubaccountContents {
        perpetual_positions: positions_json,
        asset_positions: assets_json,
        ..Default::default()
    };
    w.subaccount_message(event, sub, contents, None);
    Ok(())
}

enum Party<'a> {
    Subaccount(&'a IndexerSubaccountId),
    Wallet(&'a str),
}

fn party(source: Option<&indexer_proto::events::SourceOfFunds>) -> Party<'_> {
    match source.and_then(|s| s.source.as_ref()).expect("validated") {
        Source::SubaccountId(sub) => Party::Subaccount(sub),
        Source::Address(address) => Party::Wallet(address),
    }
}

fn party_json(party: &Party<'_>) -> Value {
    match party {
        Party::Subaccount(sub) => json!({ "address": sub.owner, "subaccountNumber": sub.number }),
        Party::Wallet(address) => json!({ "address": address }),
    }
}

pub fn transfer(
    w: &mut Working<'_, '_>,
    event: &DecodedEvent,
    transfer: &TransferEventV1,
) -> Result<(), BlockError> {
    let asset = w.asset(transfer.asset_id).cloned().ok_or_else(|| {
        BlockError::inconsistent(event, format!("no asset {}", transfer.asset_id))
    })?;
    let sender = party(transfer.sender.as_ref());
    let recipient = party(transfer.recipient.as_ref());
    let mut parties = TransferParties::default();
    match &recipient {
        Party::Subaccount(sub) => {
            parties.recipient_subaccount = Some(w.upsert_subaccount(&sub.owner, sub.number));
            w.ensure_wallet(&sub.owner);
        }
        Party::Wallet(address) => {
            w.ensure_wallet(address);
            parties.recipient_wallet = Some(address);
        }
    }
    match &sender {
        Party::Subaccount(sub) => {
            parties.sender_subaccount = Some(ids::subaccount_uuid(&sub.owner, sub.number))
        }
        Party::Wallet(address) => {
            w.ensure_wallet(address);
            parties.sender_wallet = Some(address);
        }
    }
    let size = asset_amount(transfer.amount, asset.atomic_resolution);
    let tx_hash = w.tx_hash(event);
    w.insert_transfer(TransferRow {
        id: ids::transfer_uuid(&parties, &event.id, asset.id),
        sender_subaccount_id: parties.sender_subaccount,
        recipient_subaccount_id: parties.recipient_subaccount,
        sender_wallet_address: parties.sender_wallet.map(str::to_owned),
        recipient_wallet_address: parties.recipient_wallet.map(str::to_owned),
        asset_id: asset.id.to_string(),
        size: to_numeric(&size),
        event_id: event.id.as_bytes().to_vec(),
        transaction_hash: tx_hash.clone(),
        created_at: w.time,
        created_at_height: i64::from(w.height),
    });
    let recipient_is_subaccount = matches!(recipient, Party::Subaccount(_));
    let sender_is_subaccount = matches!(sender, Party::Subaccount(_));
    let message = |w: &mut Working<'_, '_>, sub: &IndexerSubaccountId, kind: TransferType| {
        let body = json!({
            "sender": party_json(&sender),
            "recipient": party_json(&recipient),
            "symbol": asset.symbol,
            "size": size.to_string(),
            "type": kind.as_str(),
            "createdAt": indexer_domain::time::to_iso(&w.time),
            "createdAtHeight": w.height.to_string(),
            "transactionHash": tx_hash,
        });
        let contents = SubaccountContents {
            transfers: Some(messages::raw_value(&body)),
            ..Default::default()
        };
        w.subaccount_message(event, sub, contents, None);
    };
    if let Party::Subaccount(sub) = &sender {
        let kind = if recipient_is_subaccount {
            TransferType::TransferOut
        } else {
            TransferType::Withdrawal
        };
        message(w, sub, kind);
    }
    if let Party::Subaccount(sub) = &recipient {
        let kind = if sender_is_subaccount {
            TransferType::TransferIn
        } else {
            TransferType::Deposit
        };
        message(w, sub, kind);
    }
    Ok(())
}
