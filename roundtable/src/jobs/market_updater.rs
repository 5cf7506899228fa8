//! `market_updater` (ops.md §1.4 #1): 24-hour trade count and volume, 24-hour oracle price
//! change, open interest and the predicted next funding rate of every perpetual market, written
//! in one transaction; the fields that changed go to `v4_markets` subscribers.
//!
//! Reads: `perpetual_markets` (primary: the values being replaced), latest and 24-hour-old
//! `oracle_prices`, taker `fills` of the last 24 h, open long `perpetual_positions` (replica),
//! Redis lists `v4/nextFunding/<ticker>`. Writes: the five statistics columns of
//! `perpetual_markets` and, in the same transaction, one markets message
//! (`{"trading":{ticker:{changed fields}}}`, version 1.0.0, no key) appended to ender's outbox:
//! it takes the next `v4_markets` seq and ender's relay publishes it on `to-websockets-markets`
//! in order with ender's own market messages (beyond.md §1–2), so subscribers see no gap and a
//! crash between the update and the publish loses nothing.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use bigdecimal::{BigDecimal, RoundingMode};
use chrono::{DateTime, TimeDelta, Utc};
use indexer_bus::Topic;
use indexer_domain::Decimal;
use indexer_proto::socks::MarketMessage;
use indexer_store::roundtable::markets::{self as store, MarketStatsRow, MarketStatsUpdate};
use indexer_store::write::{enqueue_messages, Channel, OutboxMessage};
use prost::Message;
use serde::Serialize;

use crate::jobs::Deps;
use crate::scheduler::{Job, RunContext};
use crate::JobError;

/// Version of the markets websocket message.
pub const MARKETS_VERSION: &str = "1.0.0";
/// Decimal places of the averaged funding samples (big.js's default division precision, which
/// the reference's average uses), rounded half away from zero.
const FUNDING_AVERAGE_SCALE: i64 = 20;

/// Everything the statistics are computed from.
#[derive(Debug, Clone, Default)]
pub struct MarketInputs {
    pub markets: Vec<MarketStatsRow>,
    /// Market id → newest oracle price.
    pub latest_prices: HashMap<i32, Decimal>,
    /// Market id → newest oracle price at least 24 hours old.
    pub prices_24h_ago: HashMap<i32, Decimal>,
    /// CLOB pair id → (trades, quote volume) of the last 24 hours.
    pub fills: HashMap<i64, (i64, Decimal)>,
    /// Perpetual id → open interest.
    pub open_interest: HashMap<i64, Decimal>,
    /// Ticker → premium samples since the last funding tick (as stored).
    pub funding_samples: HashMap<String, Vec<String>>,
}

/// What one run writes and publishes.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketPlan {
    pub updates: Vec<MarketStatsUpdate>,
    /// JSON contents of the markets message, when any field changed.
    pub message: Option<String>,
}

/// The fields of one market that changed, in the reference's key order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
struct ChangedFields {
    #[serde(rename = "priceChange24H", skip_serializing_if = "Option::is_none")]
    price_change_24h: Option<String>,
    #[serde(rename = "volume24H", skip_serializing_if = "Option::is_none")]
    volume_24h: Option<String>,
    #[serde(rename = "trades24H", skip_serializing_if = "Option::is_none")]
    trades_24h: Option<i32>,
    #[serde(rename = "nextFundingRate", skip_serializing_if = "Option::is_none")]
    next_funding_rate: Option<String>,
    #[serde(rename = "openInterest", skip_serializing_if = "Option::is_none")]
    open_interest: Option<String>,
}

impl ChangedFields {
    fn is_empty(&self) -> bool {
        *self == ChangedFields::default()
    }
}

#[derive(Serialize)]
struct MarketsContents<'a> {
    trading: &'a BTreeMap<String, ChangedFields>,
}

/// The new statistics of every market and the message announcing what changed.
///
/// - trades and volume: 0 for a market without fills in the window;
/// - price change: latest − 24-hour-old price; kept when either is missing;
/// - open interest: 0 without open longs;
/// - next funding rate: average of the samples (20 decimals) + the market's default 1-hour
///   rate; kept when there are no samples (right after a funding tick). Unparsable samples are
///   skipped.
pub fn plan(inputs: &MarketInputs) -> Result<MarketPlan, JobError> {
    let mut updates = Vec::with_capacity(inputs.markets.len());
    let mut changed = BTreeMap::new();
    for market in &inputs.markets {
        let (trades, volume) = inputs
            .fills
            .get(&market.clob_pair_id)
            .cloned()
            .unwrap_or((0, Decimal::zero()));
        let trades = i32::try_from(trades).map_err(|_| {
            JobError::Invalid(format!(
                "{}: {trades} trades exceed the column",
                market.ticker
            ))
        })?;
        let old = Stats::of(market);
        let new = Stats {
            trades,
            volume,
            price_change: price_change(inputs, market.market_id)
                .unwrap_or(old.price_change.clone()),
            open_interest: inputs
                .open_interest
                .get(&market.id)
                .cloned()
                .unwrap_or_else(Decimal::zero),
            next_funding_rate: next_funding_rate(inputs, market)
                .unwrap_or(old.next_funding_rate.clone()),
        };
        let fields = diff(&old, &new);
        if !fields.is_empty() {
            changed.insert(market.ticker.clone(), fields);
        }
        updates.push(new.into_update(market.id));
    }
    let message = (!changed.is_empty()).then(|| {
        serde_json::to_string(&MarketsContents { trading: &changed })
            .expect("plain fields serialize")
    });
    Ok(MarketPlan { updates, message })
}

