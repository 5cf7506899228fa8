//! The `Query` root of serve.md §6.3 and the market-level reads that `PerpetualMarket`'s relation
//! fields share with it. Every read is a query-library call, as on REST.

use async_graphql::{Context, Object};
use indexer_query as q;
use indexer_query::markets::not_a_perpetual_market;
use indexer_query::Pagination;

use super::context::{self as cx, GqlResult};
use super::scalars::{Conv, DateTime, Height};
use super::types::{
    Address, BlockHeight, Candle, CandleResolution, HistoricalFunding, Order, Orderbook,
    ParentSubaccount, PerpetualMarket, Sparkline, SparklineTimePeriod, Subaccount, Time, TradePage,
    TransfersBetween,
};
use crate::error::ApiError;

pub struct Query;

#[Object]
impl Query {
    async fn time(&self) -> Time {
        Time
    }

    async fn height(&self, ctx: &Context<'_>) -> GqlResult<BlockHeight> {
        let db = cx::reader(ctx).await?;
        q::blocks::latest_block(&db.pool)
            .await
            .map_err(cx::query_error)?
            .map(BlockHeight)
            .ok_or_else(|| cx::api_error(ApiError::NotFound(q::blocks::NO_BLOCKS_FOUND.into())))
    }

    #[graphql(complexity = "limit.max(0) as usize + child_complexity")]
    async fn perpetual_markets(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 1000)] limit: i32,
    ) -> GqlResult<Vec<PerpetualMarket>> {
        let limit = cx::limit(ctx, Some(limit))?;
        let db = cx::reader(ctx).await?;
        let markets = q::markets::perpetual_markets(&db.pool, limit)
            .await
            .map_err(cx::query_error)?;
        Ok(markets
            .markets
            .values()
            .cloned()
            .map(PerpetualMarket)
            .collect())
    }

    /// Null when the ticker is not a perpetual market.
    async fn perpetual_market(
        &self,
        ctx: &Context<'_>,
        ticker: String,
    ) -> GqlResult<Option<PerpetualMarket>> {
        let db = cx::reader(ctx).await?;
        match q::markets::perpetual_market(&db.pool, &ticker).await {
            Ok(markets) => Ok(markets
                .markets
                .values()
                .next()
                .cloned()
                .map(PerpetualMarket)),
            Err(q::QueryError::NotFound(_)) => Ok(None),
            Err(error) => Err(cx::query_error(error)),
        }
    }

    async fn orderbook(&self, ctx: &Context<'_>, ticker: String) -> GqlResult<Orderbook> {
        orderbook_of(ctx, &ticker).await
    }

    #[graphql(complexity = "limit.max(0) as usize + child_complexity")]
    async fn trades(
        &self,
        ctx: &Context<'_>,
        ticker: String,
        #[graphql(default = 1000)] limit: i32,
        created_before_or_at_height: Option<Height>,
        created_before_or_at: Option<DateTime>,
        page: Option<i32>,
    ) -> GqlResult<TradePage> {
        trades_of(
            ctx,
            &ticker,
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
        ticker: String,
        resolution: CandleResolution,
        #[graphql(default = 1000)] limit: i32,
        #[graphql(name = "fromISO")] from_iso: Option<DateTime>,
        #[graphql(name = "toISO")] to_iso: Option<DateTime>,
    ) -> GqlResult<Vec<Candle>> {
        candles_of(ctx, &ticker, resolution, limit, from_iso, to_iso).await
    }

    #[graphql(complexity = "limit.max(0) as usize + child_complexity")]
    async fn historical_funding(
        &self,
        ctx: &Context<'_>,
        ticker: String,
        #[graphql(default = 1000)] limit: i32,
        effective_before_or_at_height: Option<Height>,
        effective_before_or_at: Option<DateTime>,
    ) -> GqlResult<Vec<HistoricalFunding>> {
        historical_funding_of(
            ctx,
            &ticker,
            limit,
            effective_before_or_at_height,
            effective_before_or_at,
        )
        .await
    }

    async fn sparklines(
        &self,
        ctx: &Context<'_>,
        time_period: SparklineTimePeriod,
    ) -> GqlResult<Vec<Sparkline>> {
        let period = match time_period {
            SparklineTimePeriod::OneDay => indexer_domain::SparklineTimePeriod::OneDay,
            SparklineTimePeriod::SevenDays => indexer_domain::SparklineTimePeriod::SevenDays,
        };
        let db = cx::reader(ctx).await?;
        let markets = cx::markets(ctx, None).await?;
        let lines = q::sparklines::sparklines(&db.pool, &markets, period, chrono::Utc::now())
            .await
            .map_err(cx::query_error)?;
        Ok(lines.0.into_iter().map(Sparkline).collect())
    }

    /// Null when the address has no subaccounts.
    async fn address(&self, ctx: &Context<'_>, address: String) -> GqlResult<Option<Address>> {
        let address = cx::dydx_address("address", &address)?;
        cx::check_compliance(ctx, &address).await?;
        let db = cx::reader(ctx).await?;
        let markets = cx::markets(ctx, None).await?;
        match q::subaccounts::address(&db.pool, &markets, &address).await {
            Ok(response) => Ok(Some(Address { address, response })),
            Err(q::QueryError::NotFound(_)) => Ok(None),
            Err(error) => Err(cx::query_error(error)),
        }
    }

    /// Null when the subaccount does not exist.
    async fn subaccount(
        &self,
        ctx: &Context<'_>,
        address: String,
        subaccount_number: i32,
    ) -> GqlResult<Option<Subaccount>> {
        let address = cx::dydx_address("address", &address)?;
        let number = cx::subaccount_number(subaccount_number)?;
        cx::check_compliance(ctx, &address).await?;
        let db = cx::reader(ctx).await?;
        let markets = cx::markets(ctx, None).await?;
        match q::subaccounts::subaccount(&db.pool, &markets, &address, number).await {
            Ok(found) => Ok(Some(Subaccount(found))),
            Err(q::QueryError::NotFound(_)) => Ok(None),
            Err(error) => Err(cx::query_error(error)),
        }
    }

    /// Null when the parent has no children.
    async fn parent_subaccount(
        &self,
        ctx: &Context<'_>,
        address: String,
        parent_subaccount_number: i32,
    ) -> GqlResult<Option<ParentSubaccount>> {
        let address = cx::dydx_address("address", &address)?;
        let parent = cx::parent_subaccount_number(parent_subaccount_number)?;
        cx::check_compliance(ctx, &address).await?;
        let db = cx::reader(ctx).await?;
        let markets = cx::markets(ctx, None).await?;
        match q::subaccounts::parent_subaccount(&db.pool, &markets, &address, parent).await {
            Ok(found) => Ok(Some(ParentSubaccount(found))),
            Err(q::QueryError::NotFound(_)) => Ok(None),
            Err(error) => Err(cx::query_error(error)),
        }
    }

    /// Null when no order has this id.
    async fn order(&self, ctx: &Context<'_>, id: uuid::Uuid) -> GqlResult<Option<Order>> {
        let db = cx::reader(ctx).await?;
        let markets = cx::markets(ctx, None).await?;
        let cache = cx::request(ctx)?.state.cache().clone();
        match q::orders::order(&db.pool, &cache, &markets, id).await {
            Ok(order) => Ok(Some(Order(order))),
            Err(q::QueryError::NotFound(_)) => Ok(None),
            Err(error) => Err(cx::query_error(error)),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn transfers_between(
        &self,
        ctx: &Context<'_>,
        source_address: String,
        source_subaccount_number: i32,
        recipient_address: String,
        recipient_subaccount_number: i32,
        created_before_or_at_height: Option<Height>,
        created_before_or_at: Option<DateTime>,
    ) -> GqlResult<TransfersBetween> {
        let source = cx::dydx_address("sourceAddress", &source_address)?;
        let recipient = cx::dydx_address("recipientAddress", &recipient_address)?;
        let source_number = cx::subaccount_number(source_subaccount_number)?;
        let recipient_number = cx::subaccount_number(recipient_subaccount_number)?;
        cx::check_compliance(ctx, &source).await?;
        let filter = q::transfers::TransfersFilter {
            created_before_or_at_height: created_before_or_at_height.map(|h| h.value()),
            created_before_or_at: created_before_or_at.map(|t| t.value()),
            pagination: Pagination::new(cx::limit(ctx, None)?, None),
        };
        let db = cx::reader(ctx).await?;
        let response = q::transfers::transfers_between(
            &db.pool,
            (&source, source_number),
            (&recipient, recipient_number),
            &filter,
        )
        .await
        .map_err(cx::query_error)?;
        Ok(TransfersBetween(response))
    }
}

/// The market's book from Redis, `orderbookLevelsPerSide` levels per side as on REST.
pub async fn orderbook_of(ctx: &Context<'_>, ticker: &str) -> GqlResult<Orderbook> {
    let markets = cx::markets(ctx, Some(ticker)).await?;
    let market = markets
        .by_ticker(ticker)
        .ok_or_else(|| cx::api_error(ApiError::NotFound(not_a_perpetual_market(ticker))))?;
    let request = cx::request(ctx)?;
    let snapshot = q::orderbook::orderbook(
        request.state.cache(),
        market,
        request.state.settings().orderbook_levels_per_side,
    )
    .await
    .map_err(cx::query_error)?;
    Ok(Orderbook {
        ticker: ticker.to_owned(),
        book: snapshot.book,
    })
}

pub async fn trades_of(
    ctx: &Context<'_>,
    ticker: &str,
    limit: i32,
    created_before_or_at_height: Option<Height>,
    created_before_or_at: Option<DateTime>,
    page: Option<i32>,
) -> GqlResult<TradePage> {
    let pagination = Pagination::new(cx::limit(ctx, Some(limit))?, cx::page(page)?);
    let markets = cx::markets(ctx, Some(ticker)).await?;
    let market = markets
        .by_ticker(ticker)
        .ok_or_else(|| cx::api_error(ApiError::NotFound(not_a_perpetual_market(ticker))))?;
    let filter = q::trades::TradesFilter {
        clob_pair_id: market.clob_pair_id,
        created_before_or_at_height: created_before_or_at_height.map(|h| h.value()),
        created_before_or_at: created_before_or_at.map(|t| t.value()),
        pagination,
    };
    let db = cx::reader(ctx).await?;
    let paged = q::trades::trades(&db.pool, &filter)
        .await
        .map_err(cx::query_error)?;
    Ok(TradePage(paged))
}

pub async fn candles_of(
    ctx: &Context<'_>,
    ticker: &str,
    resolution: CandleResolution,
    limit: i32,
    from_iso: Option<DateTime>,
    to_iso: Option<DateTime>,
) -> GqlResult<Vec<Candle>> {
    let filter = q::candles::CandlesFilter {
        resolution: resolution.into(),
        limit: cx::limit(ctx, Some(limit))?,
        from_iso: from_iso.map(|t| t.value()),
        to_iso: to_iso.map(|t| t.value()),
    };
    let db = cx::reader(ctx).await?;
    let candles = q::candles::candles(&db.pool, ticker, &filter)
        .await
        .map_err(cx::query_error)?;
    Ok(candles.conv())
}

pub async fn historical_funding_of(
    ctx: &Context<'_>,
    ticker: &str,
    limit: i32,
    effective_before_or_at_height: Option<Height>,
    effective_before_or_at: Option<DateTime>,
) -> GqlResult<Vec<HistoricalFunding>> {
    let filter = q::funding::HistoricalFundingFilter {
        limit: cx::limit(ctx, Some(limit))?,
        effective_before_or_at_height: effective_before_or_at_height
            .map(|h| h.value())
            .filter(|h| *h != 0),
        effective_before_or_at: effective_before_or_at.map(|t| t.value()),
    };
    let markets = cx::markets(ctx, Some(ticker)).await?;
    let market = markets
        .by_ticker(ticker)
        .ok_or_else(|| cx::api_error(ApiError::NotFound(not_a_perpetual_market(ticker))))?;
    let db = cx::reader(ctx).await?;
    let rows = q::funding::historical_funding(&db.pool, market.id, &market.ticker, &filter)
        .await
        .map_err(cx::query_error)?;
    Ok(rows.conv())
}
