//! Validation of every event before anything is applied (ingest.md §4.4) and the skip rules of
//! stateful orders (§4.7.13). A failure rejects the whole block.

use std::collections::HashSet;

use indexer_domain::{ids, order_flags, vault};
use indexer_proto::events::{
    self as ev, source_of_funds::Source, stateful_order_event_v1::Event as Sof,
};
use indexer_proto::protocol::v1::{indexer_order::GoodTilOneof, IndexerOrder, IndexerOrderId};

use crate::decode::{DecodedBlock, DecodedEvent, Payload};
use crate::error::BlockError;
use crate::state::State;

/// What an event skips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Skip {
    #[default]
    Nothing,
    /// No database rows, but the handler's messages are still produced (vault stateful orders).
    Database,
    /// Neither rows nor messages (`SKIP_STATEFUL_ORDER_UUIDS`).
    Everything,
}

/// Validates every event, transaction events first, then block events (the list order), and
/// returns each event's skip rule.
pub fn validate_block(block: &DecodedBlock, state: &State<'_>) -> Result<Vec<Skip>, BlockError> {
    let mut created_perpetuals: HashSet<u32> = HashSet::new();
    let mut created_clob_pairs: HashSet<u32> = HashSet::new();
    let mut skips = Vec::with_capacity(block.events.len());
    for event in &block.events {
        let fail = |reason: &str| BlockError::validation(event, reason);
        let skip = match &event.payload {
            Payload::OrderFill(fill) => {
                validate_order(fill.maker_order.as_ref())
                    .map(|_| ())
                    .map_err(|r| fail(&format!("maker order: {r}")))?;
                match &fill.taker_order {
                    Some(ev::order_fill_event_v1::TakerOrder::Order(taker)) => {
                        validate_order(Some(taker))
                            .map(|_| ())
                            .map_err(|r| fail(&format!("taker order: {r}")))?
                    }
                    Some(ev::order_fill_event_v1::TakerOrder::LiquidationOrder(liquidation)) => {
                        if liquidation.liquidated.is_none() {
                            return Err(fail("liquidation order without liquidated subaccount"));
                        }
                    }
                    None => return Err(fail("neither taker order nor liquidation order")),
                }
                Skip::Nothing
            }
            Payload::SubaccountUpdate(update) => {
                if update.subaccount_id.is_none() {
                    return Err(fail("subaccount_id missing"));
                }
                Skip::Nothing
            }
            Payload::Transfer(transfer) => {
                let sender =
                    source_kind(transfer.sender.as_ref()).ok_or_else(|| fail("sender missing"))?;
                let recipient = source_kind(transfer.recipient.as_ref())
                    .ok_or_else(|| fail("recipient missing"))?;
                if !sender && !recipient {
                    return Err(fail("transfer between two wallet addresses"));
                }
                Skip::Nothing
            }
            Payload::Market(market) => {
                validate_market(market).map_err(|r| fail(&r))?;
                Skip::Nothing
            }
            Payload::FundingValues(funding) => {
                if funding.r#type != 1 && funding.r#type != 2 {
                    return Err(fail(&format!(
                        "funding type {} not accepted",
                        funding.r#type
                    )));
                }
                Skip::Nothing
            }
            Payload::PerpetualMarket(create) => {
                if state.caches.perpetual_markets.contains_key(&create.id)
                    || !created_perpetuals.insert(create.id)
                {
                    return Err(fail(&format!(
                        "perpetual market {} already exists",
                        create.id
                    )));
                }
                created_clob_pairs.insert(create.clob_pair_id);
                if create.ticker.is_empty() {
                    return Err(fail("empty ticker"));
                }
                if create.subticks_per_tick == 0 || create.step_base_quantums == 0 {
                    return Err(fail(
                        "subticks_per_tick and step_base_quantums must be non-zero",
                    ));
                }
                Skip::Nothing
            }
            Payload::LiquidityTier(tier) => {
                if tier.initial_margin_ppm == 0 || tier.maintenance_fraction_ppm == 0 {
                    return Err(fail(
                        "initial_margin_ppm and maintenance_fraction_ppm must be non-zero",
                    ));
                }
                Skip::Nothing
            }
            Payload::UpdatePerpetual(update) => {
                if !state.caches.perpetual_markets.contains_key(&update.id)
                    && !created_perpetuals.contains(&update.id)
                {
                    return Err(fail(&format!(
                        "perpetual market {} does not exist",
                        update.id
                    )));
                }
                Skip::Nothing
            }
            Payload::UpdateClobPair(update) => {
                let known = state
                    .caches
                    .perpetual_market_by_clob_pair(update.clob_pair_id)
                    .is_some()
                    || created_clob_pairs.contains(&update.clob_pair_id);
                if !known {
                    return Err(fail(&format!(
                        "no perpetual market for clob pair {}",
                        update.clob_pair_id
                    )));
                }
                Skip::Nothing
            }
            Payload::Deleveraging(d) => {
                if d.liquidated.is_none() || d.offsetting.is_none() {
                    return Err(fail("liquidated and offsetting subaccounts are required"));
                }
                if d.fill_amount == 0 || d.total_quote_quantums == 0 {
                    return Err(fail(
                        "fill_amount and total_quote_quantums must be non-zero",
                    ));
                }
                Skip::Nothing
            }
            Payload::TradingReward(rewards) => {
                for reward in &rewards.trading_rewards {
                    if reward.owner.is_empty() {
                        return Err(fail("trading reward without owner"));
                    }
                    if indexer_domain::serializable_int::decode(&reward.denom_amount)?.sign()
                        == num_bigint::Sign::NoSign
                    {
                        return Err(fail("trading reward of zero"));
                    }
                }
                Skip::Nothing
            }
            Payload::UpsertVault(vault) => {
                if vault.address.is_empty() {
                    return Err(fail("empty vault address"));
                }
                Skip::Nothing
            }
            Payload::StatefulOrder(stateful) => validate_stateful(event, stateful, state)?,
            Payload::Asset(_) | Payload::RegisterAffiliate(_) | Payload::Ignored(_) => {
                Skip::Nothing
            }
        };
        skips.push(skip);
    }
    Ok(skips)
}

