//! The GraphQL object types of serve.md §6.3: thin wrappers around the query library's response
//! objects (the same values REST serialises), field names the REST JSON names verbatim.
//!
//! Relation fields (a market's trades, a subaccount's fills, …) call the same query functions
//! as the REST handlers; a subaccount's fills go through the batching loader of `loaders.rs`.

use std::collections::HashMap;

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Enum, Object};
use indexer_domain::{CandleResolution as DomainResolution, OrderSide as DomainSide};
use indexer_query as q;
use indexer_query::subaccounts::SubaccountSelector;
use indexer_query::Pagination;
use uuid::Uuid;

use super::context::{self as cx, GqlResult};
use super::loaders::{FillsKey, FillsLoader};
use super::scalars::{Conv, DateTime, Decimal, Height, IntString};

/// `Wrapper(inner)` with one resolver per listed field: `field: Type` converts the inner field
/// of the same name with [`Conv`]; `field: Type => |inner| expr` computes it. An optional
/// `extra { … }` block adds resolvers with arguments.
macro_rules! object {
    (
        $(#[$meta:meta])* $wrapper:ident($inner:ty) {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty $(=> $conv:expr)? ),* $(,)?
        }
        $(extra { $($extra:tt)* })?
    ) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $wrapper(pub $inner);

        #[Object]
        impl $wrapper {
            $(
                $(#[$fmeta])*
                async fn $field(&self) -> $ty {
                    object!(@get self, $field $(, $conv)?)
                }
            )*
            $($($extra)*)?
        }

        impl Conv<$wrapper> for $inner {
            fn conv(&self) -> $wrapper {
                $wrapper(self.clone())
            }
        }
    };
    (@get $self:ident, $field:ident) => { Conv::conv(&$self.0.$field) };
    (@get $self:ident, $field:ident, $conv:expr) => { ($conv)(&$self.0) };
}

