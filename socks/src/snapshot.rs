//! Initial payloads (serve.md §5.6): the seam and the implementation that reads Redis and
//! Postgres directly (serve.md D11) instead of calling comlink over HTTP.
//!
//! Each snapshot carries the stream positions it reflects, read atomically with the state
//! (beyond.md §1): the order book with its Redis seq in one script call, Postgres snapshots in one
//! repeatable-read transaction with `channel_sequences` and the ender epoch.
//!
//! The shared read-query library (`libs/query`, being written for comlink) is meant to provide
//! the REST-identical objects; until it exists, channels whose objects need it (trades, candles,
//! markets, subaccounts) answer with the spec's fetch error. Swap [`StoreSnapshots`] for a
//! `libs/query`-backed source when it lands: the rest of socks only sees [`SnapshotSource`].

use std::sync::Arc;

use async_trait::async_trait;
use indexer_cache::{book_snapshot, BookSnapshot, Cache, StoredLevel};
use indexer_domain::decimal::Decimal;
use sqlx::PgPool;

use crate::channels::{Channel, ChannelKey};
use crate::hub::Snapshot;
use crate::markets::MarketDirectory;
use crate::protocol::{push_json_string, Cursor, StreamId};

/// `source` header value of vulcan's messages (the order-book stream).
pub const VULCAN_SOURCE: &str = "vulcan";
/// `source` header value of ender's messages.
pub const ENDER_SOURCE: &str = "ender";

/// Levels per side in an order-book snapshot (`API_ORDERBOOK_LEVELS_PER_SIDE_LIMIT`).
const ORDERBOOK_LEVELS_PER_SIDE: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// Compliance refusal (comlink's 403): the error frame carries this text.
    #[error("blocked: {0}")]
    Blocked(String),
    /// Anything else: the error frame says "could not fetch data".
    #[error("{0}")]
    Failed(String),
}

/// Where initial payloads come from.
#[async_trait]
pub trait SnapshotSource: Send + Sync + 'static {
    async fn snapshot(&self, key: &ChannelKey) -> Result<Snapshot, SnapshotError>;
}

/// Snapshots read from Redis and Postgres.
pub struct StoreSnapshots {
    pub pool: PgPool,
    pub cache: Cache,
    pub markets: MarketDirectory,
}

impl StoreSnapshots {
    pub fn new(pool: PgPool, cache: Cache, markets: MarketDirectory) -> Arc<Self> {
        Arc::new(Self {
            pool,
            cache,
            markets,
        })
    }

    async fn orderbook(&self, ticker: &str) -> Result<Snapshot, SnapshotError> {
        let markets = self.markets.get();
        let market = markets
            .by_ticker(ticker)
            .ok_or_else(|| SnapshotError::Failed(format!("{ticker} is not a known market")))?;
        let book = book_snapshot(&self.cache, ticker)
            .await
            .map_err(|e| SnapshotError::Failed(e.to_string()))?;
        let cursors = book
            .epoch
            .as_ref()
            .map(|epoch| Cursor {
                stream: StreamId {
                    source: Some(VULCAN_SOURCE.into()),
                    child: None,
                },
                epoch: epoch.clone(),
                seq: book.seq,
            })
            .into_iter()
            .collect();
        Ok(Snapshot {
            contents: orderbook_contents(&book, market.atomic_resolution)?,
            cursors,
        })
    }