/// The five statistics of one market.
#[derive(Debug, Clone)]
struct Stats {
    trades: i32,
    volume: Decimal,
    price_change: Decimal,
    open_interest: Decimal,
    next_funding_rate: Decimal,
}

impl Stats {
    fn of(row: &MarketStatsRow) -> Self {
        Stats {
            trades: row.trades_24h,
            volume: row.volume_24h.clone().into(),
            price_change: row.price_change_24h.clone().into(),
            open_interest: row.open_interest.clone().into(),
            next_funding_rate: row.next_funding_rate.clone().into(),
        }
    }

    fn into_update(self, id: i64) -> MarketStatsUpdate {
        MarketStatsUpdate {
            id,
            trades_24h: self.trades,
            volume_24h: self.volume.trim().into(),
            price_change_24h: self.price_change.trim().into(),
            open_interest: self.open_interest.trim().into(),
            next_funding_rate: self.next_funding_rate.trim().into(),
        }
    }
}

/// Changed fields only; values compared numerically (`1.50` equals `1.5`).
fn diff(old: &Stats, new: &Stats) -> ChangedFields {
    let text = |old: &Decimal, new: &Decimal| (old != new).then(|| new.to_string());
    ChangedFields {
        price_change_24h: text(&old.price_change, &new.price_change),
        volume_24h: text(&old.volume, &new.volume),
        trades_24h: (old.trades != new.trades).then_some(new.trades),
        next_funding_rate: text(&old.next_funding_rate, &new.next_funding_rate),
        open_interest: text(&old.open_interest, &new.open_interest),
    }
}

fn price_change(inputs: &MarketInputs, market_id: i32) -> Option<Decimal> {
    let latest = inputs.latest_prices.get(&market_id)?;
    let day_ago = inputs.prices_24h_ago.get(&market_id)?;
    Some(latest.clone() - day_ago.clone())
}

fn next_funding_rate(inputs: &MarketInputs, market: &MarketStatsRow) -> Option<Decimal> {
    let samples: Vec<BigDecimal> = inputs
        .funding_samples
        .get(&market.ticker)?
        .iter()
        .filter_map(|text| match Decimal::parse(text) {
            Ok(value) => Some(value.into()),
            Err(_) => {
                tracing::warn!(ticker = %market.ticker, sample = %text, "unparsable funding sample ignored");
                None
            }
        })
        .collect();
    if samples.is_empty() {
        return None;
    }
    let count = BigDecimal::from(samples.len() as u64);
    let sum: BigDecimal = samples.iter().sum();
    let average = (sum / count).with_scale_round(FUNDING_AVERAGE_SCALE, RoundingMode::HalfUp);
    let default_rate = market.default_funding_rate_1h.clone().unwrap_or_default();
    Some(Decimal::from(average + default_rate))
}

/// The job.
pub struct MarketUpdater {
    deps: Deps,
}

impl MarketUpdater {
    pub fn new(deps: Deps) -> Self {
        Self { deps }
    }

    async fn read(&self, now: DateTime<Utc>) -> Result<MarketInputs, JobError> {
        let primary = &self.deps.pools.primary;
        let reader = self.deps.pools.reader();
        let day_ago = now - TimeDelta::days(1);
        let (markets, latest, ago, fills, open_interest) = tokio::try_join!(
            store::market_stats_rows(primary),
            store::oracle_prices_at(reader, now),
            store::oracle_prices_at(reader, day_ago),
            store::taker_fill_stats_since(reader, day_ago),
            store::open_interest(reader),
        )?;
        let funding_samples = self.funding_samples(&markets).await?;
        let prices = |rows: Vec<(i32, BigDecimal)>| {
            rows.into_iter()
                .map(|(id, price)| (id, Decimal::from(price)))
                .collect()
        };
        Ok(MarketInputs {
            latest_prices: prices(latest),
            prices_24h_ago: prices(ago),
            fills: fills
                .into_iter()
                .map(|(clob, trades, volume)| (clob, (trades, Decimal::from(volume))))
                .collect(),
            open_interest: open_interest
                .into_iter()
                .map(|(id, size)| (id, Decimal::from(size)))
                .collect(),
            funding_samples,
            markets,
        })
    }