/// `{ items, pageSize, totalResults, offset }` (the last three null without `page`).
macro_rules! page {
    ($(#[$meta:meta])* $page:ident, $item:ident, $inner:ty) => {
        $(#[$meta])*
        pub struct $page(pub q::Paged<$inner>);

        #[Object]
        impl $page {
            async fn items(&self) -> Vec<$item> {
                self.0.items.conv()
            }
            async fn page_size(&self) -> Option<i32> {
                self.0.page.as_ref().map(|p| p.page_size.conv())
            }
            async fn total_results(&self) -> Option<i32> {
                self.0.page.as_ref().map(|p| i32::try_from(p.total_results).unwrap_or(i32::MAX))
            }
            async fn offset(&self) -> Option<i32> {
                self.0.page.as_ref().map(|p| i32::try_from(p.offset).unwrap_or(i32::MAX))
            }
        }
    };
}

/// Candle resolutions (GraphQL names cannot start with a digit; serve.md §6.2).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(rename_items = "UPPERCASE")]
pub enum CandleResolution {
    Min1,
    Min5,
    Min15,
    Min30,
    Hour1,
    Hour4,
    Day1,
}

impl From<CandleResolution> for DomainResolution {
    fn from(resolution: CandleResolution) -> Self {
        match resolution {
            CandleResolution::Min1 => DomainResolution::OneMinute,
            CandleResolution::Min5 => DomainResolution::FiveMinutes,
            CandleResolution::Min15 => DomainResolution::FifteenMinutes,
            CandleResolution::Min30 => DomainResolution::ThirtyMinutes,
            CandleResolution::Hour1 => DomainResolution::OneHour,
            CandleResolution::Hour4 => DomainResolution::FourHours,
            CandleResolution::Day1 => DomainResolution::OneDay,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(rename_items = "UPPERCASE")]
pub enum OrderSide {
    Buy,
    Sell,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
pub enum SparklineTimePeriod {
    OneDay,
    SevenDays,
}

pub struct Time;

#[Object]
impl Time {
    async fn iso(&self) -> DateTime {
        q::IsoTime(chrono::Utc::now()).conv()
    }
    async fn epoch(&self) -> f64 {
        chrono::Utc::now().timestamp_millis() as f64 / 1000.0
    }
}

object!(BlockHeight(q::blocks::BlockHeightResponse) { height: Height, time: DateTime });

object!(OrderbookLevel(q::orderbook::OrderbookLevel) { price: Decimal, size: Decimal });

/// A market's book from Redis (the atomic snapshot REST also reads).
pub struct Orderbook {
    pub ticker: String,
    pub book: q::orderbook::OrderbookResponse,
}

#[Object]
impl Orderbook {
    async fn ticker(&self) -> &str {
        &self.ticker
    }
    async fn bids(&self) -> Vec<OrderbookLevel> {
        self.book.bids.conv()
    }
    async fn asks(&self) -> Vec<OrderbookLevel> {
        self.book.asks.conv()
    }
}

object!(Trade(q::trades::Trade) {
    id: String, side: String, size: Decimal, price: Decimal,
    #[graphql(name = "type")] trade_type: String,
    created_at: DateTime, created_at_height: Option<Height> => |t: &q::trades::Trade| Some(t.created_at_height.conv()),
});
page!(TradePage, Trade, q::trades::Trade);

object!(Candle(q::candles::Candle) {
    started_at: DateTime, ticker: String, resolution: String, low: Decimal, high: Decimal,
    open: Decimal, close: Decimal, base_token_volume: Decimal, usd_volume: Decimal, trades: i32,
    starting_open_interest: Decimal, orderbook_mid_price_open: Option<Decimal>,
    orderbook_mid_price_close: Option<Decimal>,
});

object!(HistoricalFunding(q::funding::HistoricalFunding) {
    ticker: String, rate: Decimal, price: Decimal, effective_at: DateTime,
    effective_at_height: Height,
});

/// `PerpetualMarketResponseObject` plus its relations (written out: complexity expressions do
/// not survive `object!`'s macro hygiene).
#[derive(Clone)]
pub struct PerpetualMarket(pub q::markets::PerpetualMarketResponse);

impl Conv<PerpetualMarket> for q::markets::PerpetualMarketResponse {
    fn conv(&self) -> PerpetualMarket {
        PerpetualMarket(self.clone())
    }
}

#[Object]
impl PerpetualMarket {
    async fn clob_pair_id(&self) -> IntString {
        self.0.clob_pair_id.conv()
    }
    async fn ticker(&self) -> &str {
        &self.0.ticker
    }
    async fn status(&self) -> &str {
        &self.0.status
    }
    async fn oracle_price(&self) -> Option<Decimal> {
        self.0.oracle_price.conv()
    }
    #[graphql(name = "priceChange24H")]
    async fn price_change_24h(&self) -> Decimal {
        self.0.price_change_24h.conv()
    }
    #[graphql(name = "volume24H")]
    async fn volume_24h(&self) -> Decimal {
        self.0.volume_24h.conv()
    }
    #[graphql(name = "trades24H")]
    async fn trades_24h(&self) -> i32 {
        self.0.trades_24h
    }
    async fn next_funding_rate(&self) -> Decimal {
        self.0.next_funding_rate.conv()
    }
    async fn initial_margin_fraction(&self) -> Decimal {
        self.0.initial_margin_fraction.conv()
    }
    async fn maintenance_margin_fraction(&self) -> Decimal {
        self.0.maintenance_margin_fraction.conv()
    }
    async fn open_interest(&self) -> Decimal {
        self.0.open_interest.conv()
    }
    async fn atomic_resolution(&self) -> i32 {
        self.0.atomic_resolution
    }
    async fn quantum_conversion_exponent(&self) -> i32 {
        self.0.quantum_conversion_exponent
    }
    async fn tick_size(&self) -> Decimal {
        self.0.tick_size.conv()
    }
    async fn step_size(&self) -> Decimal {
        self.0.step_size.conv()
    }
    async fn step_base_quantums(&self) -> i32 {
        self.0.step_base_quantums
    }
    async fn subticks_per_tick(&self) -> i32 {
        self.0.subticks_per_tick
    }
    async fn market_type(&self) -> &str {
        &self.0.market_type
    }
    async fn open_interest_lower_cap(&self) -> Option<Decimal> {
        self.0.open_interest_lower_cap.conv()
    }
    async fn open_interest_upper_cap(&self) -> Option<Decimal> {
        self.0.open_interest_upper_cap.conv()
    }
    async fn base_open_interest(&self) -> Decimal {
        self.0
            .base_open_interest
            .as_ref()
            .map_or(Decimal("0".to_owned()), Conv::conv)
    }
    #[graphql(name = "defaultFundingRate1H")]
    async fn default_funding_rate_1h(&self) -> Option<Decimal> {
        self.0.default_funding_rate_1h.conv()
    }

    async fn orderbook(&self, ctx: &Context<'_>) -> GqlResult<Orderbook> {
        super::query::orderbook_of(ctx, &self.0.ticker).await
    }

    #[graphql(complexity = "limit.max(0) as usize + child_complexity")]
    async fn trades(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 1000)] limit: i32,
        created_before_or_at_height: Option<Height>,
        created_before_or_at: Option<DateTime>,
        page: Option<i32>,
    ) -> GqlResult<TradePage> {
        super::query::trades_of(
            ctx,
            &self.0.ticker,
            limit,
            created_before_or_at_height,
            created_before_or_at,
            page,
        )
        .await
    }

    #[graphql(complexity = "limit.max(0) as usize + child_complexity")]
    async fn candles(
        &self,
        ctx: &Context<'_>,
        resolution: CandleResolution,
        #[graphql(default = 1000)] limit: i32,
        #[graphql(name = "fromISO")] from_iso: Option<DateTime>,
        #[graphql(name = "toISO")] to_iso: Option<DateTime>,
    ) -> GqlResult<Vec<Candle>> {
        super::query::candles_of(ctx, &self.0.ticker, resolution, limit, from_iso, to_iso).await
    }

    #[graphql(complexity = "limit.max(0) as usize + child_complexity")]
    async fn historical_funding(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 1000)] limit: i32,
        effective_before_or_at_height: Option<Height>,
        effective_before_or_at: Option<DateTime>,
    ) -> GqlResult<Vec<HistoricalFunding>> {
        super::query::historical_funding_of(
            ctx,
            &self.0.ticker,
            limit,
            effective_before_or_at_height,
            effective_before_or_at,
        )
        .await
    }
}

object!(Sparkline((String, Vec<q::Numeric>)) {
    ticker: String => |s: &(String, Vec<q::Numeric>)| s.0.clone(),
    closes: Vec<Decimal> => |s: &(String, Vec<q::Numeric>)| s.1.conv(),
});

object!(AssetPosition(q::subaccounts::AssetPosition) {
    symbol: String, side: String, size: Decimal, asset_id: IntString, subaccount_number: i32,
});

object!(PerpetualPosition(q::subaccounts::PerpetualPosition) {
    market: String, status: String, side: String, size: Decimal, max_size: Decimal,
    entry_price: Decimal, realized_pnl: Decimal, created_at: DateTime, created_at_height: Height,
    sum_open: Decimal, sum_close: Decimal, net_funding: Decimal, unrealized_pnl: Decimal,
    closed_at: Option<DateTime>, exit_price: Option<Decimal>, subaccount_number: i32,
});

object!(Order(q::orders::Order) {
    id: Uuid, subaccount_id: Uuid, client_id: IntString, clob_pair_id: IntString, side: String,
    size: Decimal, total_filled: Decimal, price: Decimal,
    #[graphql(name = "type")] order_type: String,
    status: String, time_in_force: String, reduce_only: bool, order_flags: IntString,
    good_til_block: Option<Height>, good_til_block_time: Option<DateTime>,
    created_at_height: Option<Height>, created_at: Option<DateTime>, client_metadata: IntString,
    trigger_price: Option<Decimal>,
    updated_at: Option<DateTime> => |o: &q::orders::Order| o.updated_at.flatten().conv(),
    updated_at_height: Option<Height> => |o: &q::orders::Order| o.updated_at_height.flatten().conv(),
    builder_address: Option<String>, fee_ppm: Option<IntString>,
    order_router_address: Option<String>, duration: Option<IntString>,
    interval: Option<IntString>, price_tolerance: Option<IntString>, post_only: bool,
    ticker: String, subaccount_number: i32,
    removal_reason: Option<String> => |_: &q::orders::Order| None,
});

object!(Fill(q::fills::Fill) {
    id: Uuid, side: String, liquidity: String,
    #[graphql(name = "type")] fill_type: String,
    market: String, market_type: String, price: Decimal, size: Decimal, fee: Decimal,
    affiliate_rev_share: Decimal, created_at: DateTime, created_at_height: Height,
    order_id: Option<Uuid>, client_metadata: Option<IntString>, subaccount_number: i32,
    builder_fee: Option<Decimal>, builder_address: Option<String>,
    order_router_address: Option<String>, order_router_fee: Option<Decimal>,
    position_size_before: Option<Decimal>, entry_price_before: Option<Decimal>,
    position_side_before: Option<String>,
});
page!(FillPage, Fill, q::fills::Fill);

object!(TransferParty(q::transfers::TransferParty) {
    address: String, subaccount_number: Option<i32>, parent_subaccount_number: Option<i32>,
});

object!(Transfer(q::transfers::Transfer) {
    id: Option<Uuid> => |t: &q::transfers::Transfer| Some(t.id),
    sender: TransferParty, recipient: TransferParty, size: Decimal, created_at: DateTime,
    created_at_height: Height, symbol: String,
    #[graphql(name = "type")] transfer_type: String,
    transaction_hash: String,
});
page!(TransferPage, Transfer, q::transfers::Transfer);

object!(TransfersBetween(q::transfers::TransfersBetweenResponse) {
    transfers_subset: Vec<Transfer>, total_net_transfers: Decimal,
});

object!(PnlTick(q::pnl::PnlTick) {
    equity: Decimal, total_pnl: Decimal, net_transfers: Decimal, created_at: DateTime,
    block_height: Height, block_time: DateTime,
});
page!(PnlTickPage, PnlTick, q::pnl::PnlTick);

object!(Pnl(q::pnl::Pnl) {
    equity: Decimal, net_transfers: Decimal, total_pnl: Decimal, created_at: DateTime,
    created_at_height: Height,
});
page!(PnlPage, Pnl, q::pnl::Pnl);

object!(FundingPayment(q::funding_payments::FundingPayment) {
    created_at: DateTime, created_at_height: Height, perpetual_id: IntString, ticker: String,
    oracle_price: Decimal, size: Decimal, side: String, rate: Decimal, payment: Decimal,
    subaccount_number: i32, funding_index: Decimal,
});
page!(
    FundingPaymentPage,
    FundingPayment,
    q::funding_payments::FundingPayment
);

/// `SubaccountResponseObject` plus its collections (written out like [`PerpetualMarket`]).
#[derive(Clone)]
pub struct Subaccount(pub q::subaccounts::Subaccount);

impl Conv<Subaccount> for q::subaccounts::Subaccount {
    fn conv(&self) -> Subaccount {
        Subaccount(self.clone())
    }
}

#[Object]
impl Subaccount {
    /// The v5 UUID of the subaccount (a convenience field).
    async fn id(&self) -> Uuid {
        self.subaccount_id()
    }
    async fn address(&self) -> &str {
        &self.0.address
    }
    async fn subaccount_number(&self) -> i32 {
        self.0.subaccount_number
    }
    async fn equity(&self) -> Decimal {
        self.0.equity.conv()
    }
    async fn free_collateral(&self) -> Decimal {
        self.0.free_collateral.conv()
    }
    async fn open_perpetual_positions(&self) -> Vec<PerpetualPosition> {
        self.0
            .open_perpetual_positions
            .values()
            .map(|p| PerpetualPosition(p.clone()))
            .collect()
    }
    async fn asset_positions(&self) -> Vec<AssetPosition> {
        self.0
            .asset_positions
            .values()
            .map(|p| AssetPosition(p.clone()))
            .collect()
    }
    async fn margin_enabled(&self) -> bool {
        self.0.margin_enabled
    }
    async fn updated_at_height(&self) -> Height {
        self.0.updated_at_height.conv()
    }
    async fn latest_processed_block_height(&self) -> Height {
        self.0.latest_processed_block_height.conv()
    }

    #[graphql(complexity = "limit.max(0) as usize + child_complexity")]
    async fn perpetual_positions(
        &self,
        ctx: &Context<'_>,
        status: Option<Vec<String>>,
        #[graphql(default = 1000)] limit: i32,
        created_before_or_at_height: Option<Height>,
        created_before_or_at: Option<DateTime>,
    ) -> GqlResult<Vec<PerpetualPosition>> {
        let filter = q::subaccounts::PerpetualPositionsFilter {
            statuses: status.unwrap_or_default(),
            limit: cx::limit(ctx, Some(limit))?,
            created_before_or_at_height: created_before_or_at_height.map(|h| h.value()),
            created_before_or_at: created_before_or_at.map(|t| t.value()),
        };
        let db = cx::reader(ctx).await?;
        let markets = cx::markets(ctx, None).await?;
        let positions =
            q::subaccounts::perpetual_positions(&db.pool, &markets, &self.selector(), &filter)
                .await
                .map_err(cx::query_error)?;
        Ok(positions.conv())
    }

    #[graphql(complexity = "limit.max(0) as usize + child_complexity")]
    #[allow(clippy::too_many_arguments)]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        ticker: Option<String>,
        side: Option<OrderSide>,
        #[graphql(name = "type")] order_type: Option<String>,
        include_types: Option<Vec<String>>,
        exclude_types: Option<Vec<String>>,
        status: Option<Vec<String>>,
        good_til_block_before_or_at: Option<Height>,
        good_til_block_after: Option<Height>,
        good_til_block_time_before_or_at: Option<DateTime>,
        good_til_block_time_after: Option<DateTime>,
        return_latest_orders: Option<bool>,
        #[graphql(default = 1000)] limit: i32,
    ) -> GqlResult<Vec<Order>> {
        let markets = cx::markets(ctx, ticker.as_deref()).await?;
        let clob_pair_id = match &ticker {
            None => None,
            Some(ticker) => Some(
                markets
                    .by_ticker(ticker)
                    .map(|m| m.clob_pair_id)
                    .ok_or_else(|| cx::bad_input("ticker", crate::params::MSG_TICKER))?,
            ),
        };
        let filter = q::orders::OrdersFilter {
            clob_pair_id,
            side: side.map(|s| match s {
                OrderSide::Buy => DomainSide::Buy,
                OrderSide::Sell => DomainSide::Sell,
            }),
            order_type,
            include_types: include_types.unwrap_or_default(),
            exclude_types: exclude_types.unwrap_or_default(),
            statuses: status.unwrap_or_default(),
            good_til_block_before_or_at: good_til_block_before_or_at.map(|h| h.value()),
            good_til_block_after: good_til_block_after.map(|h| h.value()),
            good_til_block_time_before_or_at: good_til_block_time_before_or_at.map(|t| t.value()),
            good_til_block_time_after: good_til_block_time_after.map(|t| t.value()),
            descending: !return_latest_orders.unwrap_or(false),
            limit: cx::limit(ctx, Some(limit))?,
        };
        let db = cx::reader(ctx).await?;
        let cache = cx::request(ctx)?.state.cache().clone();
        let orders = q::orders::orders(&db.pool, &cache, &markets, &self.selector(), &filter)
            .await
            .map_err(cx::query_error)?;
        Ok(orders.conv())
    }

    /// Batched across every subaccount of the request that asks with the same arguments.
    #[graphql(complexity = "limit.max(0) as usize + child_complexity")]
    #[allow(clippy::too_many_arguments)]
    async fn fills(
        &self,
        ctx: &Context<'_>,
        market: Option<String>,
        market_type: Option<String>,
        include_types: Option<Vec<String>>,
        exclude_types: Option<Vec<String>>,
        #[graphql(default = 1000)] limit: i32,
        created_before_or_at_height: Option<Height>,
        created_before_or_at: Option<DateTime>,
        page: Option<i32>,
    ) -> GqlResult<FillPage> {
        let markets = cx::markets(ctx, market.as_deref()).await?;
        let clob_pair_id = match &market {
            None => None,
            Some(market) => Some(clob_pair_of(&markets, market, market_type.as_deref())?),
        };
        let filter = q::fills::FillsFilter {
            clob_pair_id,
            include_types: include_types.unwrap_or_default(),
            exclude_types: exclude_types.unwrap_or_default(),
            created_before_or_at_height: created_before_or_at_height.map(|h| h.value()),
            created_before_or_at: created_before_or_at.map(|t| t.value()),
            pagination: Pagination::new(cx::limit(ctx, Some(limit))?, cx::page(page)?),
        };
        let loader = ctx.data::<DataLoader<FillsLoader>>()?;
        let key = FillsKey::new(self.subaccount_id(), self.0.subaccount_number, &filter);
        let paged = loader.load_one(key).await?.unwrap_or(q::Paged {
            items: Vec::new(),
            page: filter.pagination.info(0),
        });
        Ok(FillPage(paged))
    }

    #[graphql(complexity = "limit.max(0) as usize + child_complexity")]
    async fn transfers(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 1000)] limit: i32,
        created_before_or_at_height: Option<Height>,
        created_before_or_at: Option<DateTime>,
        page: Option<i32>,
    ) -> GqlResult<TransferPage> {
        let filter = q::transfers::TransfersFilter {
            created_before_or_at_height: created_before_or_at_height.map(|h| h.value()),
            created_before_or_at: created_before_or_at.map(|t| t.value()),
            pagination: Pagination::new(cx::limit(ctx, Some(limit))?, cx::page(page)?),
        };
        let db = cx::reader(ctx).await?;
        let paged = q::transfers::transfers(&db.pool, &self.selector(), &filter)
            .await
            .map_err(cx::query_error)?;
        Ok(TransferPage(paged))
    }

    #[graphql(complexity = "limit.max(0) as usize + child_complexity")]
    #[allow(clippy::too_many_arguments)]
    async fn historical_pnl(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 1000)] limit: i32,
        created_before_or_at_height: Option<Height>,
        created_before_or_at: Option<DateTime>,
        created_on_or_after_height: Option<Height>,
        created_on_or_after: Option<DateTime>,
        page: Option<i32>,
    ) -> GqlResult<PnlTickPage> {
        let filter = pnl_filter(
            ctx,
            limit,
            page,
            created_before_or_at_height,
            created_before_or_at,
            created_on_or_after_height,
            created_on_or_after,
        )?;
        let db = cx::reader(ctx).await?;
        let paged = q::pnl::historical_pnl(&db.pool, &self.selector(), &filter)
            .await
            .map_err(cx::query_error)?;
        Ok(PnlTickPage(paged))
    }

    #[graphql(complexity = "limit.max(0) as usize + child_complexity")]
    #[allow(clippy::too_many_arguments)]
    async fn pnl(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] daily: bool,
        #[graphql(default = 1000)] limit: i32,
        created_before_or_at_height: Option<Height>,
        created_before_or_at: Option<DateTime>,
        created_on_or_after_height: Option<Height>,
        created_on_or_after: Option<DateTime>,
        page: Option<i32>,
    ) -> GqlResult<PnlPage> {
        let filter = pnl_filter(
            ctx,
            limit,
            page,
            created_before_or_at_height,
            created_before_or_at,
            created_on_or_after_height,
            created_on_or_after,
        )?;
        let db = cx::reader(ctx).await?;
        let paged = q::pnl::pnl(&db.pool, &self.selector(), &filter, daily)
            .await
            .map_err(cx::query_error)?;
        Ok(PnlPage(paged))
    }

    #[graphql(complexity = "limit.max(0) as usize + child_complexity")]
    async fn funding_payments(
        &self,
        ctx: &Context<'_>,
        ticker: Option<String>,
        created_on_or_after: Option<DateTime>,
        #[graphql(default = false)] show_zero_payments: bool,
        #[graphql(default = 1000)] limit: i32,
        page: Option<i32>,
    ) -> GqlResult<FundingPaymentPage> {
        let filter = q::funding_payments::FundingPaymentsFilter {
            ticker,
            created_on_or_after: created_on_or_after.map(|t| t.value()),
            show_zero_payments,
            pagination: Pagination::new(cx::limit(ctx, Some(limit))?, cx::page(page)?),
        };
        let db = cx::reader(ctx).await?;
        let numbers = HashMap::from([(self.subaccount_id(), self.0.subaccount_number)]);
        let paged = q::funding_payments::funding_payments(&db.pool, &numbers, &filter)
            .await
            .map_err(cx::query_error)?;
        Ok(FundingPaymentPage(paged))
    }

    #[graphql(complexity = "limit.max(0) as usize + child_complexity")]
    async fn trade_history(
        &self,
        ctx: &Context<'_>,
        market: Option<String>,
        market_type: Option<String>,
        #[graphql(default = 1000)] limit: i32,
        page: Option<i32>,
    ) -> GqlResult<TradeHistoryPage> {
        let pagination = Pagination::new(cx::limit(ctx, Some(limit))?, cx::page(page)?);
        let markets = cx::markets(ctx, market.as_deref()).await?;
        let clob_pair_id = match &market {
            None => None,
            Some(market) => Some(clob_pair_of(&markets, market, market_type.as_deref())?),
        };
        let db = cx::reader(ctx).await?;
        let numbers = HashMap::from([(self.subaccount_id(), self.0.subaccount_number)]);
        let history =
            q::trade_history::trade_history(&db.pool, &markets, &numbers, clob_pair_id, pagination)
                .await
                .map_err(cx::query_error)?;
        Ok(TradeHistoryPage(history))
    }
}

