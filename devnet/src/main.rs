//! devnet: a simulated chain feeding the indexer for local development and benchmarks.
//!
//! Runs the base service (settings, logging, Bugsnag, metrics, admin server on 9006) and
//! publishes what a full node publishes for each block of a [`devnet::chain::SimulatedChain`]:
//! first the block's off-chain order updates on `to-vulcan` (keyed by SHA-256 of the order id,
//! so each order's updates share a partition), then, once those are acknowledged, the block on
//! `to-ender`. Runs until SIGTERM or Ctrl-C.
//!
//! Settings (defaults in brackets):
//!
//! | Variable | Meaning |
//! |---|---|
//! | `DEVNET_SEED` [7] | seed of the chain: the same seed and settings publish the same bytes |
//! | `DEVNET_BLOCK_INTERVAL_MS` [1000] | wall time between blocks; 0 publishes nothing |
//! | `DEVNET_BLOCKS_PER_SECOND` [unset] | overrides the interval: blocks per second, or `max` for full speed |
//! | `DEVNET_BLOCKS` [0] | stop publishing after this many blocks (0: never), then idle until shutdown |
//! | `DEVNET_MARKETS` [6] | markets: BTC-USD, ETH-USD, SOL-USD, AVAX-USD, LINK-USD, DOGE-USD, first N |
//! | `DEVNET_ACCOUNTS` [20] | funded accounts (subaccount 0 of each) |
//! | `DEVNET_MAX_FILLS_PER_BLOCK` [3] | up to this many taker orders per block (each fills one or more makers) |
//! | `DEVNET_MAKER_ORDERS_PER_BLOCK` [4] | resting orders placed per block (plus two per taker) |
//! | `DEVNET_EVENTS_PER_BLOCK` [unset] | if set, sizes the two above for about this many on-chain events per block |
//! | `DEVNET_STATEFUL_ORDER_PERCENT` [10] | share of resting orders that are long-term (on chain) |
//! | `DEVNET_LIQUIDATION_ONE_IN_BLOCKS` [40] | average blocks between liquidations (0: none) |
//! | `DEVNET_DELEVERAGING_ONE_IN_BLOCKS` [150] | average blocks between deleveragings (0: none) |
//! | `DEVNET_TRANSFER_ONE_IN_BLOCKS` [10] | average blocks between transfers/deposits/withdrawals |
//! | `DEVNET_BLOCK_SECONDS` [1] | simulated seconds between block times |
//! | `DEVNET_FUNDING_INTERVAL_BLOCKS` [3600 / block seconds] | blocks between funding ticks (a simulated hour) |
//! | `DEVNET_GENESIS_TIME` [now] | block time of block 0, Unix seconds (fix it for reproducible runs) |
//!
//! and the usual `KAFKA_*` variables.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use devnet::chain::{ChainConfig, SimulatedChain};
use indexer_base::config::{Env, KafkaSettings};
use indexer_base::Shutdown;
use indexer_bus::producer::{BusProducer, OutgoingMessage};
use indexer_bus::topics::Topic;
use indexer_bus::MessageHeaders;
use prost::Message;

const SERVICE_NAME: &str = "devnet";
const DEFAULT_ADMIN_PORT: u16 = 9006;
const SECONDS_PER_HOUR: u32 = 3_600;

/// How fast blocks are published.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pace {
    Idle,
    Every(Duration),
    FullSpeed,
}

struct Settings {
    chain: ChainConfig,
    pace: Pace,
    /// Blocks to publish before idling (None: unlimited).
    blocks: Option<u64>,
    kafka: KafkaSettings,
}

impl Settings {
    fn from_env(env: &Env) -> anyhow::Result<Self> {
        let pace = pace_from_env(env)?;
        let markets: usize = env.get("DEVNET_MARKETS", 6)?;
        let block_seconds: u32 = env.get("DEVNET_BLOCK_SECONDS", 1)?;
        if block_seconds == 0 {
            bail!("DEVNET_BLOCK_SECONDS must be at least 1");
        }
        let base = ChainConfig::with_markets(env.get("DEVNET_SEED", 7)?, markets);
        let (max_fills, makers) = match env.optional::<u64>("DEVNET_EVENTS_PER_BLOCK")? {
            Some(events) => sized_for_events(events, base.markets.len() as u64),
            None => (
                env.get("DEVNET_MAX_FILLS_PER_BLOCK", 3)?,
                env.get("DEVNET_MAKER_ORDERS_PER_BLOCK", 4)?,
            ),
        };
        let chain = ChainConfig {
            accounts: env.get("DEVNET_ACCOUNTS", 20)?,
            max_fills_per_block: max_fills,
            maker_orders_per_block: makers,
            stateful_order_percent: env.get("DEVNET_STATEFUL_ORDER_PERCENT", 10)?,
            liquidation_one_in_blocks: env.get("DEVNET_LIQUIDATION_ONE_IN_BLOCKS", 40)?,
            deleveraging_one_in_blocks: env.get("DEVNET_DELEVERAGING_ONE_IN_BLOCKS", 150)?,
            transfer_one_in_blocks: env.get("DEVNET_TRANSFER_ONE_IN_BLOCKS", 10)?,
            funding_interval_blocks: env.get(
                "DEVNET_FUNDING_INTERVAL_BLOCKS",
                (SECONDS_PER_HOUR / block_seconds).max(1),
            )?,
            block_interval_secs: i64::from(block_seconds),
            genesis_time_secs: env.get("DEVNET_GENESIS_TIME", now_secs())?,
            ..base
        };
        if chain.accounts < 2 {
            bail!("DEVNET_ACCOUNTS must be at least 2 (trades need two sides)");
        }
        if chain.funding_interval_blocks == 0 {
            bail!("DEVNET_FUNDING_INTERVAL_BLOCKS must be at least 1");
        }
        let blocks: u64 = env.get("DEVNET_BLOCKS", 0)?;
        Ok(Settings {
            chain,
            pace,
            blocks: (blocks > 0).then_some(blocks),
            kafka: KafkaSettings::from_env(env)?,
        })
    }
}

