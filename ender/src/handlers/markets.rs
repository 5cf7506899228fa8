//! The ordered events: `market`, `asset`, `perpetual_market`, `liquidity_tier`,
//! `update_perpetual`, `update_clob_pair`, `funding_values` (ingest.md §4.7.6–4.7.12).

use indexer_domain::quantums::{funding_rate_1h, oracle_price, quote_amount};
use indexer_domain::{ids, Decimal, PerpetualMarketStatus, PerpetualMarketType};
use indexer_proto::events::{
    market_event_v1::Event, AssetCreateEventV1, FundingEventV1, MarketEventV1,
    UpdateClobPairEventV1,
};
use indexer_store::write::{FundingIndexUpdateRow, OraclePriceRow, RowChange};
use serde_json::{json, Map, Value};

use super::big_int;
use crate::block::{RedisEffect, Working};
use crate::decode::{DecodedEvent, LiquidityTierUpsert, PerpetualMarketCreate, UpdatePerpetual};
use crate::error::BlockError;
use crate::messages::{self, Pending};
use crate::model::{to_numeric, Asset, LiquidityTier, Market, PerpetualMarket};

pub fn market(
    w: &mut Working<'_, '_>,
    event: &DecodedEvent,
    market: &MarketEventV1,
) -> Result<(), BlockError> {
    let existing = w.market(market.market_id).cloned();
    match market.event.as_ref().expect("validated") {
        Event::MarketCreate(create) => {
            if existing.is_some() {
                return Err(BlockError::inconsistent(
                    event,
                    format!("market {} already exists", market.market_id),
                ));
            }
            let base = create.base.as_ref().expect("validated");
            w.set_market(Market {
                id: market.market_id,
                pair: base.pair.clone(),
                exponent: create.exponent,
                min_price_change_ppm: base.min_price_change_ppm,
                oracle_price: None,
            });
        }
        Event::MarketModify(modify) => {
            let mut row = existing.ok_or_else(|| {
                BlockError::inconsistent(event, format!("no market {}", market.market_id))
            })?;
            let base = modify.base.as_ref().expect("validated");
            row.pair = base.pair.clone();
            row.min_price_change_ppm = base.min_price_change_ppm;
            w.set_market(row);
        }
        Event::PriceUpdate(update) => {
            let mut row = existing.ok_or_else(|| {
                BlockError::inconsistent(event, format!("no market {}", market.market_id))
            })?;
            let price = oracle_price(update.price_with_exponent, row.exponent);
            row.oracle_price = Some(price.clone());
            w.insert_oracle_price(OraclePriceRow {
                id: ids::oracle_price_uuid(row.id, w.height),
                market_id: row.id as i32,
                price: to_numeric(&price),
                effective_at: w.time,
                effective_at_height: i64::from(w.height),
            });
            let body = json!({ "oraclePrices": { row.pair.clone(): {
                "oraclePrice": price.to_string(),
                "effectiveAt": indexer_domain::time::to_iso(&w.time),
                "effectiveAtHeight": w.height.to_string(),
                "marketId": row.id,
            }}});
            w.pending.push(Pending::Market(body));
            w.set_market(row);
        }
    }
    Ok(())
}

pub fn asset(
    w: &mut Working<'_, '_>,
    event: &DecodedEvent,
    asset: &AssetCreateEventV1,
) -> Result<(), BlockError> {
    if asset.has_market && w.market(asset.market_id).is_none() {
        return Err(BlockError::inconsistent(
            event,
            format!(
                "asset {} refers to missing market {}",
                asset.id, asset.market_id
            ),
        ));
    }
    if w.asset(asset.id).is_some() {
        return Err(BlockError::inconsistent(
            event,
            format!("asset {} already exists", asset.id),
        ));
    }
    w.set_asset(Asset {
        id: asset.id,
        symbol: asset.symbol.clone(),
        atomic_resolution: asset.atomic_resolution,
        has_market: asset.has_market,
        market_id: asset.has_market.then_some(asset.market_id),
    });
    Ok(())
}

fn trading_message(w: &mut Working<'_, '_>, ids: &[u32]) {
    let mut trading = Map::new();
    for id in ids {
        if let Some(market) = w.perpetual_market_for_message(*id) {
            let tier = w.liquidity_tier(market.liquidity_tier_id).cloned();
            trading.insert(
                market.ticker.clone(),
                messages::market_json(&market, tier.as_ref()),
            );
        }
    }
    if !trading.is_empty() {
        w.pending.push(Pending::Market(
            json!({ "trading": Value::Object(trading) }),
        ));
    }
}

