//! The read side shared by comlink (REST and GraphQL) and socks (subscription snapshots): every
//! query of serve.md §4 and the response objects of §3, with the exact JSON shapes (§0) and the
//! derived values (§3.8).
//!
//! Reads take the reader pool (`&PgPool`: the read replica when configured, otherwise the
//! primary; the caller decides, e.g. for `minHeight`) and, for order-book and open-order state,
//! Redis through [`indexer_cache::Cache`]. Ticker and clob-pair lookups use a
//! [`markets::MarketsSnapshot`] from the process-wide [`markets::MarketCache`].
//!
//! Modules: [`json`] (value types), [`page`] (limits and pagination), [`blocks`], [`markets`],
//! [`orderbook`], [`trades`], [`candles`], [`funding`], [`subaccounts`] (subaccounts, asset and
//! perpetual positions), [`orders`], [`fills`], [`transfers`], [`pnl`] (ticks and aggregated PnL),
//! [`funding_payments`], [`rewards`], [`sparklines`], [`social`] (trader search, affiliates),
//! [`trade_history`], [`compliance`] (screening state), [`vaults`] (megavault PnL and positions).

/// `impl From<Paged<$item>> for $response`: the page's items under `$field`, its keys as `page`.
macro_rules! response_from_paged {
    ($response:ident, $field:ident, $item:ty) => {
        impl From<crate::page::Paged<$item>> for $response {
            fn from(paged: crate::page::Paged<$item>) -> Self {
                Self {
                    $field: paged.items,
                    page: paged.page,
                }
            }
        }
    };
}

pub mod affiliates;
pub mod blocks;
pub mod candles;
pub mod compliance;
mod error;
pub mod fills;
pub mod funding;
pub mod funding_payments;
pub mod json;
pub mod markets;
pub mod orderbook;
pub mod orders;
pub mod page;
pub mod pnl;
pub mod rewards;
pub mod social;
pub mod sparklines;
mod sql;
pub mod subaccounts;
pub mod trade_history;
pub mod trades;
pub mod transfers;
pub mod vaults;

pub use error::QueryError;
pub use json::{IntString, IsoTime, Numeric, OrderedMap};
pub use markets::{MarketCache, MarketsSnapshot, PerpetualMarketInfo};
pub use page::{PageInfo, Paged, Pagination, API_LIMIT};
