//! Candles of every resolution, updated once per block from its trades (ingest.md §4.10).

use std::collections::HashMap;

use indexer_domain::{ids, CandleResolution, Decimal};

use crate::block::Working;
use crate::decode::{DecodedBlock, Payload};
use crate::error::BlockError;
use crate::messages::Pending;
use crate::model::Candle;
use crate::state::Caches;

/// A trade of the block as candles see it.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockTrade {
    pub ticker: String,
    pub transaction_index: i32,
    pub event_index: u32,
    pub price: Decimal,
    pub size: Decimal,
}

/// The block's trades of one ticker folded together.
#[derive(Debug, Clone, PartialEq)]
struct BlockUpdate {
    low: Decimal,
    high: Decimal,
    open: Decimal,
    close: Decimal,
    base_volume: Decimal,
    usd_volume: Decimal,
    trades: i32,
}

fn fold_trades(mut trades: Vec<&BlockTrade>) -> HashMap<String, BlockUpdate> {
    trades.sort_by_key(|t| (t.transaction_index, t.event_index));
    let mut updates: HashMap<String, BlockUpdate> = HashMap::new();
    for t in trades {
        let usd = &t.price * &t.size;
        updates
            .entry(t.ticker.clone())
            .and_modify(|u| {
                if t.price < u.low {
                    u.low = t.price.clone();
                }
                if t.price > u.high {
                    u.high = t.price.clone();
                }
                u.close = t.price.clone();
                u.base_volume = (&u.base_volume + &t.size).trim();
                u.usd_volume = (&u.usd_volume + &usd).trim();
                u.trades += 1;
            })
            .or_insert_with(|| BlockUpdate {
                low: t.price.clone(),
                high: t.price.clone(),
                open: t.price.clone(),
                close: t.price.clone(),
                base_volume: t.size.trim(),
                usd_volume: usd.trim(),
                trades: 1,
            });
    }
    updates
}

/// Whether processing `block` may start a new candle, i.e. needs the open-interest snapshot.
pub fn needs_open_interest(block: &DecodedBlock, caches: &Caches) -> bool {
    let has_trades = block
        .events
        .iter()
        .any(|e| matches!(e.payload, Payload::OrderFill(_) | Payload::Deleveraging(_)));
    caches.perpetual_markets.values().any(|market| {
        CandleResolution::ALL.iter().any(|res| {
            match caches.candles.get(&(market.ticker.clone(), *res)) {
                Some(candle) => candle.started_at != res.period_start(block.time),
                None => has_trades,
            }
        })
    })
}

/// Computes and records the candles of the block.
pub fn apply_block(w: &mut Working<'_, '_>) -> Result<(), BlockError> {
    let updates = fold_trades(w.trades.iter().collect());
    let mut written: Vec<(u32, Candle)> = Vec::new();
    for id in w.perpetual_market_ids() {
        let market = w.perpetual_market(id).cloned().expect("listed ids exist");
        let update = updates.get(&market.ticker);
        let mid = w.state.mid_prices.get(&market.ticker).cloned();
        for resolution in CandleResolution::ALL.iter().copied() {
            let start = resolution.period_start(w.time);
            let cached = w
                .state
                .caches
                .candles
                .get(&(market.ticker.clone(), resolution));
            let new_candle = |from: Option<&BlockUpdate>,
                              previous_close: Option<&Decimal>|
             -> Result<Candle, BlockError> {
                let open_interest = w
                    .state
                    .open_interest
                    .as_ref()
                    .ok_or_else(|| {
                        BlockError::Corrupt(
                            "open interest snapshot was not loaded for a new candle".into(),
                        )
                    })?
                    .get(&market.id)
                    .cloned()
                    .unwrap_or_else(Decimal::zero);
                let (low, high, open, close, base, usd, trades) = match (from, previous_close) {
                    (Some(u), _) => (
                        u.low.clone(),
                        u.high.clone(),
                        u.open.clone(),
                        u.close.clone(),
                        u.base_volume.clone(),
                        u.usd_volume.clone(),
                        u.trades,
                    ),
                    (None, Some(close)) => (
                        close.clone(),
                        close.clone(),
                        close.clone(),
                        close.clone(),
                        Decimal::zero(),
                        Decimal::zero(),
                        0,
                    ),
                    (None, None) => {
                        unreachable!("a candle starts from trades or from the previous candle")
                    }
                };
                Ok(Candle {
                    id: ids::candle_uuid(&start, &market.ticker, resolution),
                    started_at: start,
                    ticker: market.ticker.clone(),
                    resolution,
                    low,
                    high,
                    open,
                    close,
                    base_token_volume: base,
                    usd_volume: usd,
                    trades,
                    starting_open_interest: open_interest.trim(),
                    orderbook_mid_price_open: mid.clone(),
                    orderbook_mid_price_close: mid.clone(),
                })
            };
            match (cached, update) {
                (None, None) => {}
                (None, Some(u)) => written.push((market.clob_pair_id, new_candle(Some(u), None)?)),
                (Some(c), u) if c.started_at != start => {
                    let mut previous = c.clone();
                    if let Some(mid) = &mid {
                        previous.orderbook_mid_price_close = Some(mid.clone());
                    }
                    let next = new_candle(u, Some(&c.close))?;
                    written.push((market.clob_pair_id, previous));
                    written.push((market.clob_pair_id, next));
                }
                (Some(_), None) => {}
                (Some(c), Some(u)) => {
                    let mut candle = c.clone();
                    if candle.trades == 0 {
                        candle.low = u.low.clone();
                        candle.high = u.high.clone();
                        candle.open = u.open.clone();
                        candle.close = u.close.clone();
                        candle.base_token_volume = u.base_volume.clone();
                        candle.usd_volume = u.usd_volume.clone();
                        candle.trades = u.trades;
                    } else {
                        if u.low < candle.low {
                            candle.low = u.low.clone();
                        }
                        if u.high > candle.high {
                            candle.high = u.high.clone();
                        }
                        candle.close = u.close.clone();
                        candle.base_token_volume =
                            (&candle.base_token_volume + &u.base_volume).trim();
                        candle.usd_volume = (&candle.usd_volume + &u.usd_volume).trim();
                        candle.trades += u.trades;
                    }
                    written.push((market.clob_pair_id, candle));
                }
            }
        }
    }
    for (clob_pair_id, candle) in written {
        w.pending.push(Pending::Candle {
            clob_pair_id,
            candle: candle.clone(),
        });
        w.new_candles.push(candle);
    }
    Ok(())
}
