//! Initial payloads (serve.md §5.6): the seam and the implementation that reads Redis and
//! Postgres directly through the shared query library (serve.md D11), the same code comlink
//! serves REST with, so `contents` are the REST bodies.
//!
//! Each snapshot carries the stream positions it reflects (beyond.md §1):
//! - the order book: levels, seq and epoch from one atomic Redis script call (exact);
//! - Postgres-backed channels: ender's `channel_sequences` seq and epoch, read before and after
//!   the snapshot and the read repeated until they agree (`exact!`): then the snapshot reflects
//!   exactly that position. If the stream keeps moving (3 reads), the positions read before the
//!   last read go out: at least that position, so an update may repeat, none is missed.
//! - subaccounts: ender's and vulcan's positions (two streams), checked the same way;
//! - parent subaccounts: none (their updates belong to the child streams).

use std::sync::Arc;

use async_trait::async_trait;
use indexer_cache::Cache;
use indexer_domain::CandleResolution;
use indexer_query::candles::{candles, CandlesFilter};
use indexer_query::compliance;
use indexer_query::orders::{orders, OrdersFilter};
use indexer_query::subaccounts::{parent_subaccount, subaccount, SubaccountSelector};
use indexer_query::trades::{trades, TradesFilter};
use indexer_query::{blocks, markets, orderbook, Pagination, QueryError, API_LIMIT};
use serde::Serialize;
use sqlx::PgPool;

use crate::channels::{subaccount_number, Channel, ChannelKey};
use crate::config::ComplianceRules;
use crate::hub::Snapshot;
use crate::markets::MarketDirectory;
use crate::protocol::{texts, Cursor, StreamId};

/// `source` header value of vulcan's subaccount messages.
pub const VULCAN_SOURCE: &str = "vulcan";
/// `source` header value of ender's messages.
pub const ENDER_SOURCE: &str = "ender";

/// Levels per side in an order-book snapshot (`API_ORDERBOOK_LEVELS_PER_SIDE_LIMIT`).
const ORDERBOOK_LEVELS_PER_SIDE: usize = 100;
/// Best-effort-canceled orders of the last this many blocks are part of a subaccount snapshot.
const BEST_EFFORT_CANCELED_BLOCKS: i64 = 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// Compliance refusal (comlink's 403): the error frame carries this text.
    #[error("blocked: {0}")]
    Blocked(String),
    /// Anything else: the error frame says "could not fetch data".
    #[error("{0}")]
    Failed(String),
}

impl From<QueryError> for SnapshotError {
    fn from(error: QueryError) -> Self {
        SnapshotError::Failed(error.to_string())
    }
}

impl From<sqlx::Error> for SnapshotError {
    fn from(error: sqlx::Error) -> Self {
        SnapshotError::Failed(error.to_string())
    }
}

/// The geo headers of a connection's upgrade request (serve.md §5.1), which every snapshot
/// request of the connection carries (the reference forwards them to comlink).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeoHeaders {
    pub country: Option<String>,
    pub region: Option<String>,
    pub status: Option<String>,
}

impl GeoHeaders {
    /// From the upgrade request's headers (names in lower case).
    pub fn from_upgrade(upgrade: &crate::ws::Upgrade) -> Self {
        let header = |name: &str| upgrade.header(name).map(str::to_owned);
        Self {
            country: header("geo-origin-country"),
            region: header("geo-origin-region"),
            status: header("geo-origin-status"),
        }
    }

    /// The edge marks allowed requests with `Geo-Origin-Status: ok` (exactly); anything else,
    /// a missing header included, is restricted (serve.md §2.6 step 4).
    pub fn origin_ok(&self) -> bool {
        self.status.as_deref() == Some("ok")
    }
}

/// Where initial payloads come from.
#[async_trait]
pub trait SnapshotSource: Send + Sync + 'static {
    /// The snapshot of `key` for a connection whose upgrade request had `geo`.
    async fn snapshot(&self, key: &ChannelKey, geo: &GeoHeaders)
        -> Result<Snapshot, SnapshotError>;
}

