//! The `Subscription` root (serve.md §6.3, beyond.md §4): every subscription starts with a
//! `SNAPSHOT` read like the REST value, then `UPDATE`s from the same Kafka messages socks
//! forwards, each carrying the message's `seq`/`epoch`/`source` headers.

use std::sync::Arc;

use async_graphql::{Context, Enum, ErrorExtensions, Json, Object, SimpleObject, Subscription};
use futures::stream::{self, BoxStream, StreamExt};
use indexer_query as q;
use tokio::sync::broadcast;

use super::context::{self as cx, GqlResult};
use super::feed::{FeedChannel, FeedEvent, LiveFeed, Sequence, READY_WAIT};
use super::scalars::{Conv, DateTime, Decimal, Height, IntString};
use super::types::{OrderbookLevel, Subaccount};
use crate::error::ApiError;

/// How many trades the first event of `trades` carries (socks' snapshot size).
const TRADES_SNAPSHOT_LIMIT: i32 = 100;

/// The text of the error when subscriptions are off.
pub const SUBSCRIPTIONS_DISABLED: &str =
    "Subscriptions are disabled: this comlink has no Kafka configured (set KAFKA_BROKER_URLS)";

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(rename_items = "UPPERCASE")]
pub enum StreamEventKind {
    Snapshot,
    Update,
}

/// Where an event sits in its channel's sequenced stream (absent for snapshots read from the
/// databases and for unsequenced messages).
#[derive(SimpleObject, Clone, Default)]
pub struct StreamPosition {
    /// The Kafka `seq` header (decimal).
    pub seq: Option<IntString>,
    pub epoch: Option<String>,
    pub source: Option<String>,
    /// `message_received_timestamp`: when the indexer received the event (epoch ms).
    pub message_received_timestamp: Option<IntString>,
}

impl From<&Sequence> for StreamPosition {
    fn from(s: &Sequence) -> Self {
        Self {
            seq: s.seq.map(|v| IntString(v.to_string())),
            epoch: s.epoch.clone(),
            source: s.source.clone(),
            message_received_timestamp: s
                .message_received_timestamp
                .map(|v| IntString(v.to_string())),
        }
    }
}

pub struct OrderbookEvent {
    kind: StreamEventKind,
    ticker: String,
    version: Option<String>,
    position: StreamPosition,
    bids: Vec<q::orderbook::OrderbookLevel>,
    asks: Vec<q::orderbook::OrderbookLevel>,
}

#[Object]
impl OrderbookEvent {
    async fn kind(&self) -> StreamEventKind {
        self.kind
    }
    async fn ticker(&self) -> &str {
        &self.ticker
    }
    async fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }
    async fn seq(&self) -> Option<IntString> {
        self.position.seq.clone()
    }
    async fn epoch(&self) -> Option<&str> {
        self.position.epoch.as_deref()
    }
    async fn position(&self) -> &StreamPosition {
        &self.position
    }
    /// UPDATE: the changed levels; size "0" removes the level.
    async fn bids(&self) -> Vec<OrderbookLevel> {
        self.bids.conv()
    }
    async fn asks(&self) -> Vec<OrderbookLevel> {
        self.asks.conv()
    }
}

/// A trade as the trades channel carries it (`createdAtHeight` is null in stream updates).
#[derive(SimpleObject, Clone)]
pub struct StreamTrade {
    pub id: String,
    pub side: String,
    pub size: Decimal,
    pub price: Decimal,
    #[graphql(name = "type")]
    pub trade_type: String,
    pub created_at: DateTime,
    pub created_at_height: Option<Height>,
}

#[derive(SimpleObject)]
pub struct TradesEvent {
    kind: StreamEventKind,
    ticker: String,
    version: Option<String>,
    seq: Option<IntString>,
    epoch: Option<String>,
    position: StreamPosition,
    trades: Vec<StreamTrade>,
}

#[derive(SimpleObject)]
pub struct BlockHeightEvent {
    kind: StreamEventKind,
    height: Height,
    time: DateTime,
    seq: Option<IntString>,
    epoch: Option<String>,
    position: StreamPosition,
}

#[derive(SimpleObject)]
pub struct SubaccountEvent {
    kind: StreamEventKind,
    /// `address/number` as in socks.
    id: String,
    version: Option<String>,
    seq: Option<IntString>,
    epoch: Option<String>,
    position: StreamPosition,
    block_height: Option<Height>,
    /// SNAPSHOT: the subaccount (null if it does not exist yet).
    subaccount: Option<Subaccount>,
    /// UPDATE: the socks message contents verbatim (positions, orders, fills, transfers, …).
    update: Option<Json<serde_json::Value>>,
}

pub struct Subscription;

