//! End-to-end benchmark: the simulated chain at full speed through the whole stack (ender,
//! vulcan, socks, comlink as real processes over real Postgres, Redis and Kafka).
//!
//! ```text
//! cargo run --release -p devnet --example e2e_bench -- --seconds 30 --connections 200
//! ```
//!
//! Reports, over the measuring window: ender events/s and blocks/s (events counted by decoding
//! the to-ender blocks ender processed), vulcan updates/s (`vulcan_updates_total`), the
//! event→websocket-frame latency p50/p99 from socks' `socks_origin_to_frame_seconds` (origin:
//! the Kafka timestamp of the to-ender block or to-vulcan message; end: the frame written) with
//! `--connections` clients subscribed, the frames those clients received, and then comlink
//! requests/s under `--rest-clients` concurrent clients. Written as a markdown table to `--out`
//! (default target/e2e-bench.md) and printed.
//!
//! Options: `--seconds N` (30), `--connections N` (100), `--rest-seconds N` (10),
//! `--rest-clients N` (8), `--blocks-per-second N|max` (max: as fast as the producer goes),
//! `--out PATH`.

#[path = "../tests/e2e/mod.rs"]
mod e2e;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::ws::JsonSocket;
use e2e::{Stack, StackOptions};
use indexer_bus::consumer::{BusConsumer, ConsumerOptions, Decoder, StartAt};
use indexer_bus::topics::Topic;
use indexer_proto::indexer_manager::IndexerTendermintBlock;
use prost::Message;
use serde_json::json;

const MARKETS: [&str; 3] = ["BTC-USD", "ETH-USD", "SOL-USD"];

struct Args {
    seconds: u64,
    connections: usize,
    rest_seconds: u64,
    rest_clients: usize,
    blocks_per_second: String,
    out: String,
}

fn args() -> Args {
    let mut args = Args {
        seconds: 30,
        connections: 100,
        rest_seconds: 10,
        rest_clients: 8,
        blocks_per_second: "max".into(),
        out: "target/e2e-bench.md".into(),
    };
    let raw: Vec<String> = std::env::args().skip(1).collect();
    for pair in raw.chunks(2) {
        let value = pair.get(1).cloned().unwrap_or_default();
        let number = || value.parse::<u64>().expect("a number");
        match pair[0].as_str() {
            "--seconds" => args.seconds = number(),
            "--connections" => args.connections = number() as usize,
            "--rest-seconds" => args.rest_seconds = number(),
            "--rest-clients" => args.rest_clients = number() as usize,
            "--blocks-per-second" => args.blocks_per_second = value,
            "--out" => args.out = value,
            other => panic!("unknown option {other} (see the file's doc comment)"),
        }
    }
    args
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args();
    eprintln!("[e2e-bench] starting the stack");
    let stack = Stack::start(StackOptions {
        env: vec![
            ("LOG_LEVEL".into(), "warn".into()),
            ("WS_MAX_CONNECTIONS".into(), "100000".into()),
            (
                "DEVNET_BLOCKS_PER_SECOND".into(),
                args.blocks_per_second.clone(),
            ),
        ],
        ..StackOptions::default()
    })
    .await;
    stack.wait_market(MARKETS[0]).await;
    let events = EventCounter::start(&stack).await?;

    eprintln!(
        "[e2e-bench] connecting {} websocket clients",
        args.connections
    );
    let frames = Arc::new(AtomicU64::new(0));
    let clients = connect_clients(&stack.ws_url(), args.connections, frames.clone()).await?;

    // Warm-up: let every subscription settle before the window opens.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = Snapshot::take(&stack, &frames).await;
    eprintln!("[e2e-bench] measuring for {} s", args.seconds);
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let after = Snapshot::take(&stack, &frames).await;

    eprintln!("[e2e-bench] comlink load for {} s", args.rest_seconds);
    let rest = rest_load(&stack, args.rest_clients, args.rest_seconds).await;
    drop(clients);

    let window = after.at.duration_since(before.at).as_secs_f64();
    let ender_events = events.between(before.height, after.height).await;
    let latency = after.latency.minus(&before.latency);
    let table = render(
        &args,
        &before,
        &after,
        window,
        ender_events,
        &latency,
        &rest,
    );
    println!("{table}");
    if let Some(dir) = std::path::Path::new(&args.out).parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, &table)?;
    eprintln!("[e2e-bench] written to {}", args.out);
    Ok(())
}

