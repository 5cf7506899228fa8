//! Load benchmark of comlink's hot routes (issue 5, "Benchmark"), run with
//! `comlink/bench/run.sh` (or `cargo bench -p comlink --bench api_load`).
//!
//! 1. Seeds a fresh database through the real ingestion code: a devnet chain of `BENCH_MARKETS`
//!    markets and two accounts goes through ender's block pipeline until account 0 has
//!    `BENCH_FILLS` fills (every fill has both accounts on its two sides); a BTC-USD book of
//!    `BENCH_BOOK_LEVELS` levels per side goes through vulcan's processor.
//! 2. Starts comlink (the same `app::connect` + `app::serve` as the binary, release build) on an
//!    ephemeral port, rate limits off.
//! 3. Runs `wrk` (Debian package `wrk`) against each route for `BENCH_SECONDS` with
//!    `BENCH_CONNECTIONS` connections after a short warm-up, and prints a Markdown table (also
//!    written to `BENCH_OUT`, default `target/comlink-bench.md`) with the machine's load average.
//!
//! Exits non-zero when a route answered anything but 2xx; missing a target is reported in the
//! table, not as a failure (the machine is shared).

#[path = "../tests/common/ingest.rs"]
#[allow(dead_code)]
mod ingest;

use std::process::Command;
use std::time::{Duration, Instant};

use comlink::app;
use comlink::config::ComlinkSettings;
use devnet::chain::{ChainConfig, MarketSpec, SimulatedChain};
use indexer_base::config::Env;
use indexer_cache::Cache;
use indexer_domain::ids::subaccount_uuid;
use indexer_testkit::db::TestDb;
use ingest::{owner_address, Ender};
use sqlx::PgPool;

fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// BTC-USD, ETH-USD, SOL-USD, then copies of BTC-USD's parameters under made-up tickers.
fn markets(count: usize) -> Vec<MarketSpec> {
    let mut markets = vec![
        MarketSpec::btc_usd(),
        MarketSpec::eth_usd(),
        MarketSpec::sol_usd(),
    ];
    let mut index = 0;
    while markets.len() < count {
        index += 1;
        markets.push(MarketSpec {
            ticker: format!("BENCH{index}-USD"),
            ..MarketSpec::btc_usd()
        });
    }
    markets.truncate(count.max(1));
    markets
}

async fn count_fills(pool: &PgPool, address: &str) -> i64 {
    sqlx::query_scalar(r#"SELECT count(*) FROM fills WHERE "subaccountId" = $1"#)
        .bind(subaccount_uuid(address, 0))
        .fetch_one(pool)
        .await
        .expect("counting fills")
}

/// Runs the chain through ender until account 0 has `target` fills; returns the chain.
async fn seed_chain(pool: &PgPool, market_count: usize, target: i64) -> SimulatedChain {
    let mut chain = SimulatedChain::new(ChainConfig {
        seed: 3,
        markets: markets(market_count),
        accounts: 2,
        max_fills_per_block: 200,
        funding_interval_blocks: 100,
        block_interval_secs: 1,
        genesis_time_secs: chrono::Utc::now().timestamp() - 86_400,
        ..ChainConfig::default()
    });
    let mut ender = Ender::new(pool).await;
    let address = owner_address(0);
    let started = Instant::now();
    ender.run(&mut chain, 1).await;
    loop {
        ender.run(&mut chain, 50).await;
        let fills = count_fills(pool, &address).await;
        eprintln!(
            "seeded {} blocks, {fills} fills of account 0 ({:.0?})",
            chain.height(),
            started.elapsed()
        );
        if fills >= target {
            return chain;
        }
    }
}

/// A ladder of `levels` bids and asks around BTC-USD's last oracle price.
async fn seed_book(pool: &PgPool, cache: &Cache, chain: &SimulatedChain, levels: u32) {
    let btc = &chain.config().markets[0];
    let mid = btc.subticks_at(chain.prices()[0]);
    let book = ingest::ladder(
        btc,
        0,
        mid,
        levels,
        10 * btc.step_base_quantums,
        1_000_000_000,
    );
    ingest::place_orders(pool, cache, &book).await;
}

struct Load {
    requests_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    non_2xx: u64,
    errors: String,
}

/// `12.34ms` / `850.00us` / `1.20s` in milliseconds.
fn millis(text: &str) -> Option<f64> {
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|n| n * factor)
}

fn parse_wrk(output: &str) -> Load {
    let mut load = Load {
        requests_per_sec: 0.0,
        p50_ms: f64::NAN,
        p99_ms: f64::NAN,
        non_2xx: 0,
        errors: String::new(),
    };
    for line in output.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", n] => load.requests_per_sec = n.parse().unwrap_or(0.0),
            ["50%", t] => load.p50_ms = millis(t).unwrap_or(f64::NAN),
            ["99%", t] => load.p99_ms = millis(t).unwrap_or(f64::NAN),
            ["Non-2xx", "or", "3xx", "responses:", n] => load.non_2xx = n.parse().unwrap_or(0),
            ["Socket", "errors:", ..] => load.errors = line.trim().to_owned(),
            _ => {}
        }
    }
    load
}