#[Subscription]
impl Subscription {
    /// The market's book: the Redis snapshot, then level changes.
    async fn orderbook(
        &self,
        ctx: &Context<'_>,
        ticker: String,
    ) -> async_graphql::Result<BoxStream<'static, GqlResult<OrderbookEvent>>> {
        let (_feed, rx) = listen(ctx).await?;
        let markets = cx::markets(ctx, Some(&ticker)).await?;
        let market = markets.by_ticker(&ticker).ok_or_else(|| {
            cx::api_error(ApiError::NotFound(q::markets::not_a_perpetual_market(
                &ticker,
            )))
        })?;
        let request = cx::request(ctx)?;
        let snapshot = q::orderbook::orderbook(
            request.state.cache(),
            market,
            request.state.settings().orderbook_levels_per_side,
        )
        .await
        .map_err(cx::query_error)?;
        let (snapshot_seq, snapshot_epoch) = (snapshot.seq, snapshot.epoch.clone());
        let first = OrderbookEvent {
            kind: StreamEventKind::Snapshot,
            ticker: ticker.clone(),
            version: None,
            position: StreamPosition {
                seq: Some(IntString(snapshot_seq.to_string())),
                epoch: snapshot_epoch.clone(),
                ..Default::default()
            },
            bids: snapshot.book.bids,
            asks: snapshot.book.asks,
        };
        let updates = updates(rx, FeedChannel::Orderbook, ticker.clone(), move |event| {
            // Changes already contained in the Redis snapshot are skipped (same epoch, seq ≤).
            let seen = event.sequence.epoch.is_some()
                && event.sequence.epoch == snapshot_epoch
                && event.sequence.seq.is_some_and(|s| s <= snapshot_seq);
            (!seen).then(|| OrderbookEvent {
                kind: StreamEventKind::Update,
                ticker: event.id.clone(),
                version: Some(event.version.clone()),
                position: (&event.sequence).into(),
                bids: levels(&event.contents, "bids"),
                asks: levels(&event.contents, "asks"),
            })
        });
        Ok(stream::once(async { Ok(first) }).chain(updates).boxed())
    }

    /// The market's trades: the latest 100, then each new batch.
    async fn trades(
        &self,
        ctx: &Context<'_>,
        ticker: String,
    ) -> async_graphql::Result<BoxStream<'static, GqlResult<TradesEvent>>> {
        let (_feed, rx) = listen(ctx).await?;
        let page =
            super::query::trades_of(ctx, &ticker, TRADES_SNAPSHOT_LIMIT, None, None, None).await?;
        let first = TradesEvent {
            kind: StreamEventKind::Snapshot,
            ticker: ticker.clone(),
            version: None,
            seq: None,
            epoch: None,
            position: StreamPosition::default(),
            trades: page.0.items.iter().map(stored_trade).collect(),
        };
        let updates = updates(rx, FeedChannel::Trades, ticker, |event| {
            let position = StreamPosition::from(&event.sequence);
            Some(TradesEvent {
                kind: StreamEventKind::Update,
                ticker: event.id.clone(),
                version: Some(event.version.clone()),
                seq: position.seq.clone(),
                epoch: position.epoch.clone(),
                position,
                trades: stream_trades(&event.contents),
            })
        });
        Ok(stream::once(async { Ok(first) }).chain(updates).boxed())
    }

    /// The indexed height: the latest block, then every new one.
    async fn block_height(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<BoxStream<'static, GqlResult<BlockHeightEvent>>> {
        let (_feed, rx) = listen(ctx).await?;
        let db = cx::reader(ctx).await?;
        let latest = q::blocks::latest_block(&db.pool)
            .await
            .map_err(cx::query_error)?
            .ok_or_else(|| cx::api_error(ApiError::NotFound(q::blocks::NO_BLOCKS_FOUND.into())))?;
        let first = BlockHeightEvent {
            kind: StreamEventKind::Snapshot,
            height: latest.height.conv(),
            time: latest.time.conv(),
            seq: None,
            epoch: None,
            position: StreamPosition::default(),
        };
        let updates = updates(rx, FeedChannel::BlockHeight, String::new(), |event| {
            let text = |key: &str| event.contents.get(key)?.as_str().map(str::to_owned);
            let position = StreamPosition::from(&event.sequence);
            Some(BlockHeightEvent {
                kind: StreamEventKind::Update,
                height: Height(text("blockHeight")?),
                time: DateTime(text("time")?),
                seq: position.seq.clone(),
                epoch: position.epoch.clone(),
                position,
            })
        });
        Ok(stream::once(async { Ok(first) }).chain(updates).boxed())
    }

    /// A subaccount: its current state, then every update socks would send.
    async fn subaccount(
        &self,
        ctx: &Context<'_>,
        address: String,
        subaccount_number: i32,
    ) -> async_graphql::Result<BoxStream<'static, GqlResult<SubaccountEvent>>> {
        let address = cx::dydx_address("address", &address)?;
        let number = cx::subaccount_number(subaccount_number)?;
        cx::check_compliance(ctx, &address).await?;
        let (_feed, rx) = listen(ctx).await?;
        let db = cx::reader(ctx).await?;
        let markets = cx::markets(ctx, None).await?;
        let subaccount =
            match q::subaccounts::subaccount(&db.pool, &markets, &address, number).await {
                Ok(found) => Some(Subaccount(found)),
                Err(q::QueryError::NotFound(_)) => None,
                Err(error) => return Err(cx::query_error(error)),
            };
        let id = format!("{address}/{number}");
        let first = SubaccountEvent {
            kind: StreamEventKind::Snapshot,
            id: id.clone(),
            version: None,
            seq: None,
            epoch: None,
            position: StreamPosition::default(),
            block_height: subaccount
                .as_ref()
                .map(|s| s.0.latest_processed_block_height.conv()),
            subaccount,
            update: None,
        };
        let updates = updates(rx, FeedChannel::Subaccount, id, |event| {
            let position = StreamPosition::from(&event.sequence);
            Some(SubaccountEvent {
                kind: StreamEventKind::Update,
                id: event.id.clone(),
                version: Some(event.version.clone()),
                seq: position.seq.clone(),
                epoch: position.epoch.clone(),
                position,
                block_height: event
                    .contents
                    .get("blockHeight")
                    .and_then(|h| h.as_str())
                    .map(|h| Height(h.to_owned())),
                subaccount: None,
                update: Some(Json(event.contents.clone())),
            })
        });
        Ok(stream::once(async { Ok(first) }).chain(updates).boxed())
    }
}