impl Subaccount {
    fn subaccount_id(&self) -> Uuid {
        indexer_domain::ids::subaccount_uuid(&self.0.address, self.0.subaccount_number as u32)
    }

    fn selector(&self) -> SubaccountSelector {
        SubaccountSelector::Single {
            address: self.0.address.clone(),
            number: self.0.subaccount_number as u32,
        }
    }
}

/// The clob pair of `market` of `marketType` (default PERPETUAL; spot markets do not exist in
/// v4), with the REST 404 text.
fn clob_pair_of(
    markets: &q::MarketsSnapshot,
    market: &str,
    market_type: Option<&str>,
) -> GqlResult<i64> {
    let market_type = market_type.unwrap_or("PERPETUAL");
    (market_type == "PERPETUAL")
        .then(|| markets.by_ticker(market))
        .flatten()
        .map(|found| found.clob_pair_id)
        .ok_or_else(|| {
            cx::api_error(crate::error::ApiError::NotFound(format!(
                "{market} not found in markets of type {market_type}"
            )))
        })
}

#[allow(clippy::too_many_arguments)]
fn pnl_filter(
    ctx: &Context<'_>,
    limit: i32,
    page: Option<i32>,
    created_before_or_at_height: Option<Height>,
    created_before_or_at: Option<DateTime>,
    created_on_or_after_height: Option<Height>,
    created_on_or_after: Option<DateTime>,
) -> GqlResult<q::pnl::PnlFilter> {
    Ok(q::pnl::PnlFilter {
        created_before_or_at_height: created_before_or_at_height.map(|h| h.value()),
        created_before_or_at: created_before_or_at.map(|t| t.value()),
        created_on_or_after_height: created_on_or_after_height.map(|h| h.value()),
        created_on_or_after: created_on_or_after.map(|t| t.value()),
        pagination: Pagination::new(cx::limit(ctx, Some(limit))?, cx::page(page)?),
    })
}

