//! The handlers, one module per resource. Each validates its parameters in the order the
//! reference declares them, runs the compliance check where the spec applies it, then reads
//! through `indexer-query` at the height the caller asked for.

pub mod addresses;
pub mod affiliates;
pub mod asset_positions;
mod body;
pub mod candles;
pub mod compliance;
pub mod fills;
pub mod funding_payments;
pub mod historical_funding;
pub mod historical_pnl;
pub mod orderbooks;
pub mod orders;
pub mod perpetual_markets;
pub mod perpetual_positions;
pub mod pnl;
pub mod rewards;
pub mod signed_posts;
pub mod social;
pub mod sparklines;
pub mod trade_history;
pub mod trades;
pub mod transfers;
pub mod utility;
pub mod vaults;

use std::collections::HashMap;

use indexer_domain::MarketType;
use indexer_query::subaccounts::{subaccount_numbers, SubaccountSelector};
use indexer_query::MarketsSnapshot;
use sqlx::PgPool;
use uuid::Uuid;

use crate::ctx::Ctx;
use crate::error::{ApiError, ApiResult};

use crate::error::Location;
use crate::params::{Validator, MSG_DYDX_ADDRESS, MSG_INVALID};

/// Route families sharing one `Cache-Control` directive (`CACHE_CONTROL_DIRECTIVE_<FAMILY>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheFamily {
    Addresses,
    Affiliates,
    AffiliatesMetadata,
    AssetPositions,
    Candles,
    Fills,
    Funding,
    HistoricalBlockTradingRewards,
    HistoricalFunding,
    HistoricalPnl,
    HistoricalTradingRewards,
    Orderbook,
    Orders,
    PerpetualMarkets,
    PerpetualPositions,
    Pnl,
    SocialTrading,
    Sparklines,
    Time,
    Trades,
    Transfers,
    Vaults,
}

impl CacheFamily {
    pub const ALL: &'static [CacheFamily] = &[
        CacheFamily::Addresses,
        CacheFamily::Affiliates,
        CacheFamily::AffiliatesMetadata,
        CacheFamily::AssetPositions,
        CacheFamily::Candles,
        CacheFamily::Fills,
        CacheFamily::Funding,
        CacheFamily::HistoricalBlockTradingRewards,
        CacheFamily::HistoricalFunding,
        CacheFamily::HistoricalPnl,
        CacheFamily::HistoricalTradingRewards,
        CacheFamily::Orderbook,
        CacheFamily::Orders,
        CacheFamily::PerpetualMarkets,
        CacheFamily::PerpetualPositions,
        CacheFamily::Pnl,
        CacheFamily::SocialTrading,
        CacheFamily::Sparklines,
        CacheFamily::Time,
        CacheFamily::Trades,
        CacheFamily::Transfers,
        CacheFamily::Vaults,
    ];

    pub fn env_name(self) -> &'static str {
        match self {
            CacheFamily::Addresses => "ADDRESSES",
            CacheFamily::Affiliates => "AFFILIATES",
            CacheFamily::AffiliatesMetadata => "AFFILIATES_METADATA",
            CacheFamily::AssetPositions => "ASSET_POSITIONS",
            CacheFamily::Candles => "CANDLES",
            CacheFamily::Fills => "FILLS",
            CacheFamily::Funding => "FUNDING",
            CacheFamily::HistoricalBlockTradingRewards => "HISTORICAL_BLOCK_TRADING_REWARDS",
            CacheFamily::HistoricalFunding => "HISTORICAL_FUNDING",
            CacheFamily::HistoricalPnl => "HISTORICAL_PNL",
            CacheFamily::HistoricalTradingRewards => "HISTORICAL_TRADING_REWARDS",
            CacheFamily::Orderbook => "ORDERBOOK",
            CacheFamily::Orders => "ORDERS",
            CacheFamily::PerpetualMarkets => "PERPETUAL_MARKETS",
            CacheFamily::PerpetualPositions => "PERPETUAL_POSITIONS",
            CacheFamily::Pnl => "PNL",
            CacheFamily::SocialTrading => "SOCIAL_TRADING",
            CacheFamily::Sparklines => "SPARKLINES",
            CacheFamily::Time => "TIME",
            CacheFamily::Trades => "TRADES",
            CacheFamily::Transfers => "TRANSFERS",
            CacheFamily::Vaults => "VAULTS",
        }
    }

    /// serve.md §2.7.
    pub fn default_directive(self) -> &'static str {
        match self {
            CacheFamily::Time => "no-cache, no-store, no-transform",
            CacheFamily::AffiliatesMetadata => "no-cache",
            CacheFamily::Affiliates => "public, max-age=10",
            CacheFamily::Funding
            | CacheFamily::HistoricalBlockTradingRewards
            | CacheFamily::HistoricalFunding
            | CacheFamily::HistoricalPnl
            | CacheFamily::HistoricalTradingRewards
            | CacheFamily::Pnl
            | CacheFamily::SocialTrading
            | CacheFamily::Sparklines
            | CacheFamily::Vaults => "public, max-age=10",
            _ => "public, max-age=1",
        }
    }
}