/// Counters read at one instant.
struct Snapshot {
    at: Instant,
    height: i64,
    blocks: f64,
    vulcan_updates: f64,
    frames: u64,
    latency: Histogram,
}

impl Snapshot {
    async fn take(stack: &Stack, frames: &AtomicU64) -> Snapshot {
        let ender = stack.metrics("ender").await;
        let vulcan = stack.metrics("vulcan").await;
        let socks = stack.metrics("socks").await;
        Snapshot {
            at: Instant::now(),
            height: stack.processed_height().await.unwrap_or(-1),
            blocks: sum_metric(&ender, "ender_blocks_processed_total"),
            vulcan_updates: sum_metric(&vulcan, "vulcan_updates_total"),
            frames: frames.load(Ordering::Relaxed),
            latency: Histogram::parse(&socks, "socks_origin_to_frame_seconds"),
        }
    }
}

/// Sum of every sample of a counter (all label sets).
fn sum_metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A Prometheus histogram's cumulative buckets, summed over label sets.
#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: BTreeMap<u64, f64>, // upper bound in ns (f64 keys do not order) → cumulative count
}

impl Histogram {
    fn parse(text: &str, name: &str) -> Histogram {
        let prefix = format!("{name}_bucket{{");
        let mut buckets = BTreeMap::new();
        for line in text.lines().filter(|l| l.starts_with(&prefix)) {
            let Some(le) = line.split("le=\"").nth(1).and_then(|r| r.split('"').next()) else {
                continue;
            };
            let bound = if le == "+Inf" {
                u64::MAX
            } else {
                (le.parse::<f64>().unwrap_or(f64::MAX) * 1e9) as u64
            };
            let count: f64 = line
                .rsplit(' ')
                .next()
                .and_then(|c| c.parse().ok())
                .unwrap_or(0.0);
            *buckets.entry(bound).or_insert(0.0) += count;
        }
        Histogram { buckets }
    }

    fn minus(&self, earlier: &Histogram) -> Histogram {
        let buckets = self
            .buckets
            .iter()
            .map(|(b, c)| (*b, c - earlier.buckets.get(b).copied().unwrap_or(0.0)))
            .collect();
        Histogram { buckets }
    }

    fn count(&self) -> f64 {
        self.buckets.values().copied().fold(0.0, f64::max)
    }

    /// The quantile, linearly interpolated inside its bucket (Prometheus' histogram_quantile).
    fn quantile(&self, q: f64) -> Option<Duration> {
        let total = self.count();
        if total <= 0.0 {
            return None;
        }
        let rank = q * total;
        let (mut lower, mut below) = (0u64, 0.0);
        for (bound, cumulative) in &self.buckets {
            if *cumulative >= rank {
                if *bound == u64::MAX {
                    return Some(Duration::from_nanos(lower));
                }
                let inside = (rank - below) / (cumulative - below).max(f64::MIN_POSITIVE);
                let ns = lower as f64 + (*bound - lower) as f64 * inside;
                return Some(Duration::from_nanos(ns as u64));
            }
            (lower, below) = (*bound, *cumulative);
        }
        None
    }
}

/// Counts the events of every block on to-ender by decoding it, so ender's events/s can be
/// derived from its processed height.
struct EventCounter {
    per_height: Arc<tokio::sync::Mutex<BTreeMap<i64, usize>>>,
    task: tokio::task::JoinHandle<()>,
}

impl EventCounter {
    async fn start(stack: &Stack) -> anyhow::Result<EventCounter> {
        let decoder: Decoder<(i64, usize)> = Box::new(|bytes: &[u8]| {
            IndexerTendermintBlock::decode(bytes)
                .map(|b| (i64::from(b.height), b.events.len()))
                .map_err(|e| e.to_string())
        });
        let options = ConsumerOptions::new(
            format!("e2e-bench-{}", uuid::Uuid::new_v4()),
            [Topic::ToEnder],
        );
        let consumer = BusConsumer::assign(
            stack.topics.settings(),
            &options,
            StartAt::Beginning,
            decoder,
        )
        .await?;
        let per_height = Arc::new(tokio::sync::Mutex::new(BTreeMap::new()));
        let sink = per_height.clone();
        let task = tokio::spawn(async move {
            while let Ok(message) = consumer.next().await {
                let (height, events) = message.value;
                sink.lock().await.insert(height, events);
            }
        });
        Ok(EventCounter { per_height, task })
    }