    async fn block_height(&self) -> Result<Snapshot, SnapshotError> {
        let failed = |e: sqlx::Error| SnapshotError::Failed(e.to_string());
        let mut tx = self.pool.begin().await.map_err(failed)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        let latest: Option<(i64, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
            r#"SELECT "blockHeight", "time" FROM blocks ORDER BY "blockHeight" DESC LIMIT 1"#,
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(failed)?;
        let (height, time) =
            latest.ok_or_else(|| SnapshotError::Failed("no block indexed yet".into()))?;
        let cursors = ender_cursor(&mut tx, Channel::BlockHeight, "v4_block_height").await?;
        tx.commit().await.map_err(failed)?;
        let mut contents = String::from("{\"height\":");
        push_json_string(&mut contents, &height.to_string());
        contents.push_str(",\"time\":");
        push_json_string(&mut contents, &iso_millis(time));
        contents.push('}');
        Ok(Snapshot { contents, cursors })
    }
}

#[async_trait]
impl SnapshotSource for StoreSnapshots {
    async fn snapshot(&self, key: &ChannelKey) -> Result<Snapshot, SnapshotError> {
        match key.channel {
            Channel::Orderbook => self.orderbook(&key.id).await,
            Channel::BlockHeight => self.block_height().await,
            other => Err(SnapshotError::Failed(format!(
                "no snapshot source for {other} yet (waits for libs/query)"
            ))),
        }
    }
}

/// Ender's position on a channel id: its `channel_sequences` row and the database epoch. Empty
/// when ender has not numbered anything for it (or processed no block) yet.
async fn ender_cursor(
    tx: &mut sqlx::PgConnection,
    channel: Channel,
    id: &str,
) -> Result<Vec<Cursor>, SnapshotError> {
    let failed = |e: sqlx::Error| SnapshotError::Failed(e.to_string());
    let epoch: Option<(uuid::Uuid,)> = sqlx::query_as("SELECT epoch FROM ender_progress")
        .fetch_optional(&mut *tx)
        .await
        .map_err(failed)?;
    let Some((epoch,)) = epoch else {
        return Ok(Vec::new());
    };
    let seq: Option<(i64,)> =
        sqlx::query_as("SELECT seq FROM channel_sequences WHERE channel = $1 AND channel_id = $2")
            .bind(channel.name())
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(failed)?;
    Ok(vec![Cursor {
        stream: StreamId {
            source: Some(ENDER_SOURCE.into()),
            child: None,
        },
        epoch: epoch.to_string(),
        seq: seq.map_or(0, |(s,)| u64::try_from(s).unwrap_or(0)),
    }])
}

/// `2024-05-01T12:00:00.000Z`.
pub fn iso_millis(time: chrono::DateTime<chrono::Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

struct Level {
    price: Decimal,
    price_text: String,
    quantums: i64,
    last_updated: i64,
}

fn levels(stored: &[StoredLevel]) -> Result<Vec<Level>, SnapshotError> {
    stored
        .iter()
        .filter(|l| l.size_quantums > 0)
        .map(|l| {
            Ok(Level {
                price: Decimal::parse(&l.price)
                    .map_err(|e| SnapshotError::Failed(format!("bad price level: {e}")))?,
                price_text: l.price.clone(),
                quantums: l.size_quantums,
                last_updated: l.last_updated,
            })
        })
        .collect()
}

/// The REST order book (serve.md §4.2.2): positive levels, sorted, uncrossed, 100 per side,
/// sizes in human units.
pub fn orderbook_contents(
    book: &BookSnapshot,
    atomic_resolution: i32,
) -> Result<String, SnapshotError> {
    let mut bids = levels(&book.bids)?;
    let mut asks = levels(&book.asks)?;
    bids.sort_by(|a, b| b.price.cmp(&a.price));
    asks.sort_by(|a, b| a.price.cmp(&b.price));
    let (mut bid_at, mut ask_at) = (0, 0);
    while let (Some(bid), Some(ask)) = (bids.get(bid_at), asks.get(ask_at)) {
        if bid.price < ask.price {
            break;
        }
        if bid.last_updated > ask.last_updated || bid.quantums > ask.quantums {
            ask_at += 1;
        } else {
            bid_at += 1;
        }
    }
    let render = |side: &[Level]| {
        let mut out = String::from("[");
        for (i, level) in side.iter().take(ORDERBOOK_LEVELS_PER_SIDE).enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"price\":");
            push_json_string(&mut out, &level.price_text);
            out.push_str(",\"size\":");
            let size = Decimal::from_scaled(level.quantums, i64::from(atomic_resolution));
            push_json_string(&mut out, &size.to_string());
            out.push('}');
        }
        out.push(']');
        out
    };
    Ok(format!(
        "{{\"bids\":{},\"asks\":{}}}",
        render(&bids[bid_at..]),
        render(&asks[ask_at..])
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(price: &str, quantums: i64, last_updated: i64) -> StoredLevel {
        StoredLevel {
            price: price.into(),
            size_quantums: quantums,
            last_updated,
        }
    }

    #[test]
    fn orderbook_is_sorted_uncrossed_and_in_human_units() {
        let book = BookSnapshot {
            bids: vec![
                level("100", 5_000_000_000, 10),
                level("102", 1_000_000_000, 5),
                level("99.5", 0, 10),
            ],
            asks: vec![level("101", 2_000_000_000, 7), level("103", 10_000_000, 1)],
            seq: 4,
            epoch: Some("e".into()),
        };
        // 102 bid (older, smaller) crosses the 101 ask: the bid goes. 100 < 101: uncrossed.
        assert_eq!(
            orderbook_contents(&book, -10).unwrap(),
            r#"{"bids":[{"price":"100","size":"0.5"}],"asks":[{"price":"101","size":"0.2"},{"price":"103","size":"0.001"}]}"#
        );
    }

    #[test]
    fn a_newer_crossing_bid_removes_the_ask() {
        let book = BookSnapshot {
            bids: vec![level("101", 10, 9)],
            asks: vec![level("101", 10, 8), level("102", 10, 8)],
            seq: 0,
            epoch: None,
        };
        assert_eq!(
            orderbook_contents(&book, 0).unwrap(),
            r#"{"bids":[{"price":"101","size":"10"}],"asks":[{"price":"102","size":"10"}]}"#
        );
    }

    #[test]
    fn empty_book() {
        let book = BookSnapshot {
            bids: vec![],
            asks: vec![],
            seq: 0,
            epoch: None,
        };
        assert_eq!(
            orderbook_contents(&book, -10).unwrap(),
            r#"{"bids":[],"asks":[]}"#
        );
    }
}
