//! What ender does with one `to-ender` message: the height gate, the operator skip, the block
//! pipeline, and the verdict the Kafka loop acts on (ingest.md §2.5 with decisions Q9 and "bad
//! input" of docs/decisions.md).
//!
//! | Message | Verdict | Kafka loop |
//! |---|---|---|
//! | height ≤ last processed | `Duplicate` | commit, go on |
//! | height = next (or `ENDER_START_HEIGHT` on an empty database) | `Processed` | commit, go on |
//! | height = `ENDER_SKIP_BLOCK` | `SkippedByOperator` (progress advanced) | commit, go on |
//! | height > next | `Stop::Gap` | do not commit; stop, `/readyz` fails |
//! | does not decode / fails validation | `Stop::BadBlock` | dead-letter, do not commit; stop |
//! | database or Redis failure | `Stop::Retry` | do not commit; retry the same message |

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use indexer_cache::Cache;
use indexer_domain::Decimal;
use indexer_proto::indexer_manager::IndexerTendermintBlock;
use prost::Message;
use sqlx::PgPool;

use crate::decode::decode_block;
use crate::error::BlockError;
use crate::pipeline::{apply_block, load_caches, prefetch_keys, BlockInputs, Committed};
use crate::redis_io::canceled_statuses;
use crate::state::{Caches, ProcessSettings};

/// Operator settings of the consumer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GateSettings {
    /// First height accepted by an empty database (`ENDER_START_HEIGHT`, default 0).
    pub start_height: u32,
    /// A height whose block is skipped without being applied (`ENDER_SKIP_BLOCK`).
    pub skip_block: Option<u32>,
}

/// Where a block stands relative to the processed height.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Already applied (a replay): acknowledge and skip.
    Duplicate,
    /// The next block.
    Next,
    /// Blocks are missing between the last processed one and this one.
    Gap { expected: u32 },
}

/// The height gate (pure).
pub fn gate(last_processed: Option<i64>, start_height: u32, height: u32) -> Gate {
    let expected = match last_processed {
        Some(last) if i64::from(height) <= last => return Gate::Duplicate,
        Some(last) => (last + 1) as u32,
        None => start_height,
    };
    if height == expected {
        Gate::Next
    } else if last_processed.is_none() && height < start_height {
        Gate::Duplicate
    } else {
        Gate::Gap { expected }
    }
}

/// What happened to a message that can be acknowledged.
#[derive(Debug, Clone)]
pub enum Verdict {
    Processed {
        height: u32,
        committed: Box<Committed>,
    },
    Duplicate {
        height: u32,
    },
    SkippedByOperator {
        height: u32,
    },
}

/// Why ender must not acknowledge a message.
#[derive(Debug, thiserror::Error)]
pub enum Stop {
    #[error("block {got} arrived but {expected} is next: the full node skipped a block; stopping")]
    Gap { expected: u32, got: u32 },
    #[error("bad block {}: {reason}", height.map_or("(height unknown)".to_string(), |h| h.to_string()))]
    BadBlock { height: Option<u32>, reason: String },
    #[error("block {height} failed, will retry: {source}")]
    Retry { height: u32, source: BlockError },
}

/// Ender's block-applying state: the database, the committed caches and the processed height.
pub struct Ender {
    pool: PgPool,
    caches: Caches,
    last_processed: Option<i64>,
    gate: GateSettings,
    settings: ProcessSettings,
    redis: Option<Cache>,
    mid_prices: SharedMidPrices,
}

/// Median order-book mid prices per ticker, refreshed in the background (ingest.md §4.1 step 4).
pub type SharedMidPrices = Arc<RwLock<HashMap<String, Decimal>>>;

impl Ender {
    /// Loads the caches and the processed height.
    pub async fn start(
        pool: PgPool,
        gate: GateSettings,
        settings: ProcessSettings,
    ) -> Result<Self, BlockError> {
        let caches = load_caches(&pool).await?;
        let last_processed = indexer_store::last_processed_height(&pool).await?;
        Ok(Ender {
            pool,
            caches,
            last_processed,
            gate,
            settings,
            redis: None,
            mid_prices: SharedMidPrices::default(),
        })
    }

    /// Reads canceled statuses of filled orders from Redis and uses the shared mid prices.
    pub fn with_redis(mut self, redis: Cache, mid_prices: SharedMidPrices) -> Self {
        self.redis = Some(redis);
        self.mid_prices = mid_prices;
        self
    }

    pub fn last_processed(&self) -> Option<i64> {
        self.last_processed
    }

    pub fn caches(&self) -> &Caches {
        &self.caches
    }