    /// Events in the blocks after `from` up to and including `to`.
    async fn between(&self, from: i64, to: i64) -> usize {
        // The counter may trail ender by a moment.
        for _ in 0..50 {
            if self.per_height.lock().await.contains_key(&to) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let counted = self.per_height.lock().await;
        let total = counted.range(from + 1..=to).map(|(_, n)| n).sum();
        self.task.abort();
        total
    }
}

/// `count` clients, each subscribed to the order book and trades of one market (round robin),
/// counting every data frame.
async fn connect_clients(
    url: &str,
    count: usize,
    frames: Arc<AtomicU64>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let mut tasks = Vec::with_capacity(count);
    for i in 0..count {
        let mut socket = JsonSocket::connect(url).await?;
        let market = MARKETS[i % MARKETS.len()];
        for channel in ["v4_orderbook", "v4_trades"] {
            socket
                .send(&json!({"type": "subscribe", "channel": channel, "id": market}))
                .await?;
        }
        let frames = frames.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(frame) = socket.next(Duration::from_secs(3600)).await {
                if frame["type"] == "channel_data" || frame["type"] == "channel_batch_data" {
                    frames.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    Ok(tasks)
}

struct RestResult {
    requests: u64,
    errors: u64,
    seconds: f64,
}

/// `clients` threads calling comlink's market-data routes back to back for `seconds`.
async fn rest_load(stack: &Stack, clients: usize, seconds: u64) -> RestResult {
    let addr = stack.rest_addr();
    let paths = [
        "/v4/orderbooks/perpetualMarket/BTC-USD",
        "/v4/trades/perpetualMarket/ETH-USD",
        "/v4/perpetualMarkets",
        "/v4/candles/perpetualMarkets/SOL-USD?resolution=1MIN",
        "/v4/height",
    ];
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let (ok, errors) = (ok.clone(), errors.clone());
            std::thread::spawn(move || {
                let mut i = c;
                while Instant::now() < deadline {
                    match indexer_testkit::process::http_get(addr, paths[i % paths.len()]) {
                        Ok(r) if r.status == 200 => ok.fetch_add(1, Ordering::Relaxed),
                        _ => errors.fetch_add(1, Ordering::Relaxed),
                    };
                    i += 1;
                }
            })
        })
        .collect();
    tokio::task::spawn_blocking(move || handles.into_iter().for_each(|h| h.join().unwrap()))
        .await
        .unwrap();
    RestResult {
        requests: ok.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        seconds: started.elapsed().as_secs_f64(),
    }
}

fn render(
    args: &Args,
    before: &Snapshot,
    after: &Snapshot,
    window: f64,
    ender_events: usize,
    latency: &Histogram,
    rest: &RestResult,
) -> String {
    let ms = |d: Option<Duration>| {
        d.map_or_else(
            || "–".to_owned(),
            |d| format!("{:.1} ms", d.as_secs_f64() * 1e3),
        )
    };
    let rate = |n: f64| format!("{:.0}", n / window);
    let rows = [
        ("ender events/s", rate(ender_events as f64)),
        ("ender blocks/s", rate(after.blocks - before.blocks)),
        (
            "vulcan updates/s",
            rate(after.vulcan_updates - before.vulcan_updates),
        ),
        (
            "event→frame latency p50 (socks, all frames)",
            ms(latency.quantile(0.50)),
        ),
        (
            "event→frame latency p99 (socks, all frames)",
            ms(latency.quantile(0.99)),
        ),
        (
            "frames written in the window (socks histogram count)",
            format!("{:.0}", latency.count()),
        ),
        (
            "data frames received by the clients/s",
            rate((after.frames - before.frames) as f64),
        ),
        (
            "comlink requests/s (200s)",
            format!("{:.0}", rest.requests as f64 / rest.seconds),
        ),
        (
            "comlink non-200 or failed requests",
            rest.errors.to_string(),
        ),
    ];
    let mut out = String::new();
    out.push_str("# End-to-end benchmark\n\n");
    out.push_str(&format!(
        "Window {window:.1} s, heights {}→{}; {} websocket connections (order book + trades of one \
         of {} markets each); devnet blocks/s: {}; comlink: {} clients for {} s, a new \
         TCP connection per request; host: {} CPUs shared by every process.\n\n",
        before.height,
        after.height,
        args.connections,
        MARKETS.len(),
        args.blocks_per_second,
        args.rest_clients,
        args.rest_seconds,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    ));
    out.push_str("| Measure | Value |\n|---|---|\n");
    for (name, value) in rows {
        out.push_str(&format!("| {name} | {value} |\n"));
    }
    out
}