    /// `LRANGE v4/nextFunding/<ticker>` for every market, in one round trip.
    async fn funding_samples(
        &self,
        markets: &[MarketStatsRow],
    ) -> Result<HashMap<String, Vec<String>>, JobError> {
        if markets.is_empty() {
            return Ok(HashMap::new());
        }
        let keys = self.deps.cache.keys();
        let mut pipe = redis::pipe();
        for market in markets {
            pipe.lrange(keys.next_funding(&market.ticker), 0, -1);
        }
        let lists: Vec<Vec<String>> = pipe.query_async(&mut self.deps.cache.conn()).await?;
        Ok(markets
            .iter()
            .map(|m| m.ticker.clone())
            .zip(lists)
            .filter(|(_, samples)| !samples.is_empty())
            .collect())
    }
}

/// The outbox row carrying one markets message on the single `v4_markets` channel id.
fn markets_outbox_message(contents: String) -> OutboxMessage {
    let message = MarketMessage {
        contents,
        version: MARKETS_VERSION.to_string(),
    };
    OutboxMessage {
        topic: Topic::ToWebsocketsMarkets.base_name().to_string(),
        partition_key: None,
        payload: message.encode_to_vec(),
        headers: vec![("source".to_owned(), "roundtable".to_owned())],
        channel: Some(Channel {
            channel: "v4_markets".to_owned(),
            id: "v4_markets".to_owned(),
        }),
    }
}

#[async_trait]
impl Job for MarketUpdater {
    async fn run(&self, _ctx: &RunContext) -> Result<(), JobError> {
        let inputs = self.read(Utc::now()).await?;
        let plan = plan(&inputs)?;
        let mut tx = self.deps.pools.primary.begin().await?;
        store::update_market_stats(&mut tx, &plan.updates).await?;
        if let Some(contents) = plan.message {
            tracing::info!(contents = %contents, "queueing market statistics changes");
            enqueue_messages(&mut tx, &[markets_outbox_message(contents)]).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        Decimal::parse(text).unwrap()
    }

    fn text(value: &BigDecimal) -> String {
        Decimal::from(value.clone()).to_string()
    }

    fn market(id: i64, ticker: &str) -> MarketStatsRow {
        MarketStatsRow {
            id,
            clob_pair_id: id + 100,
            ticker: ticker.into(),
            market_id: id as i32,
            price_change_24h: "1.5".parse().unwrap(),
            volume_24h: "0".parse().unwrap(),
            trades_24h: 0,
            next_funding_rate: "0.0001".parse().unwrap(),
            open_interest: "0".parse().unwrap(),
            default_funding_rate_1h: None,
        }
    }

    #[test]
    fn statistics_are_computed_and_only_changed_fields_are_announced() {
        let mut inputs = MarketInputs {
            markets: vec![market(0, "BTC-USD"), market(1, "ETH-USD")],
            ..Default::default()
        };
        inputs.latest_prices.insert(0, d("50100"));
        inputs.prices_24h_ago.insert(0, d("50000"));
        inputs.fills.insert(100, (3, d("1500.50")));
        inputs.open_interest.insert(0, d("2.5"));
        // ETH: a stored change of 1.5 stays when no 24-hour-old price exists; nothing changes.
        inputs.latest_prices.insert(1, d("3000"));
        let plan = plan(&inputs).unwrap();
        let btc = &plan.updates[0];
        assert_eq!(btc.trades_24h, 3);
        assert_eq!(text(&btc.volume_24h), "1500.5");
        assert_eq!(text(&btc.price_change_24h), "100");
        assert_eq!(text(&btc.open_interest), "2.5");
        assert_eq!(text(&btc.next_funding_rate), "0.0001");
        assert_eq!(text(&plan.updates[1].price_change_24h), "1.5");
        assert_eq!(
            plan.message.as_deref(),
            Some(
                r#"{"trading":{"BTC-USD":{"priceChange24H":"100","volume24H":"1500.5","trades24H":3,"openInterest":"2.5"}}}"#
            )
        );
    }

    #[test]
    fn next_funding_is_the_sample_average_plus_the_default_rate() {
        let mut row = market(0, "BTC-USD");
        row.default_funding_rate_1h = Some("0.00001".parse().unwrap());
        let mut inputs = MarketInputs {
            markets: vec![row],
            ..Default::default()
        };
        inputs.funding_samples.insert(
            "BTC-USD".into(),
            vec!["0.0001".into(), "1.25e-7".into(), "0.0002".into()],
        );
        let plan = plan(&inputs).unwrap();
        // (0.0001 + 0.000000125 + 0.0002) / 3 = 0.000100041666... to 20 places, + 0.00001.
        assert_eq!(
            text(&plan.updates[0].next_funding_rate),
            "0.00011004166666666667"
        );
    }

    #[test]
    fn a_run_that_changes_nothing_publishes_nothing() {
        let inputs = MarketInputs {
            markets: vec![market(0, "BTC-USD")],
            ..Default::default()
        };
        let plan = plan(&inputs).unwrap();
        assert_eq!(plan.message, None);
        assert_eq!(plan.updates.len(), 1);
    }
}