    /// Handles one message value.
    pub async fn handle(&mut self, payload: &[u8], inputs: BlockInputs) -> Result<Verdict, Stop> {
        let raw = match IndexerTendermintBlock::decode(payload) {
            Ok(raw) => raw,
            Err(e) => return self.undecodable(e).await,
        };
        let height = raw.height;
        let mut verdict = gate(self.last_processed, self.gate.start_height, height);
        if let Gate::Gap { .. } = verdict {
            // Another instance (e.g. during a deployment) may have written blocks meanwhile:
            // re-read the database once before calling it a gap (ingest.md §2.5).
            self.reload(height).await?;
            verdict = gate(self.last_processed, self.gate.start_height, height);
        }
        match verdict {
            Gate::Duplicate => return Ok(Verdict::Duplicate { height }),
            Gate::Gap { expected } => {
                return Err(Stop::Gap {
                    expected,
                    got: height,
                })
            }
            Gate::Next => {}
        }
        if self.gate.skip_block == Some(height) {
            tracing::warn!(height, "ENDER_SKIP_BLOCK: block {height} is NOT applied; only the processed height advances");
            self.skip(height).await?;
            return Ok(Verdict::SkippedByOperator { height });
        }
        let block = decode_block(&raw).map_err(|e| Stop::BadBlock {
            height: Some(height),
            reason: e.to_string(),
        })?;
        let mut inputs = BlockInputs {
            settings: self.settings.clone(),
            ..inputs
        };
        if let Some(redis) = &self.redis {
            let keys = prefetch_keys(&block, &self.caches);
            inputs.canceled = canceled_statuses(redis, &keys.fill_orders)
                .await
                .map_err(|e| Stop::Retry {
                    height,
                    source: e.into(),
                })?;
        }
        if inputs.mid_prices.is_empty() {
            inputs.mid_prices = self.mid_prices.read().expect("mid price lock").clone();
        }
        match apply_block(&self.pool, &self.caches, &block, inputs).await {
            Ok(committed) => {
                self.caches.apply(committed.outcome.cache_delta.clone());
                self.last_processed = Some(i64::from(height));
                Ok(Verdict::Processed {
                    height,
                    committed: Box::new(committed),
                })
            }
            Err(error) => {
                // The block may have been committed by another instance meanwhile (then the
                // failure is a duplicate key, not bad input), and the caches may be stale:
                // reload both before judging.
                let reloaded = self.reload(height).await;
                if reloaded.is_ok() && self.last_processed >= Some(i64::from(height)) {
                    return Ok(Verdict::Duplicate { height });
                }
                if error.is_bad_input() {
                    return Err(Stop::BadBlock {
                        height: Some(height),
                        reason: error.to_string(),
                    });
                }
                Err(Stop::Retry {
                    height,
                    source: error,
                })
            }
        }
    }

    /// A message that is not a block at all has no height: `ENDER_SKIP_BLOCK` set to the next
    /// expected height skips it (it stands where that block should be); otherwise it is bad.
    async fn undecodable(&mut self, error: prost::DecodeError) -> Result<Verdict, Stop> {
        let next = match self.last_processed {
            Some(last) => u32::try_from(last + 1).ok(),
            None => Some(self.gate.start_height),
        };
        if let (Some(skip), Some(next)) = (self.gate.skip_block, next) {
            if skip == next {
                tracing::warn!(height = next, "ENDER_SKIP_BLOCK: an undecodable message in place of block {next} is NOT applied");
                self.skip(next).await?;
                return Ok(Verdict::SkippedByOperator { height: next });
            }
        }
        Err(Stop::BadBlock {
            height: None,
            reason: format!("not an IndexerTendermintBlock: {error}"),
        })
    }

    /// Re-reads the processed height and the caches from the database.
    async fn reload(&mut self, height: u32) -> Result<(), Stop> {
        let retry = |source: BlockError| Stop::Retry { height, source };
        self.last_processed = indexer_store::last_processed_height(&self.pool)
            .await
            .map_err(|e| retry(e.into()))?;
        self.caches = load_caches(&self.pool).await.map_err(retry)?;
        Ok(())
    }

    async fn skip(&mut self, height: u32) -> Result<(), Stop> {
        let retry = |source: BlockError| Stop::Retry { height, source };
        let mut tx = self.pool.begin().await.map_err(|e| retry(e.into()))?;
        indexer_store::write::advance_progress(&mut tx, i64::from(height))
            .await
            .map_err(|e| retry(e.into()))?;
        tx.commit().await.map_err(|e| retry(e.into()))?;
        self.last_processed = Some(i64::from(height));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_skips_replays_applies_the_next_block_and_stops_on_gaps() {
        assert_eq!(gate(Some(10), 0, 9), Gate::Duplicate);
        assert_eq!(gate(Some(10), 0, 10), Gate::Duplicate);
        assert_eq!(gate(Some(10), 0, 11), Gate::Next);
        assert_eq!(gate(Some(10), 0, 13), Gate::Gap { expected: 11 });
    }

    #[test]
    fn an_empty_database_accepts_only_the_start_height() {
        assert_eq!(gate(None, 0, 0), Gate::Next);
        assert_eq!(gate(None, 0, 1), Gate::Gap { expected: 0 });
        assert_eq!(gate(None, 500, 500), Gate::Next);
        assert_eq!(
            gate(None, 500, 499),
            Gate::Duplicate,
            "blocks before the start height are not ours"
        );
        assert_eq!(gate(None, 500, 501), Gate::Gap { expected: 500 });
    }
}
