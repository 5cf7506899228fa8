//! Reading one market's order book together with the order-book seq it reflects (beyond.md §1):
//! socks and comlink use this for snapshots so that a client applies exactly the level messages
//! whose seq is greater than the snapshot's.

use redis::Value;

use crate::keys::BookSide;
use crate::script_value::{array, pairs, string, ScriptReplyError};
use crate::scripts;
use crate::{Cache, CacheError};

/// One price level as stored: human price, total quantums, unix seconds of its last change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLevel {
    pub price: String,
    /// As stored; readers drop levels ≤ 0 (ingest.md §5.8).
    pub size_quantums: i64,
    pub last_updated: i64,
}

/// Both sides of a market's book, unsorted, with the seq and epoch read in the same atomic step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookSnapshot {
    pub bids: Vec<StoredLevel>,
    pub asks: Vec<StoredLevel>,
    /// Number of level messages published for this market in this epoch (0: none yet).
    pub seq: u64,
    /// `None` when Redis has no epoch yet (nothing was ever written since it was cleared).
    pub epoch: Option<String>,
}

impl BookSnapshot {
    pub fn side(&self, side: BookSide) -> &[StoredLevel] {
        match side {
            BookSide::Buy => &self.bids,
            BookSide::Sell => &self.asks,
        }
    }
}

/// The levels of `ticker` (both hashes of each side intersected, ingest.md §7.2), its seq and the
/// stream epoch, in one read-only script call.
pub async fn book_snapshot(cache: &Cache, ticker: &str) -> Result<BookSnapshot, CacheError> {
    let keys = cache.keys();
    let reply: Value = scripts::book_snapshot()
        .key(keys.orderbook_levels(ticker, BookSide::Buy))
        .key(keys.orderbook_levels_last_updated(ticker, BookSide::Buy))
        .key(keys.orderbook_levels(ticker, BookSide::Sell))
        .key(keys.orderbook_levels_last_updated(ticker, BookSide::Sell))
        .key(keys.orderbook_seq(ticker))
        .key(keys.stream_epoch())
        .invoke_async(&mut cache.conn())
        .await?;
    Ok(parse_snapshot(ticker, reply)?)
}

fn parse_snapshot(ticker: &str, reply: Value) -> Result<BookSnapshot, ScriptReplyError> {
    let mut parts = array(reply)?.into_iter();
    let mut next = || parts.next().ok_or(ScriptReplyError::Shape("book snapshot"));
    let (buy, buy_last, sell, sell_last) = (next()?, next()?, next()?, next()?);
    let seq_text = string(next()?)?;
    let epoch = string(next()?)?;
    Ok(BookSnapshot {
        bids: join_levels(ticker, BookSide::Buy, pairs(buy)?, pairs(buy_last)?)?,
        asks: join_levels(ticker, BookSide::Sell, pairs(sell)?, pairs(sell_last)?)?,
        seq: seq_text
            .parse()
            .map_err(|_| ScriptReplyError::Number(seq_text))?,
        epoch: (!epoch.is_empty()).then_some(epoch),
    })
}

/// Levels present in both hashes; a field in only one of them is logged and ignored.
fn join_levels(
    ticker: &str,
    side: BookSide,
    sizes: Vec<(String, String)>,
    last_updated: Vec<(String, String)>,
) -> Result<Vec<StoredLevel>, ScriptReplyError> {
    let times: std::collections::HashMap<String, String> = last_updated.into_iter().collect();
    let mut levels = Vec::with_capacity(sizes.len());
    for (price, size) in sizes {
        let Some(time) = times.get(&price) else {
            tracing::error!(
                ticker,
                side = side.as_str(),
                price,
                "order-book level without lastUpdated; ignored"
            );
            continue;
        };
        levels.push(StoredLevel {
            size_quantums: size
                .parse()
                .map_err(|_| ScriptReplyError::Number(size.clone()))?,
            last_updated: time
                .parse()
                .map_err(|_| ScriptReplyError::Number(time.clone()))?,
            price,
        });
    }
    Ok(levels)
}