/// Snapshots read from Redis and Postgres.
pub struct StoreSnapshots {
    pub pool: PgPool,
    pub cache: Cache,
    pub markets: MarketDirectory,
    pub compliance: ComplianceRules,
}

/// Statuses that may keep trading (closing positions) even from a restricted region.
const CLOSE_ONLY_STATUSES: [&str; 2] = ["CLOSE_ONLY", "FIRST_STRIKE_CLOSE_ONLY"];

/// Reads of a snapshot that found its stream positions unchanged before giving up on exactness.
const EXACT_ATTEMPTS: usize = 3;

/// `exact!(positions: EXPR, read: EXPR)`: a snapshot read between two reads of its stream positions (a seqlock).
///
/// The producers number a channel id's messages in the same transaction that changes what the
/// snapshot reads (ender's `channel_sequences`; vulcan's Redis counter in the script that
/// changes the orders), so positions that are equal before and after the read mean that nothing
/// of this channel id was committed in between: the snapshot reflects exactly those positions
/// and the client gets every later update and none it already has. The query library's functions
/// take a pool, each statement its own snapshot, so one REPEATABLE READ transaction is not
/// available; this gives the same exactness without it. When the streams keep moving for
/// `EXACT_ATTEMPTS` reads, the last read goes out with the positions read before it: at least
/// those, so an update may repeat what the snapshot holds but none is missed.
///
/// A macro rather than a function taking two async closures: the futures of such closures are
/// not provably `Send`, which the async `SnapshotSource` needs. Both expressions are evaluated
/// each time (in the enclosing async fn) and yield `Result<_, SnapshotError>`.
macro_rules! exact {
    (positions: $positions:expr, read: $read:expr $(,)?) => {{
        let mut before = typed($positions)?;
        let mut attempt = 1;
        loop {
            let value = typed($read)?;
            let after = typed($positions)?;
            if after == before {
                break (value, before);
            }
            if attempt == EXACT_ATTEMPTS {
                metrics::counter!("socks_snapshot_inexact_total").increment(1);
                break (value, before);
            }
            before = after;
            attempt += 1;
        }
    }};
}

/// Fixes the error type of a block that ends in `Ok(…)`.
fn typed<T>(result: Result<T, SnapshotError>) -> Result<T, SnapshotError> {
    result
}

fn json<T: Serialize>(value: &T) -> Result<String, SnapshotError> {
    serde_json::to_string(value).map_err(|e| SnapshotError::Failed(e.to_string()))
}

impl StoreSnapshots {
    /// With the default compliance rules (status check on, geoblocking off).
    pub fn new(pool: PgPool, cache: Cache, markets: MarketDirectory) -> Arc<Self> {
        Self::with_compliance(pool, cache, markets, ComplianceRules::default())
    }

    pub fn with_compliance(
        pool: PgPool,
        cache: Cache,
        markets: MarketDirectory,
        compliance: ComplianceRules,
    ) -> Arc<Self> {
        Arc::new(Self {
            pool,
            cache,
            markets,
            compliance,
        })
    }

    /// comlink's check of account routes (serve.md §2.6), whose 403 the reference's socks turns
    /// into an error frame with the text (§5.6): whitelisted → allowed; `compliance_status`
    /// close-only → allowed, `BLOCKED` → refused; then, with geoblocking on, a request not marked
    /// `Geo-Origin-Status: ok` → refused.
    async fn check_compliance(&self, address: &str, geo: &GeoHeaders) -> Result<(), SnapshotError> {
        let rules = &self.compliance;
        if rules.whitelisted.iter().any(|w| w == address) {
            return Ok(());
        }
        if rules.status_check {
            let status = compliance::status(&self.pool, address).await?;
            match status.as_ref().map(|s| s.status.as_str()) {
                Some(status) if CLOSE_ONLY_STATUSES.contains(&status) => return Ok(()),
                Some("BLOCKED") => {
                    return Err(SnapshotError::Blocked(texts::COMPLIANCE_BLOCKED.into()))
                }
                _ => {}
            }
        }
        if rules.geoblocking && !geo.origin_ok() {
            return Err(SnapshotError::Blocked(texts::GEOBLOCKED.into()));
        }
        Ok(())
    }