/// `Some(true)` for a subaccount, `Some(false)` for an address, `None` when missing.
fn source_kind(source: Option<&ev::SourceOfFunds>) -> Option<bool> {
    match source?.source.as_ref()? {
        Source::SubaccountId(_) => Some(true),
        Source::Address(_) => Some(false),
    }
}

fn validate_order_id(id: Option<&IndexerOrderId>) -> Result<&IndexerOrderId, String> {
    let id = id.ok_or("order_id missing")?;
    if id.subaccount_id.is_none() {
        return Err("order_id.subaccount_id missing".into());
    }
    Ok(id)
}

fn validate_order(order: Option<&IndexerOrder>) -> Result<&IndexerOrder, String> {
    let order = order.ok_or("order missing")?;
    validate_order_id(order.order_id.as_ref())?;
    if order.side == 0 {
        return Err("side unspecified".into());
    }
    if order.good_til_oneof.is_none() {
        return Err("neither good_til_block nor good_til_block_time".into());
    }
    Ok(order)
}

fn validate_market(market: &ev::MarketEventV1) -> Result<(), String> {
    use ev::market_event_v1::Event;
    let base_ok = |base: Option<&ev::MarketBaseEventV1>| -> Result<(), String> {
        let base = base.ok_or("base missing")?;
        if base.pair.is_empty() {
            return Err("empty pair".into());
        }
        if base.min_price_change_ppm == 0 {
            return Err("min_price_change_ppm is zero".into());
        }
        Ok(())
    };
    match market.event.as_ref().ok_or("no market event variant")? {
        Event::MarketCreate(create) => base_ok(create.base.as_ref()),
        Event::MarketModify(modify) => base_ok(modify.base.as_ref()),
        Event::PriceUpdate(update) if update.price_with_exponent == 0 => {
            Err("price_with_exponent is zero".into())
        }
        Event::PriceUpdate(_) => Ok(()),
    }
}