fn pace_from_env(env: &Env) -> anyhow::Result<Pace> {
    if let Some(rate) = env.raw("DEVNET_BLOCKS_PER_SECOND") {
        if rate.trim() == "max" {
            return Ok(Pace::FullSpeed);
        }
        let per_second: f64 = rate
            .trim()
            .parse()
            .ok()
            .filter(|r: &f64| *r > 0.0 && r.is_finite())
            .with_context(|| {
                format!("DEVNET_BLOCKS_PER_SECOND must be a positive number or `max`, got {rate:?}")
            })?;
        return Ok(Pace::Every(Duration::from_secs_f64(1.0 / per_second)));
    }
    let interval = env.millis("DEVNET_BLOCK_INTERVAL_MS", 1_000)?;
    Ok(if interval.is_zero() {
        Pace::Idle
    } else {
        Pace::Every(interval)
    })
}

/// Taker and maker counts for about `events` on-chain events per block. Measured (six markets,
/// 100 accounts, 200 blocks): a block carries about four events per unit of the taker maximum
/// (half of it on average, each taker filling one or two makers at three events a fill, plus
/// stateful placements, removals and crossings of the resting orders, at half the taker
/// maximum), besides a price update per market and a premium sample.
fn sized_for_events(events: u64, markets: u64) -> (u64, u64) {
    let trading = events.saturating_sub(markets + 1);
    let max_fills = (trading / 4).max(1);
    (max_fills, (max_fills / 2).max(2))
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let service = indexer_base::start(SERVICE_NAME, DEFAULT_ADMIN_PORT).await?;
    let settings = Settings::from_env(&Env::process())?;
    if settings.pace == Pace::Idle {
        tracing::info!("DEVNET_BLOCK_INTERVAL_MS is 0: publishing nothing; waiting for shutdown");
        service.shutdown().wait().await;
    } else {
        let producer = BusProducer::new(&settings.kafka).context("kafka producer")?;
        publish_blocks(&settings, &producer, service.shutdown()).await?;
    }
    service.finish().await;
    Ok(())
}

/// Publishes each block's off-chain updates, then the block, at the configured pace until
/// shutdown (or until `DEVNET_BLOCKS` blocks, then waits for shutdown); a failed send ends the
/// process.
async fn publish_blocks(
    settings: &Settings,
    producer: &BusProducer,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let mut chain = SimulatedChain::new(settings.chain.clone());
    let mut ticks = match settings.pace {
        Pace::Every(interval) => Some(tokio::time::interval(interval)),
        _ => None,
    };
    tracing::info!(
        seed = settings.chain.seed,
        markets = settings.chain.markets.len(),
        accounts = settings.chain.accounts,
        pace = ?settings.pace,
        "publishing the simulated chain"
    );
    while settings
        .blocks
        .is_none_or(|limit| u64::from(chain.height()) < limit)
    {
        if let Some(ticks) = ticks.as_mut() {
            tokio::select! {
                _ = shutdown.wait() => return Ok(()),
                _ = ticks.tick() => {}
            }
        }
        // A missing topic makes the producer retry for a long time; shutdown must not wait.
        tokio::select! {
            _ = shutdown.wait() => return Ok(()),
            sent = publish_one(&mut chain, producer) => sent?,
        }
    }
    tracing::info!(
        blocks = chain.height(),
        "DEVNET_BLOCKS published; waiting for shutdown"
    );
    shutdown.wait().await;
    Ok(())
}

async fn publish_one(chain: &mut SimulatedChain, producer: &BusProducer) -> anyhow::Result<()> {
    let height = chain.height();
    let output = chain.next_output();
    let updates: Vec<OutgoingMessage> = output
        .off_chain
        .iter()
        .map(|m| OutgoingMessage::new(Some(m.key.to_vec()), m.encode()))
        .collect();
    producer
        .send_all(Topic::ToVulcan, &updates)
        .await
        .with_context(|| format!("publishing the off-chain updates of block {height}"))?;
    let block = output.block.encode_to_vec();
    producer
        .send(Topic::ToEnder, None, &block, &MessageHeaders::new())
        .await
        .with_context(|| format!("publishing block {height}"))?;
    metrics::counter!("devnet_blocks_published_total").increment(1);
    metrics::counter!("devnet_events_published_total").increment(output.block.events.len() as u64);
    metrics::counter!("devnet_off_chain_updates_published_total").increment(updates.len() as u64);
    tracing::debug!(
        height,
        bytes = block.len(),
        updates = updates.len(),
        "block published"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `DEVNET_EVENTS_PER_BLOCK` lands within a third of its target for small and large blocks.
    #[test]
    fn events_per_block_sizing_lands_near_the_target() {
        for target in [50u64, 500, 2_000] {
            let (max_fills, makers) = sized_for_events(target, 6);
            let mut chain = SimulatedChain::new(ChainConfig {
                accounts: 100,
                max_fills_per_block: max_fills,
                maker_orders_per_block: makers,
                ..ChainConfig::with_markets(7, 6)
            });
            chain.next_block();
            chain.next_block();
            let blocks = 100;
            let events: usize = (0..blocks).map(|_| chain.next_block().events.len()).sum();
            let average = (events / blocks) as u64;
            assert!(
                average * 3 > target * 2 && average * 3 < target * 4,
                "target {target}: {average} events per block"
            );
        }
    }
}