    fn unknown_market(ticker: &str) -> SnapshotError {
        SnapshotError::Failed(format!("{ticker} is not a known market"))
    }

    async fn orderbook(&self, ticker: &str) -> Result<Snapshot, SnapshotError> {
        let markets = self.markets.get();
        let market = markets
            .by_ticker(ticker)
            .ok_or_else(|| Self::unknown_market(ticker))?;
        let book = orderbook::orderbook(&self.cache, market, ORDERBOOK_LEVELS_PER_SIDE).await?;
        let cursors = book
            .epoch
            .map(|epoch| Cursor {
                stream: StreamId::default(),
                epoch,
                seq: book.seq,
            })
            .into_iter()
            .collect();
        Ok(Snapshot {
            contents: json(&book.book)?,
            cursors,
        })
    }

    async fn block_height(&self) -> Result<Snapshot, SnapshotError> {
        let (contents, cursors) = exact!(
            positions: {
                self.ender_cursor(Channel::BlockHeight, "v4_block_height", None)
                    .await
            },
            read: {
                let latest = blocks::latest_block(&self.pool)
                    .await?
                    .ok_or_else(|| SnapshotError::Failed(blocks::NO_BLOCKS_FOUND.into()))?;
                json(&latest)
            },
        );
        Ok(Snapshot { contents, cursors })
    }

    async fn trades(&self, ticker: &str) -> Result<Snapshot, SnapshotError> {
        let clob_pair_id = self
            .markets
            .get()
            .by_ticker(ticker)
            .ok_or_else(|| Self::unknown_market(ticker))?
            .clob_pair_id;
        #[derive(Serialize)]
        struct Body<T> {
            trades: T,
        }
        let (contents, cursors) = exact!(
            positions: self.ender_cursor(Channel::Trades, ticker, None).await,
            read: {
                let filter = TradesFilter {
                    clob_pair_id,
                    created_before_or_at_height: None,
                    created_before_or_at: None,
                    pagination: Pagination::new(API_LIMIT, None),
                };
                let page = trades(&self.pool, &filter).await?;
                json(&Body { trades: page.items })
            },
        );
        Ok(Snapshot { contents, cursors })
    }

    async fn candles(&self, id: &str) -> Result<Snapshot, SnapshotError> {
        let (ticker, resolution) = id
            .split_once('/')
            .ok_or_else(|| SnapshotError::Failed(format!("bad candles id {id}")))?;
        let resolution: CandleResolution = resolution
            .parse()
            .map_err(|_| SnapshotError::Failed(format!("bad candle resolution {resolution}")))?;
        #[derive(Serialize)]
        struct Body<T> {
            candles: T,
        }
        let filter = CandlesFilter {
            resolution,
            limit: API_LIMIT,
            from_iso: None,
            to_iso: None,
        };
        let (contents, cursors) = exact!(
            positions: self.ender_cursor(Channel::Candles, id, None).await,
            read: {
                let rows = candles(&self.pool, ticker, &filter).await?;
                json(&Body { candles: rows })
            },
        );
        Ok(Snapshot { contents, cursors })
    }

    async fn markets(&self) -> Result<Snapshot, SnapshotError> {
        let (contents, cursors) = exact!(
            positions: {
                self.ender_cursor(Channel::Markets, "v4_markets", None)
                    .await
            },
            read: json(&markets::perpetual_markets(&self.pool, API_LIMIT).await?),
        );
        Ok(Snapshot { contents, cursors })
    }

