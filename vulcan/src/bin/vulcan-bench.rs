//! Throughput and latency of vulcan's processing path against the real Redis: pre-encoded
//! `to-vulcan` messages are decoded and fed to the same batch loop the service runs
//! (`service::process`: as many waiting messages as `--batch` allows per atomic script call),
//! and processed batches are drained as the publisher would take them (the Kafka send itself is
//! not part of this measurement).
//!
//! Each simulated short-term order gets the mainnet sequence: place (best effort), update with
//! total filled 0 (rests), a partial fill, a user cancel — 4 updates per order, orders spread over
//! `--markets` markets and many price levels, `--live` orders interleaved at a time.
//!
//! ```text
//! cargo run --release -p vulcan --bin vulcan-bench -- --updates 1000000 --rate 0
//! cargo run --release -p vulcan --bin vulcan-bench -- --updates 1000000 --rate 100000
//! ```

use std::time::{Duration, Instant};

use clap::Parser;
use indexer_base::config::{Env, RedisSettings};
use indexer_bus::MessageHeaders;
use indexer_cache::Cache;
use indexer_domain::order_id::order_id_key;
use indexer_domain::MarketParams;
use indexer_proto::off_chain_updates::off_chain_update_v1::UpdateMessage;
use indexer_proto::off_chain_updates::{
    OffChainUpdateV1, OrderPlaceV1, OrderRemoveV1, OrderUpdateV1,
};
use indexer_proto::protocol::v1::indexer_order::GoodTilOneof;
use indexer_proto::protocol::v1::{IndexerOrder, IndexerOrderId, IndexerSubaccountId};
use prost::Message;
use tokio::sync::mpsc;
use vulcan::markets::{Context, Market, Markets};
use vulcan::pipeline::{Inbound, Processor, ProcessorSettings};
use vulcan::service;

#[derive(Parser, Debug)]
struct Args {
    /// Updates to process (rounded down to whole orders of 4 updates).
    #[arg(long, default_value_t = 1_000_000)]
    updates: usize,
    /// Offered load in updates/s; 0 = as fast as possible (maximum sustained throughput).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Most updates per script call (VULCAN_BATCH_SIZE).
    #[arg(long, default_value_t = 256)]
    batch: usize,
    #[arg(long, default_value_t = 8)]
    markets: u32,
    /// Orders in flight at once (their updates interleave).
    #[arg(long, default_value_t = 5_000)]
    live: usize,
}

fn market(clob_pair_id: u32) -> Market {
    Market {
        clob_pair_id,
        ticker: format!("BENCH{clob_pair_id}-USD"),
        params: MarketParams {
            atomic_resolution: -10,
            quantum_conversion_exponent: -9,
            subticks_per_tick: 100_000,
            step_base_quantums: 1_000_000,
        },
    }
}

fn order_id(n: usize, markets: u32) -> IndexerOrderId {
    IndexerOrderId {
        subaccount_id: Some(IndexerSubaccountId {
            owner: format!("dydx1benchowner{:05}", n % 2_000),
            number: (n % 3) as u32,
        }),
        client_id: n as u32,
        order_flags: 0,
        clob_pair_id: (n as u32) % markets,
    }
}

/// Update `step` (0..4) of order `n`.
fn message(n: usize, step: usize, markets: u32) -> OffChainUpdateV1 {
    let id = order_id(n, markets);
    let quantums = 1_000_000 * (1 + (n % 50) as u64);
    let message = match step {
        0 => UpdateMessage::OrderPlace(OrderPlaceV1 {
            order: Some(IndexerOrder {
                order_id: Some(id),
                side: 1 + (n % 2) as i32,
                quantums,
                subticks: 5_000_000_000 + 100_000 * (n % 400) as u64,
                good_til_oneof: Some(GoodTilOneof::GoodTilBlock(1_000 + (n / 1_000) as u32)),
                client_metadata: 0,
                ..Default::default()
            }),
            placement_status: 1,
            time_stamp: None,
        }),
        1 => UpdateMessage::OrderUpdate(OrderUpdateV1 {
            order_id: Some(id),
            total_filled_quantums: 0,
        }),
        2 => UpdateMessage::OrderUpdate(OrderUpdateV1 {
            order_id: Some(id),
            total_filled_quantums: quantums / 2,
        }),
        _ => UpdateMessage::OrderRemove(OrderRemoveV1 {
            removed_order_id: Some(id),
            reason: 2,
            removal_status: 1,
            time_stamp: None,
        }),
    };
    OffChainUpdateV1 {
        update_message: Some(message),
    }
}

