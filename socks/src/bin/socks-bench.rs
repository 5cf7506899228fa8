//! Load benchmark of the websocket fan-out (issue 6): many connections, each subscribed to the
//! order book and trades of a few markets, and a feed of events per second. Reports delivered
//! frames/s, event→frame latency percentiles, server memory per connection and frames per server
//! CPU-second.
//!
//! The server runs in this process (the hub, connections and writers of the real server; the
//! feed is replaced by direct `Hub::publish` calls and snapshots by empty ones, so the numbers are
//! the fan-out's). The clients run in a child process (`--role clients`) so each side has its
//! own file-descriptor budget and the server's memory is measured alone. Traffic stays on
//! 127.0.0.1 and the run is bounded by `--seconds`.
//!
//! ```text
//! cargo run --release -p socks --bin socks-bench -- --connections 10000 --rate 1000 --seconds 20
//! ```

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use clap::Parser;
use futures::{SinkExt, StreamExt};
use socks::channels::{Channel, ChannelKey};
use socks::markets::MarketDirectory;
use socks::protocol::{Cursor, StreamId};
use socks::snapshot::{GeoHeaders, SnapshotError, SnapshotSource};
use socks::{ChannelMessage, Context, Server, Snapshot, SocksConfig};
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser, Debug, Clone)]
struct Args {
    /// `server` (default: runs everything) or `clients` (the child process).
    #[arg(long, default_value = "server")]
    role: String,
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Markets in the feed.
    #[arg(long, default_value_t = 20)]
    markets: usize,
    /// Markets each connection subscribes to (order book and trades of each).
    #[arg(long, default_value_t = 3)]
    markets_per_connection: usize,
    /// Feed events per second (half order-book levels, half trades).
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// Measured duration.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Subscribe with `batched: true` (what the official clients do for these channels).
    #[arg(long, default_value_t = false)]
    batched: bool,
    /// Server URL (clients role).
    #[arg(long, default_value = "")]
    url: String,
}

/// Snapshots are not what is measured: every subscription starts from an empty one.
struct EmptySnapshots;

#[async_trait]
impl SnapshotSource for EmptySnapshots {
    async fn snapshot(
        &self,
        _key: &ChannelKey,
        _geo: &GeoHeaders,
    ) -> Result<Snapshot, SnapshotError> {
        Ok(Snapshot {
            contents: "{}".into(),
            cursors: Vec::new(),
        })
    }
}

fn ticker(index: usize) -> String {
    format!("M{index}-USD")
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or_default()
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    match args.role.as_str() {
        "clients" => runtime.block_on(run_clients(args)),
        _ => runtime.block_on(run_server(args)),
    }
}

