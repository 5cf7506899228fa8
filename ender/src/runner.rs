//! The running service: the `to-ender` consumer loop, the outbox relay and the mid-price refresh,
//! with metrics and readiness (ingest.md §9; issue: "/readyz fails when lag exceeds a threshold").

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use indexer_base::Readiness;
use indexer_bus::consumer::{BusConsumer, ConsumerOptions, Decoder, OffsetReset, Received};
use indexer_bus::producer::BusProducer;
use indexer_bus::topics::Topic;
use indexer_cache::Cache;
use indexer_store::Pools;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::EnderSettings;
use crate::consumer::{Ender, SharedMidPrices, Stop, Verdict};
use crate::pipeline::BlockInputs;
use crate::redis_io::mid_prices;
use crate::relay::Relay;

/// Readiness flag: false once ender stopped on a gap or a bad block.
pub const READY_CONSUMING: &str = "ender_consuming";
/// Readiness flag: false while the last block was processed too long after its block time.
pub const READY_LAG: &str = "ender_lag";

/// Why ender could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] indexer_store::StoreError),
    #[error(transparent)]
    Cache(#[from] indexer_cache::CacheError),
    #[error(transparent)]
    Bus(#[from] indexer_bus::BusError),
    #[error(transparent)]
    Block(#[from] crate::error::BlockError),
}

fn raw_decoder() -> Decoder<Vec<u8>> {
    Box::new(|bytes: &[u8]| Ok(bytes.to_vec()))
}

/// Runs ender until `shutdown`.
pub async fn run(
    settings: EnderSettings,
    readiness: Readiness,
    shutdown: CancellationToken,
) -> Result<(), StartError> {
    let pools = Pools::connect(&settings.postgres).await?;
    let redis = Cache::connect(&settings.redis).await?;
    let mid_prices = SharedMidPrices::default();
    let mut ender = Ender::start(
        pools.primary.clone(),
        settings.gate.clone(),
        settings.process.clone(),
    )
    .await?
    .with_redis(redis.clone(), mid_prices.clone());
    tracing::info!(last_processed = ?ender.last_processed(), "ender caches loaded");
    let options =
        ConsumerOptions::new("ender", [Topic::ToEnder]).offset_reset(OffsetReset::Earliest);
    let consumer = BusConsumer::subscribe(&settings.kafka, &options, raw_decoder())?;
    let relay = Relay::new(
        pools.primary.clone(),
        BusProducer::new(&settings.kafka)?,
        redis.clone(),
    );
    let committed = Arc::new(Notify::new());
    let relay_task = tokio::spawn(relay.run(committed.clone(), shutdown.clone()));
    let refresh_task = tokio::spawn(refresh_mid_prices(
        pools.primary.clone(),
        redis,
        mid_prices,
        settings.mid_price_refresh,
        shutdown.clone(),
    ));
    readiness.set_ready(READY_CONSUMING, true);
    readiness.set_ready(READY_LAG, true);
    consume(
        &mut ender, &consumer, &settings, &readiness, &committed, &shutdown,
    )
    .await;
    shutdown.cancelled().await;
    let _ = relay_task.await;
    let _ = refresh_task.await;
    pools.close().await;
    Ok(())
}

async fn consume(
    ender: &mut Ender,
    consumer: &BusConsumer<Vec<u8>>,
    settings: &EnderSettings,
    readiness: &Readiness,
    committed: &Notify,
    shutdown: &CancellationToken,
) {
    loop {
        let received = tokio::select! {
            _ = shutdown.cancelled() => return,
            received = consumer.next() => received,
        };
        let received = match received {
            Ok(received) => received,
            Err(error) => {
                tracing::warn!(%error, "reading to-ender failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        metrics::counter!("ender_received_messages_total").increment(1);
        if !handle_until_done(
            ender, consumer, &received, settings, readiness, committed, shutdown,
        )
        .await
        {
            return;
        }
    }
}

/// Applies one message, retrying infrastructure failures. Returns false when ender must stop.
async fn handle_until_done(
    ender: &mut Ender,
    consumer: &BusConsumer<Vec<u8>>,
    received: &Received<Vec<u8>>,
    settings: &EnderSettings,
    readiness: &Readiness,
    committed: &Notify,
    shutdown: &CancellationToken,
) -> bool {
    let mut backoff = Duration::from_millis(200);
    let first_attempt = Instant::now();
    loop {
        let started = Instant::now();
        let inputs = BlockInputs {
            message_timestamp_ms: received.meta.timestamp_ms,
            ..BlockInputs::default()
        };
        match ender.handle(&received.payload, inputs).await {
            Ok(verdict) => {
                record(&verdict, started, settings, readiness);
                committed.notify_one();
                if let Err(error) = consumer.commit(&received.meta).await {
                    // The block is committed in Postgres; a replay is skipped by the height gate.
                    tracing::warn!(%error, "committing the to-ender offset failed");
                }
                return true;
            }
            Err(Stop::Retry { height, source }) => {
                metrics::counter!("ender_block_retries_total").increment(1);
                tracing::warn!(height, error = %source, "block failed for an infrastructure reason; retrying");
                // Stuck on one block longer than the lag budget: not ready.
                if first_attempt.elapsed() > settings.max_lag {
                    readiness.set_ready(READY_LAG, false);
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return false,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
            Err(stop @ Stop::Gap { .. }) => {
                metrics::counter!("ender_block_gaps_total").increment(1);
                tracing::error!(error = %stop, "ender stopped: a block is missing");
                readiness.set_ready(READY_CONSUMING, false);
                return false;
            }
            Err(Stop::BadBlock { height, reason }) => {
                metrics::counter!("ender_bad_blocks_total").increment(1);
                tracing::error!(height = ?height, %reason, "ender stopped on a bad block; set ENDER_SKIP_BLOCK to skip it");
                if let Err(error) = consumer.dead_letter(received, &reason).await {
                    tracing::error!(%error, "dead-lettering the bad block failed");
                }
                readiness.set_ready(READY_CONSUMING, false);
                return false;
            }
        }
    }
}

fn record(verdict: &Verdict, started: Instant, settings: &EnderSettings, readiness: &Readiness) {
    match verdict {
        Verdict::Processed { height, committed } => {
            metrics::counter!("ender_blocks_processed_total").increment(1);
            metrics::histogram!("ender_block_processing_seconds")
                .record(started.elapsed().as_secs_f64());
            metrics::histogram!("ender_events_per_block")
                .record(committed.outcome.write.tendermint_events.len() as f64);
            metrics::gauge!("ender_processed_height").set(f64::from(*height));
            let block_time = committed.outcome.write.block.as_ref().map(|b| b.time);
            if let Some(block_time) = block_time {
                // Block time to commit: what a user waits before the chain's state is queryable.
                let lag = (Utc::now() - block_time).to_std().unwrap_or_default();
                metrics::gauge!("ender_block_lag_seconds").set(lag.as_secs_f64());
                metrics::histogram!("ender_block_commit_lag_seconds").record(lag.as_secs_f64());
                readiness.set_ready(READY_LAG, lag <= settings.max_lag);
            }
            for notice in &committed.outcome.notices {
                metrics::counter!("ender_notices_total", "kind" => notice.kind).increment(1);
                tracing::warn!(event = %notice.event, kind = notice.kind, "{}", notice.message);
            }
            tracing::debug!(height, "block processed");
        }
        Verdict::Duplicate { height } => {
            metrics::counter!("ender_duplicate_blocks_total").increment(1);
            tracing::info!(height, "block already processed; skipped");
        }
        Verdict::SkippedByOperator { height } => {
            metrics::counter!("ender_operator_skipped_blocks_total").increment(1);
            tracing::error!(
                height,
                "block skipped by ENDER_SKIP_BLOCK: its events were NOT applied"
            );
        }
    }
}

async fn refresh_mid_prices(
    pool: sqlx::PgPool,
    redis: Cache,
    shared: SharedMidPrices,
    every: Duration,
    shutdown: CancellationToken,
) {
    loop {
        // Tickers are re-read every round so markets listed after start-up get mid prices too.
        let tickers: Vec<String> = sqlx::query_scalar("SELECT ticker FROM perpetual_markets")
            .fetch_all(&pool)
            .await
            .unwrap_or_default();
        match mid_prices(&redis, &tickers).await {
            Ok(prices) => *shared.write().expect("mid price lock") = prices,
            Err(error) => tracing::warn!(%error, "reading order-book mid prices failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