fn wrk(url: &str, connections: u32, seconds: u32) -> Load {
    let output = Command::new("wrk")
        .args(["-t2", &format!("-c{connections}"), &format!("-d{seconds}s")])
        .args(["--timeout", "5s", "--latency", url])
        .output()
        .expect("running wrk (apt-get install wrk)");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "wrk failed: {text}");
    parse_wrk(&text)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

struct Route {
    name: &'static str,
    path: String,
    /// Concurrent connections: the market routes are measured at saturation, the account
    /// routes (one bot reading its own history) at a few concurrent callers.
    connections: u32,
    min_rps: Option<f64>,
    max_p99_ms: f64,
}

#[tokio::main]
async fn main() {
    let fills_target: i64 = setting("BENCH_FILLS", 100_000);
    let market_count: usize = setting("BENCH_MARKETS", 100);
    let book_levels: u32 = setting("BENCH_BOOK_LEVELS", 100);
    let seconds: u32 = setting("BENCH_SECONDS", 10);
    let connections: u32 = setting("BENCH_CONNECTIONS", 64);
    let account_connections: u32 = setting("BENCH_ACCOUNT_CONNECTIONS", 4);
    let out = std::env::var("BENCH_OUT").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../target/comlink-bench.md").to_owned()
    });

    let db = TestDb::new().await;
    let started = Instant::now();
    let chain = seed_chain(db.pool(), market_count, fills_target).await;
    let height = chain.height();
    let seeding = started.elapsed();

    let prefix = format!("bench-{}:", uuid::Uuid::new_v4().simple());
    let mut vars = vec![
        ("DATABASE_URL".to_owned(), db.url().to_owned()),
        ("REDIS_KEY_PREFIX".to_owned(), prefix),
        ("RATE_LIMIT_ENABLED".to_owned(), "false".to_owned()),
        ("LOG_LEVEL".to_owned(), "warn".to_owned()),
    ];
    for passthrough in ["REDIS_URL", "PG_POOL_MAX"] {
        if let Ok(value) = std::env::var(passthrough) {
            vars.push((passthrough.to_owned(), value));
        }
    }
    let settings = ComlinkSettings::from_env(&Env::from_pairs(vars)).expect("settings");
    let state = app::connect(settings).await.expect("connecting comlink");
    seed_book(db.pool(), state.cache(), &chain, book_levels).await;
    let background = app::spawn_background(&state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app::serve(listener, state.clone(), async move {
        let _ = stopped.await;
    }));

    let address = owner_address(0);
    let routes = [
        Route {
            name: "GET /v4/perpetualMarkets",
            connections,
            path: "/v4/perpetualMarkets".into(),
            min_rps: Some(10_000.0),
            max_p99_ms: 50.0,
        },
        Route {
            name: "GET /v4/orderbooks/perpetualMarket/BTC-USD",
            connections,
            path: "/v4/orderbooks/perpetualMarket/BTC-USD".into(),
            min_rps: Some(10_000.0),
            max_p99_ms: 50.0,
        },
        Route {
            name: "GET /v4/fills (account with the fills)",
            connections: account_connections,
            path: format!("/v4/fills?address={address}&subaccountNumber=0"),
            min_rps: None,
            max_p99_ms: 200.0,
        },
        Route {
            name: "GET /v4/orders (same account)",
            connections: account_connections,
            path: format!("/v4/orders?address={address}&subaccountNumber=0"),
            min_rps: None,
            max_p99_ms: 200.0,
        },
    ];

    let fills = count_fills(db.pool(), &address).await;
    let mut table = format!(
        "Seeded {height} blocks through ender ({market_count} markets, {fills} fills of \
         account 0) and a {book_levels}-level book through vulcan in {seeding:.0?}.\n\
         wrk -t2 -d{seconds}s --latency after a 2 s warm-up; -c{connections} on the market \
         routes, -c{account_connections} on the account routes.\n\n\
         | route | req/s | p50 ms | p99 ms | target | met | load avg (1/5/15 min) |\n\
         |---|---:|---:|---:|---|---|---|\n"
    );
    let mut failed = false;
    for route in &routes {
        let url = format!("{base}{}", route.path);
        wrk(&url, route.connections, 2);
        let load_before = load_average();
        let load = wrk(&url, route.connections, seconds);
        let target = match route.min_rps {
            Some(rps) => format!("≥ {rps:.0} req/s, p99 < {} ms", route.max_p99_ms),
            None => format!("p99 < {} ms", route.max_p99_ms),
        };
        let met = load.p99_ms < route.max_p99_ms
            && route.min_rps.is_none_or(|rps| load.requests_per_sec >= rps);
        if load.non_2xx > 0 || !load.errors.is_empty() {
            eprintln!(
                "{}: {} non-2xx responses {}",
                route.name, load.non_2xx, load.errors
            );
            failed = true;
        }
        let row = format!(
            "| {} | {:.0} | {:.2} | {:.2} | {target} | {} | {load_before} |\n",
            route.name,
            load.requests_per_sec,
            load.p50_ms,
            load.p99_ms,
            if met { "yes" } else { "NO" }
        );
        eprint!("{row}");
        table.push_str(&row);
    }
    println!("\n{table}");
    if let Err(e) = std::fs::write(&out, &table) {
        eprintln!("cannot write {out}: {e}");
    }

    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    background.iter().for_each(|task| task.abort());
    let _ = state.cache().clear().await;
    state.pools().close().await;
    db.cleanup().await;
    if failed {
        std::process::exit(1);
    }
}