    /// `{"subaccount": …, "orders": […], "blockHeight": "…"}`, or `{}` when the subaccount
    /// does not exist (serve.md §5.6).
    async fn subaccount(
        &self,
        key: &ChannelKey,
        geo: &GeoHeaders,
    ) -> Result<Snapshot, SnapshotError> {
        let (address, number) = split_subaccount_id(&key.id)?;
        self.check_compliance(address, geo).await?;
        if key.channel == Channel::ParentSubaccounts {
            let contents = self.account_contents(address, number, true).await?;
            return Ok(Snapshot {
                contents,
                cursors: Vec::new(),
            });
        }
        let (contents, cursors) = exact!(
            positions: {
                let source = Some(ENDER_SOURCE);
                let mut cursors = self
                    .ender_cursor(Channel::Subaccounts, &key.id, source)
                    .await?;
                cursors.extend(self.vulcan_subaccount_cursor(address, number).await?);
                Ok(cursors)
            },
            read: self.account_contents(address, number, false).await,
        );
        Ok(Snapshot { contents, cursors })
    }

    /// The account snapshot's `contents`: `{"subaccount": …, "orders": […], "blockHeight": "…"}`,
    /// or `{}` when the subaccount does not exist.
    async fn account_contents(
        &self,
        address: &str,
        number: u32,
        parent: bool,
    ) -> Result<String, SnapshotError> {
        let markets = self.markets.get();
        let latest = blocks::latest_block(&self.pool)
            .await?
            .map_or(0, |block| block.height.0);
        let subaccount = if parent {
            parent_subaccount(&self.pool, markets.snapshot(), address, number)
                .await
                .map(|s| json(&s))
        } else {
            subaccount(&self.pool, markets.snapshot(), address, number)
                .await
                .map(|s| json(&s))
        };
        let subaccount = match subaccount {
            Ok(text) => text?,
            Err(QueryError::NotFound(_)) => return Ok("{}".into()),
            Err(other) => return Err(other.into()),
        };
        let selector = if parent {
            SubaccountSelector::Parent {
                address: address.to_owned(),
                parent: number,
            }
        } else {
            SubaccountSelector::Single {
                address: address.to_owned(),
                number,
            }
        };
        let open = orders_filter(&["OPEN", "UNTRIGGERED", "BEST_EFFORT_OPENED"], None);
        let canceled = orders_filter(
            &["BEST_EFFORT_CANCELED"],
            Some((latest - BEST_EFFORT_CANCELED_BLOCKS).max(1)),
        );
        let (mut list, recent_canceled) = tokio::try_join!(
            orders(
                &self.pool,
                &self.cache,
                markets.snapshot(),
                &selector,
                &open
            ),
            orders(
                &self.pool,
                &self.cache,
                markets.snapshot(),
                &selector,
                &canceled
            ),
        )?;
        list.extend(recent_canceled);
        let mut contents = String::from("{\"subaccount\":");
        contents.push_str(&subaccount);
        contents.push_str(",\"orders\":");
        contents.push_str(&json(&list)?);
        contents.push_str(",\"blockHeight\":");
        contents.push_str(&json(&latest.to_string())?);
        contents.push('}');
        Ok(contents)
    }

    /// Ender's position on a channel id (its `channel_sequences` row, 0 if none yet) with the
    /// database epoch; nothing before ender processed its first block.
    async fn ender_cursor(
        &self,
        channel: Channel,
        id: &str,
        source: Option<&str>,
    ) -> Result<Vec<Cursor>, SnapshotError> {
        let row: Option<(uuid::Uuid, Option<i64>)> = sqlx::query_as(
            r#"SELECT p.epoch, s.seq FROM ender_progress p
               LEFT JOIN channel_sequences s ON s.channel = $1 AND s.channel_id = $2"#,
        )
        .bind(channel.name())
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row
            .map(|(epoch, seq)| Cursor {
                stream: StreamId {
                    source: source.map(str::to_owned),
                    child: None,
                },
                epoch: epoch.to_string(),
                seq: seq.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
            })
            .into_iter()
            .collect())
    }

    /// Vulcan's position on a subaccount's channel id: its Redis counter and the stream epoch.
    async fn vulcan_subaccount_cursor(
        &self,
        address: &str,
        number: u32,
    ) -> Result<Option<Cursor>, SnapshotError> {
        let keys = self.cache.keys();
        let (epoch, seq): (Option<String>, Option<u64>) = redis::cmd("MGET")
            .arg(keys.stream_epoch())
            .arg(keys.subaccount_vulcan_seq(address, number))
            .query_async(&mut self.cache.conn())
            .await
            .map_err(|e| SnapshotError::Failed(e.to_string()))?;
        Ok(epoch.map(|epoch| Cursor {
            stream: StreamId {
                source: Some(VULCAN_SOURCE.into()),
                child: None,
            },
            epoch,
            seq: seq.unwrap_or(0),
        }))
    }
}

