//! devnet: a simulated chain feeding the indexer for local development.
//!
//! Runs the base service (settings, logging, Bugsnag, metrics, admin server on 9006) and
//! publishes the blocks of a [`devnet::chain::SimulatedChain`] on `to-ender`, one every
//! `DEVNET_BLOCK_INTERVAL_MS` (0: publish nothing), until SIGTERM or Ctrl-C.
//!
//! Settings: `DEVNET_SEED` (7), `DEVNET_BLOCK_INTERVAL_MS` (2000), `DEVNET_ACCOUNTS` (4),
//! `DEVNET_MAX_FILLS_PER_BLOCK` (3), `DEVNET_FUNDING_INTERVAL_BLOCKS` (1800: an hour of
//! 2-second blocks), and the usual `KAFKA_*` variables.

use std::time::Duration;

use anyhow::Context;
use devnet::chain::{ChainConfig, SimulatedChain};
use indexer_base::config::{Env, KafkaSettings};
use indexer_base::Shutdown;
use indexer_bus::producer::BusProducer;
use indexer_bus::topics::Topic;
use indexer_bus::MessageHeaders;

const SERVICE_NAME: &str = "devnet";
const DEFAULT_ADMIN_PORT: u16 = 9006;

struct Settings {
    chain: ChainConfig,
    block_interval: Duration,
    kafka: KafkaSettings,
}

impl Settings {
    fn from_env(env: &Env) -> anyhow::Result<Self> {
        let block_interval = env.millis("DEVNET_BLOCK_INTERVAL_MS", 2_000)?;
        let chain = ChainConfig {
            accounts: env.get("DEVNET_ACCOUNTS", 4)?,
            max_fills_per_block: env.get("DEVNET_MAX_FILLS_PER_BLOCK", 3)?,
            funding_interval_blocks: env.get("DEVNET_FUNDING_INTERVAL_BLOCKS", 1_800)?,
            block_interval_secs: (block_interval.as_secs() as i64).max(1),
            ..ChainConfig::three_markets(env.get("DEVNET_SEED", 7)?)
        };
        Ok(Settings {
            chain,
            block_interval,
            kafka: KafkaSettings::from_env(env)?,
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let service = indexer_base::start(SERVICE_NAME, DEFAULT_ADMIN_PORT).await?;
    let settings = Settings::from_env(&Env::process())?;
    if settings.block_interval.is_zero() {
        tracing::info!("DEVNET_BLOCK_INTERVAL_MS is 0: publishing nothing; waiting for shutdown");
        service.shutdown().wait().await;
    } else {
        let producer = BusProducer::new(&settings.kafka).context("kafka producer")?;
        publish_blocks(&settings, &producer, service.shutdown()).await?;
    }
    service.finish().await;
    Ok(())
}

/// Publishes one block per interval until shutdown; a failed send ends the process.
async fn publish_blocks(
    settings: &Settings,
    producer: &BusProducer,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let mut chain = SimulatedChain::new(settings.chain.clone());
    let mut ticks = tokio::time::interval(settings.block_interval);
    let headers = MessageHeaders::new();
    loop {
        tokio::select! {
            _ = shutdown.wait() => return Ok(()),
            _ = ticks.tick() => {}
        }
        let height = chain.height();
        let block = chain.next_block_bytes();
        // A missing topic makes the producer retry for a long time; shutdown must not wait.
        tokio::select! {
            _ = shutdown.wait() => return Ok(()),
            sent = producer.send(Topic::ToEnder, None, &block, &headers) => {
                sent.with_context(|| format!("publishing block {height}"))?;
            }
        }
        metrics::counter!("devnet_blocks_published_total").increment(1);
        tracing::debug!(height, bytes = block.len(), "block published");
    }
}