pub fn perpetual_market(
    w: &mut Working<'_, '_>,
    event: &DecodedEvent,
    create: &PerpetualMarketCreate,
) -> Result<(), BlockError> {
    if w.market(create.market_id).is_none() {
        return Err(BlockError::inconsistent(
            event,
            format!(
                "perpetual market {} refers to missing market {}",
                create.id, create.market_id
            ),
        ));
    }
    let market_type = match create.market_type {
        None => PerpetualMarketType::Cross,
        Some(value) => PerpetualMarketType::from_proto(value)?,
    };
    // v3: the event's rate; v2: the column default 0; v1: null (quirk Q14).
    let default_funding_rate_1h = match (create.version, create.default_funding8hr_ppm) {
        (_, Some(ppm)) => Some(funding_rate_1h(ppm)),
        (1, None) => None,
        _ => Some(Decimal::zero()),
    };
    let market = PerpetualMarket {
        id: create.id,
        clob_pair_id: create.clob_pair_id,
        ticker: create.ticker.clone(),
        market_id: create.market_id,
        status: PerpetualMarketStatus::from_clob_pair_status(create.status)?,
        price_change_24h: Decimal::zero(),
        volume_24h: Decimal::zero(),
        trades_24h: 0,
        next_funding_rate: Decimal::zero(),
        open_interest: Decimal::zero(),
        quantum_conversion_exponent: create.quantum_conversion_exponent,
        atomic_resolution: create.atomic_resolution,
        subticks_per_tick: create.subticks_per_tick,
        step_base_quantums: create.step_base_quantums,
        liquidity_tier_id: create.liquidity_tier,
        market_type,
        base_open_interest: Some(Decimal::zero()),
        default_funding_rate_1h,
    };
    w.set_perpetual_market(RowChange::Insert, market);
    trading_message(w, &[create.id]);
    Ok(())
}

pub fn liquidity_tier(
    w: &mut Working<'_, '_>,
    _event: &DecodedEvent,
    tier: &LiquidityTierUpsert,
) -> Result<(), BlockError> {
    let caps = tier.open_interest_caps.map(|(lower, upper)| {
        (
            quote_amount(lower).to_string(),
            quote_amount(upper).to_string(),
        )
    });
    w.set_liquidity_tier(LiquidityTier {
        id: tier.id,
        name: tier.name.clone(),
        initial_margin_ppm: tier.initial_margin_ppm,
        maintenance_fraction_ppm: tier.maintenance_fraction_ppm,
        open_interest_lower_cap: caps.as_ref().map(|c| c.0.clone()),
        open_interest_upper_cap: caps.map(|c| c.1),
    });
    let using: Vec<u32> = w
        .perpetual_market_ids()
        .into_iter()
        .filter(|id| {
            w.perpetual_market(*id)
                .is_some_and(|m| m.liquidity_tier_id == tier.id)
        })
        .collect();
    trading_message(w, &using);
    Ok(())
}

pub fn update_perpetual(
    w: &mut Working<'_, '_>,
    event: &DecodedEvent,
    update: &UpdatePerpetual,
) -> Result<(), BlockError> {
    let mut market = w.perpetual_market(update.id).cloned().ok_or_else(|| {
        BlockError::inconsistent(event, format!("no perpetual market {}", update.id))
    })?;
    market.ticker = update.ticker.clone();
    market.market_id = update.market_id;
    market.atomic_resolution = update.atomic_resolution;
    market.liquidity_tier_id = update.liquidity_tier;
    if let Some(market_type) = update.market_type {
        market.market_type = PerpetualMarketType::from_proto(market_type)?;
    }
    if let Some(ppm) = update.default_funding8hr_ppm {
        market.default_funding_rate_1h = Some(funding_rate_1h(ppm));
    }
    w.set_perpetual_market(RowChange::Update, market);
    trading_message(w, &[update.id]);
    Ok(())
}

pub fn update_clob_pair(
    w: &mut Working<'_, '_>,
    event: &DecodedEvent,
    update: &UpdateClobPairEventV1,
) -> Result<(), BlockError> {
    let mut market = w
        .perpetual_market_by_clob_pair(update.clob_pair_id)
        .cloned()
        .ok_or_else(|| {
            BlockError::inconsistent(
                event,
                format!("no perpetual market for clob pair {}", update.clob_pair_id),
            )
        })?;
    market.status = PerpetualMarketStatus::from_clob_pair_status(update.status)?;
    market.quantum_conversion_exponent = update.quantum_conversion_exponent;
    market.subticks_per_tick = update.subticks_per_tick;
    market.step_base_quantums = update.step_base_quantums;
    let id = market.id;
    w.set_perpetual_market(RowChange::Update, market);
    trading_message(w, &[id]);
    Ok(())
}

pub fn funding_values(
    w: &mut Working<'_, '_>,
    event: &DecodedEvent,
    funding: &FundingEventV1,
) -> Result<(), BlockError> {
    for update in &funding.updates {
        let Some(market) = w.perpetual_market(update.perpetual_id).cloned() else {
            w.notice(
                event,
                "funding_failure",
                format!(
                    "Received FundingUpdate with unknown perpetualId {}.",
                    update.perpetual_id
                ),
            );
            continue;
        };
        let rate = funding_rate_1h(update.funding_value_ppm);
        if funding.r#type == 1 {
            w.redis.push(RedisEffect::PushNextFundingSample {
                ticker: market.ticker.clone(),
                rate,
            });
            continue;
        }
        let Some(price) = w
            .market(market.market_id)
            .and_then(|m| m.oracle_price.clone())
        else {
            w.notice(
                event,
                "funding_failure",
                format!("oracle_price not found for marketId {}.", market.market_id),
            );
            continue;
        };
        let index = market
            .params()
            .funding_index(&big_int(&update.funding_index)?);
        w.insert_funding_index_update(FundingIndexUpdateRow {
            id: ids::funding_index_update_uuid(w.height, &event.id, market.id),
            perpetual_id: i64::from(market.id),
            event_id: event.id.as_bytes().to_vec(),
            rate: to_numeric(&rate),
            oracle_price: to_numeric(&price),
            funding_index: to_numeric(&index),
            effective_at: w.time,
            effective_at_height: i64::from(w.height),
        });
        w.redis.push(RedisEffect::ClearNextFundingSamples {
            ticker: market.ticker.clone(),
        });
    }
    Ok(())
}