/// `address` + `subaccountNumber` from the query (the single-subaccount account routes).
fn single_subaccount(v: &mut Validator<'_>) -> Option<SubaccountSelector> {
    let address = v.dydx_address(Location::Query, MSG_DYDX_ADDRESS);
    let number = v.subaccount_number(Location::Query);
    Some(SubaccountSelector::Single {
        address: address?,
        number: number?,
    })
}

/// `address` + `parentSubaccountNumber` from the query (the parent account routes).
fn parent_subaccount(v: &mut Validator<'_>) -> Option<SubaccountSelector> {
    let address = v.dydx_address(Location::Query, MSG_DYDX_ADDRESS);
    let parent = v.parent_subaccount_number(Location::Query);
    Some(SubaccountSelector::Parent {
        address: address?,
        parent: parent?,
    })
}

const MSG_MARKET_TYPE: &str = "marketType must be a valid market type (PERPETUAL/SPOT)";
const MSG_MARKET_NEEDS_TYPE: &str = "marketType must be provided if market is provided";
const MSG_TYPE_NEEDS_MARKET: &str = "market must be provided if marketType is provided";

/// Which account query parameters a route reads.
#[derive(Clone, Copy)]
pub(crate) enum AccountScope {
    /// `address` + `subaccountNumber`.
    Subaccount,
    /// `address` + `parentSubaccountNumber`.
    ParentSubaccount,
}

/// Validates the account selector of `scope` and the route's own parameters (`parse`) together,
/// so one 400 lists every invalid parameter.
pub(crate) fn account_request<P>(
    ctx: &Ctx,
    scope: AccountScope,
    parse: impl FnOnce(&mut Validator<'_>) -> P,
) -> ApiResult<(SubaccountSelector, P)> {
    let mut v = ctx.validator();
    let selector = match scope {
        AccountScope::Subaccount => single_subaccount(&mut v),
        AccountScope::ParentSubaccount => parent_subaccount(&mut v),
    };
    let params = parse(&mut v);
    ctx.finish(v)?;
    Ok((validated(selector), params))
}

/// Subaccount id -> subaccount number for the selected accounts; parents resolve their existing
/// children to concrete ids first (keeps Postgres on the index).
pub(crate) async fn subaccount_number_map(
    pool: &PgPool,
    selector: &SubaccountSelector,
) -> ApiResult<HashMap<Uuid, i32>> {
    Ok(match selector {
        SubaccountSelector::Single { number, .. } => selector
            .subaccount_ids()
            .into_iter()
            .map(|id| (id, *number as i32))
            .collect(),
        SubaccountSelector::Parent { .. } => {
            subaccount_numbers(pool, &selector.subaccount_ids()).await?
        }
    })
}

/// `market` + `marketType` (both or neither), as fills and trade history filter by market.
pub(crate) fn market_with_type(v: &mut Validator<'_>) -> Option<(String, MarketType)> {
    let market = v.check(Location::Query, "market", false, MSG_INVALID, |t| {
        Some(t.to_owned())
    });
    let market_type: Option<MarketType> = v.one_of("marketType", false, MSG_MARKET_TYPE);
    match (v.has("market"), v.has("marketType")) {
        (true, false) => v.error(Location::Query, "marketType", MSG_MARKET_NEEDS_TYPE),
        (false, true) => v.error(Location::Query, "market", MSG_TYPE_NEEDS_MARKET),
        _ => {}
    }
    market.zip(market_type)
}

/// The clob pair of a `market_with_type` selection; 404 when no market of that type has the ticker.
pub(crate) fn clob_pair_of(
    markets: &MarketsSnapshot,
    (market, market_type): &(String, MarketType),
) -> ApiResult<i64> {
    let found = match market_type {
        MarketType::Perpetual => markets.by_ticker(market),
        // Spot markets do not exist in v4.
        MarketType::Spot => None,
    };
    found.map(|found| found.clob_pair_id).ok_or_else(|| {
        ApiError::NotFound(format!(
            "{market} not found in markets of type {market_type}"
        ))
    })
}

/// Unwraps values that a successful [`crate::ctx::Ctx::finish`] guarantees.
pub(crate) fn validated<T>(value: Option<T>) -> T {
    value.expect("validation passed, so the parameter is present")
}
