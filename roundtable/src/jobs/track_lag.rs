//! `track_lag` (ops.md §1.4 #14): how far the indexer is behind the chain, as metrics.
//!
//! Asks each configured CometBFT RPC endpoint (`TRACK_LAG_INDEXER_FULL_NODE_URL`,
//! `TRACK_LAG_VALIDATOR_URL`, `TRACK_LAG_OTHER_FULL_NODE_URL`; any subset) for its latest block
//! through `/status`, reads our newest block from Postgres, and exports:
//! - `roundtable_block_height{source}` for every source (`indexer` is ours);
//! - `roundtable_block_lag_blocks{lag_type}` and `roundtable_time_lag_seconds{lag_type}` for each
//!   of the reference's five pairs whose two sources answered (`validator_to_indexer` is the one
//!   to alert on).
//!
//! An endpoint that does not answer within `TRACK_LAG_TIMEOUT_MS` fails the run (after the
//! other measurements were exported) so the failure is counted and logged.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tendermint_rpc::{Client, HttpClient};

use crate::config::LagUrls;
use crate::jobs::Deps;
use crate::metrics;
use crate::scheduler::{Job, RunContext};
use crate::JobError;

/// Where a block height comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Our database.
    Indexer,
    /// The full node feeding our indexer.
    IndexerFullNode,
    Validator,
    OtherFullNode,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Indexer => "indexer",
            Source::IndexerFullNode => "indexer_full_node",
            Source::Validator => "validator",
            Source::OtherFullNode => "other_full_node",
        }
    }
}

/// A source's latest block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockSample {
    pub height: i64,
    pub time: DateTime<Utc>,
}

/// One measured lag: `later` minus `earlier`.
#[derive(Debug, Clone, PartialEq)]
pub struct Lag {
    pub lag_type: &'static str,
    pub blocks: i64,
    pub seconds: f64,
}

/// The reference's lag pairs: (name, the source expected ahead, the source expected behind).
const PAIRS: [(&str, Source, Source); 5] = [
    (
        "indexer_full_node_to_indexer",
        Source::IndexerFullNode,
        Source::Indexer,
    ),
    (
        "validator_to_indexer_full_node",
        Source::Validator,
        Source::IndexerFullNode,
    ),
    (
        "validator_to_other_full_node",
        Source::Validator,
        Source::OtherFullNode,
    ),
    (
        "other_full_node_to_indexer_full_node",
        Source::OtherFullNode,
        Source::IndexerFullNode,
    ),
    ("validator_to_indexer", Source::Validator, Source::Indexer),
];

/// The lags between every pair of sources that both have a sample.
pub fn lags(samples: &[(Source, BlockSample)]) -> Vec<Lag> {
    let find = |source: Source| samples.iter().find(|(s, _)| *s == source).map(|(_, b)| *b);
    PAIRS
        .iter()
        .filter_map(|(lag_type, later, earlier)| {
            let (later, earlier) = (find(*later)?, find(*earlier)?);
            Some(Lag {
                lag_type,
                blocks: later.height - earlier.height,
                seconds: (later.time - earlier.time).num_milliseconds() as f64 / 1000.0,
            })
        })
        .collect()
}

pub struct TrackLag {
    deps: Deps,
    nodes: Vec<(Source, String)>,
    timeout: Duration,
}

impl TrackLag {
    pub fn new(deps: Deps, urls: &LagUrls, timeout: Duration) -> Self {
        let nodes = [
            (Source::IndexerFullNode, &urls.indexer_full_node),
            (Source::Validator, &urls.validator),
            (Source::OtherFullNode, &urls.other_full_node),
        ]
        .into_iter()
        .filter_map(|(source, url)| url.clone().map(|url| (source, url)))
        .collect();
        Self {
            deps,
            nodes,
            timeout,
        }
    }