async fn run_server(args: Args) -> anyhow::Result<()> {
    let mut config = SocksConfig {
        ws_host: "127.0.0.1".into(),
        ws_port: 0,
        subscribe_rate: None,
        ..SocksConfig::default()
    };
    config.channel_limits.orderbook = args.markets_per_connection.max(32);
    config.channel_limits.trades = args.markets_per_connection.max(32);
    let markets = MarketDirectory::from_rows((0..args.markets).map(|i| (i as i64, ticker(i), -10)));
    let ctx = Context::new(config, markets, Arc::new(EmptySnapshots));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let server = Server::start(Arc::clone(&ctx), listener);
    let rss_before = rss_bytes();

    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args([
            "--role",
            "clients",
            "--url",
            &format!("ws://{}/", server.local_addr()),
            "--connections",
            &args.connections.to_string(),
            "--markets",
            &args.markets.to_string(),
            "--markets-per-connection",
            &args.markets_per_connection.to_string(),
        ])
        .args(args.batched.then_some("--batched"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().expect("piped");
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let ready = tokio::time::timeout(Duration::from_secs(300), lines.recv()).await;
    anyhow::ensure!(
        matches!(ready, Ok(Some(ref line)) if line == "ready"),
        "clients did not get ready: {ready:?}"
    );
    let rss_connected = rss_bytes();
    let stats = ctx.hub.stats();
    eprintln!(
        "connected {} clients, {} subscriptions",
        args.connections,
        stats.subscriptions.values().sum::<usize>()
    );

    let cpu_before = cpu_seconds();
    let started = Instant::now();
    publish(&ctx, &args).await;
    let published_for = started.elapsed();
    // Let the last batch flush and the queues drain.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let cpu_used = cpu_seconds() - cpu_before;
    drop(child.stdin.take());
    let report = tokio::time::timeout(Duration::from_secs(60), lines.recv())
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let _ = child.wait();
    server.stop().await;

    let result: serde_json::Value = serde_json::from_str(&report).unwrap_or_default();
    let frames = result["frames"].as_f64().unwrap_or(0.0);
    let seconds = published_for.as_secs_f64();
    let per_connection =
        rss_connected.saturating_sub(rss_before) as f64 / args.connections.max(1) as f64;
    println!(
        "{}",
        serde_json::json!({
            "connections": args.connections,
            "markets": args.markets,
            "markets_per_connection": args.markets_per_connection,
            "batched": args.batched,
            "events_per_second": args.rate,
            "seconds": seconds,
            "frames_delivered": frames,
            "frames_per_second": frames / seconds,
            "bytes_per_second": result["bytes"].as_f64().unwrap_or(0.0) / seconds,
            "latency_ms": result["latency_ms"],
            "lagged_notices": result["lagged"],
            "server_rss_per_connection_bytes": per_connection,
            "server_cpu_seconds": cpu_used,
            "frames_per_server_cpu_second": frames / cpu_used.max(1e-9),
        })
    );
    Ok(())
}

/// `rate` events per second for `seconds`, alternating order-book and trade messages over the
/// markets, each stamped with its wall-clock time in microseconds (`t`) for the clients.
async fn publish(ctx: &Context, args: &Args) {
    const TICK: Duration = Duration::from_millis(10);
    let per_tick = (args.rate as f64 * TICK.as_secs_f64()).max(1.0) as u64;
    let mut tick = tokio::time::interval(TICK);
    let end = Instant::now() + Duration::from_secs(args.seconds);
    let mut seqs = vec![0u64; args.markets * 2];
    let mut n: usize = 0;
    while Instant::now() < end {
        tick.tick().await;
        for _ in 0..per_tick {
            let market = n % args.markets;
            let trades = (n / args.markets) % 2 == 1;
            let slot = market * 2 + usize::from(trades);
            seqs[slot] += 1;
            let t = now_micros();
            let (channel, contents) = if trades {
                (
                    Channel::Trades,
                    format!(
                        r#"{{"trades":[{{"id":"{n:024x}","size":"0.5","price":"64120","side":"BUY","createdAt":"2024-05-01T12:34:56.301Z","type":"LIMIT"}}],"t":{t}}}"#
                    ),
                )
            } else {
                (
                    Channel::Orderbook,
                    format!(r#"{{"bids":[["{}","0.75"]],"t":{t}}}"#, 64000 + n % 100),
                )
            };
            ctx.hub.publish(ChannelMessage {
                key: ChannelKey::new(channel, ticker(market)),
                version: if trades { "2.1.0" } else { "1.0.0" }.into(),
                contents: contents.into(),
                subaccount_number: None,
                cursor: Some(Cursor {
                    stream: StreamId::default(),
                    epoch: "bench".into(),
                    seq: seqs[slot],
                }),
                origin_ms: Some((t / 1000) as i64),
            });
            n += 1;
        }
    }
}

/// Latency histogram in 100 µs buckets up to 10 s.
struct Latencies {
    buckets: Vec<AtomicU64>,
}

const BUCKET_MICROS: u64 = 100;

impl Latencies {
    fn new() -> Self {
        Self {
            buckets: (0..100_000).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn record(&self, micros: u64) {
        let index = ((micros / BUCKET_MICROS) as usize).min(self.buckets.len() - 1);
        self.buckets[index].fetch_add(1, Ordering::Relaxed);
    }

    fn percentile(&self, p: f64) -> f64 {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let wanted = (total as f64 * p).ceil() as u64;
        let mut seen = 0;
        for (index, count) in counts.iter().enumerate() {
            seen += count;
            if seen >= wanted {
                return ((index as u64 + 1) * BUCKET_MICROS) as f64 / 1000.0;
            }
        }
        0.0
    }
}

struct ClientTotals {
    frames: AtomicU64,
    bytes: AtomicU64,
    lagged: AtomicU64,
    latencies: Latencies,
}

async fn run_clients(args: Args) -> anyhow::Result<()> {
    let totals = Arc::new(ClientTotals {
        frames: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        lagged: AtomicU64::new(0),
        latencies: Latencies::new(),
    });
    let subscribed = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let gate = Arc::new(tokio::sync::Semaphore::new(256));
    let mut tasks = Vec::with_capacity(args.connections);
    for index in 0..args.connections {
        let permit = Arc::clone(&gate).acquire_owned().await?;
        let (ws, _) = tokio_tungstenite::connect_async(args.url.as_str()).await?;
        let (mut sink, mut stream) = ws.split();
        let channels = args.markets_per_connection * 2;
        for k in 0..args.markets_per_connection {
            let market = ticker((index * args.markets_per_connection + k) % args.markets);
            for channel in ["v4_orderbook", "v4_trades"] {
                let request = serde_json::json!({
                    "type": "subscribe", "channel": channel, "id": market, "batched": args.batched
                });
                sink.feed(Message::text(request.to_string())).await?;
            }
        }
        sink.flush().await?;
        let totals = Arc::clone(&totals);
        let subscribed = Arc::clone(&subscribed);
        let measuring = Arc::clone(&measuring);
        tasks.push(tokio::spawn(async move {
            let mut pending = channels;
            let mut permit = Some(permit);
            // Keep the sink alive so pongs can be written.
            let _sink = sink;
            while let Some(Ok(message)) = stream.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let text = text.as_str();
                if pending > 0 && text.contains(r#""type":"subscribed""#) {
                    pending -= 1;
                    if pending == 0 {
                        permit.take();
                        subscribed.fetch_add(1, Ordering::Relaxed);
                    }
                    continue;
                }
                if text.starts_with(r#"{"type":"error""#) && text.contains(r#""message":"lagged""#)
                {
                    totals.lagged.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if !measuring.load(Ordering::Relaxed) {
                    continue;
                }
                totals.frames.fetch_add(1, Ordering::Relaxed);
                totals.bytes.fetch_add(text.len() as u64, Ordering::Relaxed);
                // The oldest event of the frame (the first `"t":`) measures its latency.
                if let Some(at) = text.find(r#""t":"#) {
                    let digits: String = text[at + 4..]
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect();
                    if let Ok(t) = digits.parse::<u64>() {
                        totals.latencies.record(now_micros().saturating_sub(t));
                    }
                }
            }
        }));
    }
    while subscribed.load(Ordering::Relaxed) < args.connections as u64 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    measuring.store(true, Ordering::Relaxed);
    println!("ready");
    std::io::stdout().flush()?;
    // The parent closes stdin when the measured period is over.
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        while std::io::stdin()
            .read_line(&mut line)
            .map(|n| n > 0)
            .unwrap_or(false)
        {
            line.clear();
        }
    })
    .await?;
    measuring.store(false, Ordering::Relaxed);
    let latencies = &totals.latencies;
    println!(
        "{}",
        serde_json::json!({
            "frames": totals.frames.load(Ordering::Relaxed),
            "bytes": totals.bytes.load(Ordering::Relaxed),
            "lagged": totals.lagged.load(Ordering::Relaxed),
            "latency_ms": {
                "p50": latencies.percentile(0.50),
                "p99": latencies.percentile(0.99),
                "p999": latencies.percentile(0.999),
            },
        })
    );
    std::io::stdout().flush()?;
    for task in tasks {
        task.abort();
    }
    Ok(())
}

/// Resident memory of this process (Linux).
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// User + system CPU time of this process (Linux, clock ticks of 100 Hz).
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            let after = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = after.split_whitespace().collect();
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / 100.0)
        })
        .unwrap_or(0.0)
}