/// The feed (or the subscriptions-off error) and a receiver registered before the snapshot is
/// read, so no update between the snapshot and the first update is lost.
async fn listen(
    ctx: &Context<'_>,
) -> GqlResult<(Arc<LiveFeed>, broadcast::Receiver<Arc<FeedEvent>>)> {
    let feed = ctx
        .data::<Option<Arc<LiveFeed>>>()
        .ok()
        .and_then(Clone::clone)
        .ok_or_else(|| {
            async_graphql::Error::new(SUBSCRIPTIONS_DISABLED)
                .extend_with(|_, e| e.set("code", "SUBSCRIPTIONS_DISABLED"))
        })?;
    let rx = feed.subscribe();
    if !feed.wait_ready(READY_WAIT).await {
        return Err(async_graphql::Error::new(
            "The live feed is not connected to Kafka yet; retry",
        )
        .extend_with(|_, e| e.set("code", "UNAVAILABLE")));
    }
    Ok((feed, rx))
}

/// The events of one channel id, mapped; a subscription that falls behind the broadcast buffer
/// gets one error and ends (the client resubscribes for a fresh snapshot).
fn updates<T: Send + 'static>(
    rx: broadcast::Receiver<Arc<FeedEvent>>,
    channel: FeedChannel,
    id: String,
    map: impl Fn(&FeedEvent) -> Option<T> + Send + 'static,
) -> BoxStream<'static, GqlResult<T>> {
    stream::unfold(Some(rx), move |rx| {
        let id = id.clone();
        async move {
            let mut rx = rx?;
            loop {
                match rx.recv().await {
                    Ok(event) if event.channel == channel && event.id == id => {
                        return Some((Ok(event), Some(rx)));
                    }
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        let error = async_graphql::Error::new(format!(
                            "Subscription lagged behind by {missed} messages; resubscribe"
                        ))
                        .extend_with(|_, e| e.set("code", "LAGGED"));
                        return Some((Err(error), None));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        }
    })
    .filter_map(move |item: GqlResult<Arc<FeedEvent>>| {
        let mapped = match item {
            Ok(event) => map(&event).map(Ok),
            Err(error) => Some(Err(error)),
        };
        async move { mapped }
    })
    .boxed()
}

/// `[["price", "size"], …]` under `key` as levels (malformed entries skipped).
fn levels(contents: &serde_json::Value, key: &str) -> Vec<q::orderbook::OrderbookLevel> {
    let Some(list) = contents.get(key).and_then(|v| v.as_array()) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|level| {
            let price = level.get(0)?.as_str()?;
            let size = indexer_domain::Decimal::parse(level.get(1)?.as_str()?).ok()?;
            Some(q::orderbook::OrderbookLevel {
                price: price.to_owned(),
                size: q::Numeric::stored(size),
            })
        })
        .collect()
}

fn stored_trade(trade: &q::trades::Trade) -> StreamTrade {
    StreamTrade {
        id: trade.id.clone(),
        side: trade.side.clone(),
        size: trade.size.conv(),
        price: trade.price.conv(),
        trade_type: trade.trade_type.clone(),
        created_at: trade.created_at.conv(),
        created_at_height: Some(trade.created_at_height.conv()),
    }
}

/// The `trades` array of a trades message (entries missing a required field skipped).
fn stream_trades(contents: &serde_json::Value) -> Vec<StreamTrade> {
    let Some(list) = contents.get("trades").and_then(|v| v.as_array()) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|t| {
            let text = |key: &str| t.get(key)?.as_str().map(str::to_owned);
            Some(StreamTrade {
                id: text("id")?,
                side: text("side")?,
                size: Decimal(text("size")?),
                price: Decimal(text("price")?),
                trade_type: text("type").unwrap_or_else(|| "LIMIT".to_owned()),
                created_at: DateTime(text("createdAt")?),
                created_at_height: text("createdAtHeight").map(Height),
            })
        })
        .collect()
}