fn validate_stateful(
    event: &DecodedEvent,
    stateful: &ev::StatefulOrderEventV1,
    state: &State<'_>,
) -> Result<Skip, BlockError> {
    let fail = |reason: String| BlockError::validation(event, reason);
    let placed = |order: Option<&IndexerOrder>| -> Result<IndexerOrder, BlockError> {
        let order = validate_order(order).map_err(&fail)?.clone();
        if !matches!(
            order.good_til_oneof,
            Some(GoodTilOneof::GoodTilBlockTime(_))
        ) {
            return Err(fail("stateful order without good_til_block_time".into()));
        }
        Ok(order)
    };
    let id = match stateful
        .event
        .as_ref()
        .ok_or_else(|| fail("no stateful order variant".into()))?
    {
        Sof::OrderPlace(p) => placed(p.order.as_ref())?.order_id,
        Sof::LongTermOrderPlacement(p) => {
            let order = placed(p.order.as_ref())?;
            let flags = order.order_id.as_ref().map_or(0, |id| id.order_flags);
            if flags != order_flags::LONG_TERM && flags != order_flags::TWAP_SUBORDER {
                return Err(fail(format!("long-term placement with flags {flags}")));
            }
            order.order_id
        }
        Sof::ConditionalOrderPlacement(p) => {
            let order = placed(p.order.as_ref())?;
            let flags = order.order_id.as_ref().map_or(0, |id| id.order_flags);
            if flags != order_flags::CONDITIONAL {
                return Err(fail(format!("conditional placement with flags {flags}")));
            }
            if order.conditional_order_trigger_subticks == 0 {
                return Err(fail("conditional order without trigger subticks".into()));
            }
            if order.condition_type == 0 {
                return Err(fail(
                    "conditional order with unspecified condition type".into(),
                ));
            }
            order.order_id
        }
        Sof::TwapOrderPlacement(p) => {
            let order = placed(p.order.as_ref())?;
            let flags = order.order_id.as_ref().map_or(0, |id| id.order_flags);
            if flags != order_flags::TWAP || order.twap_parameters.is_none() {
                return Err(fail(format!(
                    "TWAP placement with flags {flags} or without parameters"
                )));
            }
            order.order_id
        }
        Sof::OrderRemoval(r) => {
            validate_order_id(r.removed_order_id.as_ref()).map_err(fail)?;
            if r.reason == 0 {
                return Err(fail("removal reason unspecified".into()));
            }
            r.removed_order_id.clone()
        }
        Sof::ConditionalOrderTriggered(t) => {
            let id = validate_order_id(t.triggered_order_id.as_ref()).map_err(fail)?;
            if id.order_flags != order_flags::CONDITIONAL {
                return Err(fail(format!(
                    "triggered order with flags {}",
                    id.order_flags
                )));
            }
            t.triggered_order_id.clone()
        }
        Sof::OrderReplacement(_) => {
            return Err(fail(
                "order_replacement is not supported (quirk Q10)".into(),
            ))
        }
    };
    let id = id.expect("validated above");
    let subaccount = id.subaccount_id.as_ref().expect("validated above");
    let uuid = ids::order_uuid(
        ids::subaccount_uuid(&subaccount.owner, subaccount.number),
        id.client_id,
        id.clob_pair_id,
        id.order_flags,
    );
    if state.settings.skip_stateful_order_uuids.contains(&uuid) {
        return Ok(Skip::Everything);
    }
    if vault::is_clob_vault_address(&subaccount.owner) {
        return Ok(Skip::Database);
    }
    Ok(Skip::Nothing)
}