object!(ParentSubaccount(q::subaccounts::ParentSubaccount) {
    address: String, parent_subaccount_number: i32, equity: Decimal, free_collateral: Decimal,
    child_subaccounts: Vec<Subaccount>,
});

/// `GET /v4/addresses/{address}` plus the address's trading rewards.
pub struct Address {
    pub address: String,
    pub response: q::subaccounts::AddressResponse,
}

#[Object]
impl Address {
    async fn address(&self) -> &str {
        &self.address
    }
    async fn subaccounts(&self) -> Vec<Subaccount> {
        self.response.subaccounts.conv()
    }
    async fn total_trading_rewards(&self) -> Decimal {
        self.response.total_trading_rewards.conv()
    }

    #[graphql(complexity = "limit.max(0) as usize + child_complexity")]
    async fn historical_block_trading_rewards(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 1000)] limit: i32,
        starting_before_or_at: Option<DateTime>,
        starting_before_or_at_height: Option<Height>,
    ) -> GqlResult<Vec<TradingReward>> {
        let filter = rewards_filter(
            ctx,
            limit,
            starting_before_or_at,
            starting_before_or_at_height,
        )?;
        let db = cx::reader(ctx).await?;
        let rewards = q::rewards::block_rewards(&db.pool, &self.address, &filter)
            .await
            .map_err(cx::query_error)?;
        Ok(rewards.conv())
    }

    #[graphql(complexity = "limit.max(0) as usize + child_complexity")]
    async fn historical_trading_reward_aggregations(
        &self,
        ctx: &Context<'_>,
        period: TradingRewardAggregationPeriod,
        #[graphql(default = 1000)] limit: i32,
        starting_before_or_at: Option<DateTime>,
        starting_before_or_at_height: Option<Height>,
    ) -> GqlResult<Vec<TradingRewardAggregation>> {
        let filter = rewards_filter(
            ctx,
            limit,
            starting_before_or_at,
            starting_before_or_at_height,
        )?;
        let period = match period {
            TradingRewardAggregationPeriod::Daily => "DAILY",
            TradingRewardAggregationPeriod::Weekly => "WEEKLY",
            TradingRewardAggregationPeriod::Monthly => "MONTHLY",
        };
        let db = cx::reader(ctx).await?;
        let rewards = q::rewards::aggregated_rewards(&db.pool, &self.address, period, &filter)
            .await
            .map_err(cx::query_error)?;
        Ok(rewards.conv())
    }
}

