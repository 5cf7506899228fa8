//! The jobs. Each module holds one job: a pure part (what to change, given what was read) and a
//! `Job` implementation doing the reads and writes ops.md §1.4 describes.

pub mod market_updater;

use std::sync::Arc;

use indexer_bus::BusProducer;
use indexer_cache::Cache;
use indexer_store::Pools;

use crate::catalogue;
use crate::config::RoundtableSettings;
use crate::scheduler::Job;

/// The connections jobs use.
#[derive(Clone)]
pub struct Deps {
    pub pools: Pools,
    pub cache: Cache,
    pub producer: BusProducer,
    /// Size cap of one Kafka send batch (`KAFKA_MAX_BATCH_WEBSOCKET_MESSAGE_SIZE_BYTES`).
    pub max_batch_bytes: usize,
}

/// The implementation of catalogue job `name`, or `None` when this build has none.
pub fn build(name: &str, settings: &RoundtableSettings, deps: &Deps) -> Option<Arc<dyn Job>> {
    let _ = settings;
    let job: Arc<dyn Job> = match name {
        catalogue::MARKET_UPDATER => Arc::new(market_updater::MarketUpdater::new(deps.clone())),
        _ => return None,
    };
    Some(job)
}