fn split_subaccount_id(id: &str) -> Result<(&str, u32), SnapshotError> {
    let number =
        subaccount_number(id).ok_or_else(|| SnapshotError::Failed(format!("bad id {id}")))?;
    let address = id.split('/').next().unwrap_or_default();
    Ok((address, number))
}

fn orders_filter(statuses: &[&str], good_til_block_after: Option<i64>) -> OrdersFilter {
    OrdersFilter {
        clob_pair_id: None,
        side: None,
        order_type: None,
        include_types: Vec::new(),
        exclude_types: Vec::new(),
        statuses: statuses.iter().map(|s| (*s).to_owned()).collect(),
        good_til_block_before_or_at: None,
        good_til_block_after,
        good_til_block_time_before_or_at: None,
        good_til_block_time_after: None,
        descending: true,
        limit: API_LIMIT,
    }
}

#[async_trait]
impl SnapshotSource for StoreSnapshots {
    async fn snapshot(
        &self,
        key: &ChannelKey,
        geo: &GeoHeaders,
    ) -> Result<Snapshot, SnapshotError> {
        match key.channel {
            Channel::Orderbook => self.orderbook(&key.id).await,
            Channel::BlockHeight => self.block_height().await,
            Channel::Trades => self.trades(&key.id).await,
            Channel::Candles => self.candles(&key.id).await,
            Channel::Markets => self.markets().await,
            Channel::Subaccounts | Channel::ParentSubaccounts => self.subaccount(key, geo).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    fn at(seq: u64) -> Vec<Cursor> {
        vec![Cursor {
            stream: StreamId::default(),
            epoch: "e".into(),
            seq,
        }]
    }

    /// Runs `exact!` against a stream whose position reads return `positions` in turn; returns
    /// how many reads were made and the positions the snapshot went out with.
    async fn run(positions: &[u64]) -> Result<(usize, Vec<Cursor>), SnapshotError> {
        let next_position = Cell::new(0);
        let reads = Cell::new(0);
        let position = || {
            let i = next_position.get();
            next_position.set(i + 1);
            Ok(at(positions[i]))
        };
        let (read_number, cursors) = exact!(
            positions: position(),
            read: {
                reads.set(reads.get() + 1);
                Ok(reads.get())
            },
        );
        assert_eq!(read_number, reads.get(), "the last read goes out");
        Ok((reads.get(), cursors))
    }

    #[tokio::test]
    async fn a_read_between_equal_positions_is_exact() {
        assert_eq!(run(&[5, 5]).await.unwrap(), (1, at(5)));
    }

    #[tokio::test]
    async fn a_read_that_overlapped_a_commit_is_repeated_until_the_positions_agree() {
        assert_eq!(run(&[5, 6, 6]).await.unwrap(), (2, at(6)));
        assert_eq!(run(&[5, 6, 8, 8]).await.unwrap(), (3, at(8)));
    }

    #[tokio::test]
    async fn a_stream_that_keeps_moving_gets_the_position_before_the_last_read() {
        assert_eq!(run(&[5, 6, 7, 9]).await.unwrap(), (3, at(7)));
    }
}