fn rewards_filter(
    ctx: &Context<'_>,
    limit: i32,
    starting_before_or_at: Option<DateTime>,
    starting_before_or_at_height: Option<Height>,
) -> GqlResult<q::rewards::RewardsFilter> {
    Ok(q::rewards::RewardsFilter {
        limit: cx::limit(ctx, Some(limit))?,
        starting_before_or_at: starting_before_or_at.map(|t| t.value()),
        starting_before_or_at_height: starting_before_or_at_height.map(|h| h.value()),
    })
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(rename_items = "UPPERCASE")]
pub enum TradingRewardAggregationPeriod {
    Daily,
    Weekly,
    Monthly,
}

object!(TradingReward(q::rewards::BlockTradingReward) {
    trading_reward: Decimal, created_at: DateTime, created_at_height: Height,
});

object!(TradingRewardAggregation(q::rewards::TradingRewardAggregation) {
    trading_reward: Decimal, started_at: DateTime, started_at_height: Height,
    ended_at: Option<DateTime>, ended_at_height: Option<Height>, period: String,
});

object!(TradeHistoryRow(q::trade_history::TradeHistoryRow) {
    id: String, subaccount_number: i32, action: String, execution_price: Decimal,
    entry_price: Decimal, side: String, position_side: Option<String>, prev_size: Decimal,
    additional_size: Decimal, value: Decimal, order_type: Option<String>, net_fee: Decimal,
    net_realized_pnl: Decimal, net_realized_pnl_percent: Option<Decimal>, time: DateTime,
    order_id: Option<Uuid>, market_id: String, margin_mode: String,
});

object!(TradeHistoryPage(q::trade_history::TradeHistoryResponse) {
    items: Vec<TradeHistoryRow> => |r: &q::trade_history::TradeHistoryResponse| r.trade_history.conv(),
    page_size: i32 => |r: &q::trade_history::TradeHistoryResponse| r.page_size.conv(),
    total_results: i32 => |r: &q::trade_history::TradeHistoryResponse| i32::try_from(r.total_results).unwrap_or(i32::MAX),
    offset: i32 => |r: &q::trade_history::TradeHistoryResponse| i32::try_from(r.offset).unwrap_or(i32::MAX),
});