    /// The latest block of the node at `url` (CometBFT `/status`).
    async fn node_block(&self, url: &str) -> Result<BlockSample, JobError> {
        let rpc_error = |reason: String| JobError::Rpc {
            url: url.to_string(),
            reason,
        };
        let client = HttpClient::new(url).map_err(|e| rpc_error(e.to_string()))?;
        let status = tokio::time::timeout(self.timeout, client.status())
            .await
            .map_err(|_| rpc_error(format!("no answer within {} ms", self.timeout.as_millis())))?
            .map_err(|e| rpc_error(e.to_string()))?;
        let sync = status.sync_info;
        let time = DateTime::parse_from_rfc3339(&sync.latest_block_time.to_rfc3339())
            .map_err(|e| rpc_error(format!("block time: {e}")))?
            .with_timezone(&Utc);
        Ok(BlockSample {
            height: sync.latest_block_height.value() as i64,
            time,
        })
    }

    /// Samples every source; the failures are returned beside the samples.
    pub async fn measure(&self) -> Result<(Vec<(Source, BlockSample)>, Vec<JobError>), JobError> {
        let mut samples = Vec::new();
        let mut failures = Vec::new();
        if let Some((height, time)) =
            indexer_store::roundtable::blocks::latest_block(&self.deps.pools.primary).await?
        {
            samples.push((Source::Indexer, BlockSample { height, time }));
        }
        let answers =
            futures::future::join_all(self.nodes.iter().map(|(_, url)| self.node_block(url))).await;
        for ((source, _), answer) in self.nodes.iter().zip(answers) {
            match answer {
                Ok(sample) => samples.push((*source, sample)),
                Err(error) => failures.push(error),
            }
        }
        Ok((samples, failures))
    }
}

#[async_trait]
impl Job for TrackLag {
    async fn run(&self, _ctx: &RunContext) -> Result<(), JobError> {
        let (samples, mut failures) = self.measure().await?;
        for (source, sample) in &samples {
            metrics::gauge_labeled(
                "roundtable_block_height",
                "source",
                source.as_str().to_string(),
                sample.height as f64,
            );
        }
        for lag in lags(&samples) {
            tracing::debug!(
                lag_type = lag.lag_type,
                blocks = lag.blocks,
                seconds = lag.seconds,
                "lag"
            );
            metrics::gauge_labeled(
                "roundtable_block_lag_blocks",
                "lag_type",
                lag.lag_type.to_string(),
                lag.blocks as f64,
            );
            metrics::gauge_labeled(
                "roundtable_time_lag_seconds",
                "lag_type",
                lag.lag_type.to_string(),
                lag.seconds,
            );
        }
        match failures.len() {
            0 => Ok(()),
            _ => Err(failures.remove(0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sample(height: i64, second: u32) -> BlockSample {
        BlockSample {
            height,
            time: Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, second).unwrap(),
        }
    }

    #[test]
    fn lags_are_measured_for_pairs_with_both_samples() {
        let samples = [
            (Source::Indexer, sample(1000, 0)),
            (Source::Validator, sample(1050, 30)),
        ];
        assert_eq!(
            lags(&samples),
            vec![Lag {
                lag_type: "validator_to_indexer",
                blocks: 50,
                seconds: 30.0
            }]
        );
        let all = [
            (Source::Indexer, sample(1000, 0)),
            (Source::IndexerFullNode, sample(1040, 20)),
            (Source::Validator, sample(1050, 30)),
            (Source::OtherFullNode, sample(1045, 25)),
        ];
        let names: Vec<_> = lags(&all)
            .into_iter()
            .map(|l| (l.lag_type, l.blocks))
            .collect();
        assert_eq!(
            names,
            vec![
                ("indexer_full_node_to_indexer", 40),
                ("validator_to_indexer_full_node", 10),
                ("validator_to_other_full_node", 5),
                ("other_full_node_to_indexer_full_node", 5),
                ("validator_to_indexer", 50),
            ]
        );
    }
}
