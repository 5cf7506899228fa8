//! Read-your-height (beyond.md §3): the indexed height each database has reached, which pool a
//! request with `minHeight` reads from, and the `X-Indexer-Height` it reports.
//!
//! Heights only grow, so the height observed *before* a read is a lower bound of what the read
//! sees: a response is never older than the height it reports.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use indexer_store::Pools;
use sqlx::PgPool;
use tokio::time::Instant;

use crate::error::ApiError;

/// Pause between re-reads of the replica's height while a request waits for it.
const WAIT_POLL: Duration = Duration::from_millis(20);
/// Stored when no block is indexed yet.
const NO_HEIGHT: i64 = -1;

/// The pool a request reads from and the height that pool had reached.
#[derive(Clone, Debug)]
pub struct ReadDb {
    pub pool: PgPool,
    pub height: Option<i64>,
}

/// Latest indexed heights of the reader and (when a replica is configured) the primary.
pub struct HeightWatch {
    reader: PgPool,
    /// `None` when reads already go to the primary.
    primary: Option<PgPool>,
    reader_height: AtomicI64,
}

impl HeightWatch {
    pub fn new(pools: &Pools) -> Self {
        Self {
            reader: pools.reader().clone(),
            primary: pools.replica.is_some().then(|| pools.primary.clone()),
            reader_height: AtomicI64::new(NO_HEIGHT),
        }
    }

    /// The reader's height as last observed.
    pub fn reader_height(&self) -> Option<i64> {
        let height = self.reader_height.load(Ordering::Acquire);
        (height != NO_HEIGHT).then_some(height)
    }

    /// Re-reads the reader's height.
    pub async fn refresh(&self) -> Result<Option<i64>, sqlx::Error> {
        let height = max_height(&self.reader).await?;
        self.reader_height
            .fetch_max(height.unwrap_or(NO_HEIGHT), Ordering::AcqRel);
        Ok(self.reader_height())
    }

    /// Refreshes every `interval` until the task is aborted.
    pub fn spawn(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let watch = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                if let Err(error) = watch.refresh().await {
                    tracing::warn!(%error, "reading the indexed height failed");
                }
            }
        })
    }

    /// The pool to read from: the reader once it has reached `min_height` (waiting up to
    /// `wait`), else the primary if it has, else 503.
    pub async fn resolve(
        &self,
        min_height: Option<i64>,
        wait: Duration,
    ) -> Result<ReadDb, ApiError> {
        let reader = |height| ReadDb {
            pool: self.reader.clone(),
            height,
        };
        let Some(wanted) = min_height else {
            return Ok(reader(self.reader_height()));
        };
        if let Some(height) = self.reader_height().filter(|h| *h >= wanted) {
            return Ok(reader(Some(height)));
        }
        let deadline = Instant::now() + wait;
        loop {
            let height = self.refresh().await.map_err(internal)?;
            if height.is_some_and(|h| h >= wanted) {
                return Ok(reader(height));
            }
            if Instant::now() + WAIT_POLL > deadline {
                break;
            }
            tokio::time::sleep(WAIT_POLL).await;
        }
        let mut latest = self.reader_height();
        if let Some(primary) = &self.primary {
            let height = max_height(primary).await.map_err(internal)?;
            if height.is_some_and(|h| h >= wanted) {
                return Ok(ReadDb {
                    pool: primary.clone(),
                    height,
                });
            }
            latest = latest.max(height);
        }
        Err(ApiError::HeightNotReached {
            requested: wanted,
            latest,
        })
    }
}

async fn max_height(pool: &PgPool) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(r#"SELECT max("blockHeight") FROM blocks"#)
        .fetch_one(pool)
        .await
}

fn internal(error: sqlx::Error) -> ApiError {
    ApiError::Internal(format!("reading the indexed height: {error}"))
}