/// The whole stream, encoded, in Kafka order: orders in waves of `live`, each wave's steps
/// interleaved so every order's own updates stay in order.
fn stream(args: &Args) -> Vec<(Vec<u8>, Vec<u8>)> {
    let orders = args.updates / 4;
    let mut out = Vec::with_capacity(orders * 4);
    for wave in (0..orders).step_by(args.live) {
        let end = (wave + args.live).min(orders);
        for step in 0..4 {
            for n in wave..end {
                let key = order_id_key(&order_id(n, args.markets)).to_vec();
                out.push((key, message(n, step, args.markets).encode_to_vec()));
            }
        }
    }
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let prefix = format!("bench-{}:", uuid::Uuid::new_v4().simple());
    let env = Env::from_pairs([("REDIS_KEY_PREFIX", prefix.as_str())]);
    let cache = Cache::connect(&RedisSettings::from_env(&env)?).await?;
    let context = Context::new(Markets::new((0..args.markets).map(market)), Some(900));
    let processor = Processor::new(cache.clone(), None, context, ProcessorSettings::default());

    let redis_before = RedisUsage::read(&cache).await?;
    let own_cpu_before = own_cpu_seconds();
    let load_before = load_average();
    let messages = stream(&args);
    let total = messages.len();
    eprintln!(
        "generated {total} updates; running (rate {}/s, batch {})",
        args.rate, args.batch
    );

    let (in_tx, in_rx) = mpsc::channel(8_192);
    let (done_tx, mut done_rx) = mpsc::channel(16);
    let runner = tokio::spawn(service::process(processor, in_rx, done_tx, args.batch));
    let rate = args.rate;
    let started = Instant::now();
    let feeder = tokio::spawn(async move {
        for (i, (key, raw)) in messages.into_iter().enumerate() {
            let due = if rate == 0 {
                Instant::now()
            } else {
                started + Duration::from_secs_f64(i as f64 / rate as f64)
            };
            if rate != 0 {
                tokio::time::sleep_until(due.into()).await;
            }
            let update =
                OffChainUpdateV1::decode(raw.as_slice()).expect("generated messages decode");
            let inbound = Inbound {
                update,
                raw,
                key: Some(key),
                headers: MessageHeaders::new(),
                kafka_timestamp_ms: Some(1_700_000_000_000),
                received: due,
                meta: None,
            };
            if in_tx.send(inbound).await.is_err() {
                break;
            }
        }
    });

    let mut latencies = Vec::with_capacity(total);
    let (mut outgoing, mut dead) = (0usize, 0usize);
    while latencies.len() < total {
        let Some(done) = done_rx.recv().await else {
            break;
        };
        let now = Instant::now();
        latencies.extend(done.received.iter().map(|r| now.duration_since(*r)));
        outgoing += done.result.outgoing.len();
        dead += done.result.dead_letters.len();
    }
    let elapsed = started.elapsed();
    feeder.await?;
    runner.abort();
    latencies.sort();
    println!(
        "updates: {total} in {:.2} s = {:.0} updates/s (offered: {})",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        if rate == 0 {
            "max".to_string()
        } else {
            format!("{rate}/s")
        }
    );
    println!(
        "latency receive→processed: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3
    );
    println!("websocket / re-queue messages built: {outgoing}; dead letters: {dead}");
    let redis_after = RedisUsage::read(&cache).await?;
    let per_update = |seconds: f64| seconds * 1e6 / total as f64;
    println!(
        "Redis CPU {:.1} µs/update, commands run by scripts {:.2}/update; bench CPU {}; load average {} → {}",
        per_update(redis_after.cpu_seconds - redis_before.cpu_seconds),
        (redis_after.inner_calls - redis_before.inner_calls) as f64 / total as f64,
        match (own_cpu_before, own_cpu_seconds()) {
            (Some(a), Some(b)) => format!("{:.1} µs/update", per_update(b - a)),
            _ => "n/a".into(),
        },
        load_before,
        load_average(),
    );
    cache.clear().await?;
    Ok(())
}

/// Redis server CPU (`INFO cpu`, all clients: run on a quiet server) and the number of commands
/// other than script calls and INFO (`INFO commandstats`: what the scripts called).
struct RedisUsage {
    cpu_seconds: f64,
    inner_calls: u64,
}

impl RedisUsage {
    async fn read(cache: &Cache) -> anyhow::Result<Self> {
        let cpu: String = redis::cmd("INFO")
            .arg("cpu")
            .query_async(&mut cache.conn())
            .await?;
        let stats: String = redis::cmd("INFO")
            .arg("commandstats")
            .query_async(&mut cache.conn())
            .await?;
        let cpu_seconds = cpu
            .lines()
            .filter_map(|l| {
                l.strip_prefix("used_cpu_sys:")
                    .or_else(|| l.strip_prefix("used_cpu_user:"))
            })
            .filter_map(|v| v.trim().parse::<f64>().ok())
            .sum();
        let inner_calls = stats
            .lines()
            .filter_map(|l| l.strip_prefix("cmdstat_"))
            .filter(|l| {
                !["evalsha:", "eval:", "info:"]
                    .iter()
                    .any(|c| l.starts_with(c))
            })
            .filter_map(|l| {
                l.split("calls=")
                    .nth(1)?
                    .split(',')
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .sum();
        Ok(Self {
            cpu_seconds,
            inner_calls,
        })
    }
}

/// This process's user + system CPU seconds (Linux `/proc/self/stat`, 100 ticks/s).
fn own_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// One-minute load average (Linux), to report how busy the shared machine was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "n/a".into())
}
