//! End-to-end ender benchmark: blocks of the devnet's simulated chain (the one generator of dYdX
//! traffic in the repo) go through ender's real path, `Ender::handle` (decode → height gate →
//! validate → prefetch from Postgres and Redis → handlers → one Postgres transaction with the
//! batched writes, the outbox rows and the processed height → commit → caches), against a fresh
//! database, at 50, 500 and 5 000 events per block.
//!
//! ```text
//! cargo bench -p ender --bench end_to_end                 # every size
//! cargo bench -p ender --bench end_to_end -- 500          # one size
//! ENDER_BENCH_EVENTS=100000 cargo bench -p ender --bench end_to_end   # events per size
//! ENDER_BENCH_SCHEMA=lean cargo bench -p ender --bench end_to_end       # schema experiment
//! ```
//!
//! `ENDER_BENCH_SCHEMA=lean` measures a schema proposal on the fresh database only (never on a
//! migration): no foreign keys, `perpetual_positions_oi_open_idx` without `INCLUDE (size)` and
//! fillfactor 80 on `perpetual_positions` and `orders`, so that position and order updates can
//! stay HOT.
//!
//! Reports blocks/s, events/s, p50/p99/max block time (`Ender::handle` wall time), and the CPU of
//! this process (getrusage) and of its Postgres backends (/proc, when Postgres is local) per
//! 1 000 events; then, per size, where a block's time goes, from ender's own metrics: stages
//! (`ender_block_stage_seconds`), write statements (`ender_sql_statement_seconds`) and handlers
//! (`ender_handler_seconds`), as milliseconds per block. Needs the local Postgres and Redis of
//! `scripts/infra.sh up`.
//!
//! Block shape: the chain's blocks are cut into their units (one transaction's events, or one
//! end-block event) and re-packed, in order, into blocks of the requested size (at most two events
//! over), so every block of a run has the same size and the mix of the chain: oracle prices,
//! matched fills with their two subaccount updates, transfers, premium samples and funding ticks.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use devnet::chain::{ChainConfig, SimulatedChain};
use ender::consumer::{Ender, GateSettings};
use ender::pipeline::BlockInputs;
use ender::state::ProcessSettings;
use indexer_base::config::{Env, RedisSettings};
use indexer_cache::Cache;
use indexer_proto::events::FundingEventV1;
use indexer_proto::indexer_manager::indexer_tendermint_event::OrderingWithinBlock;
use indexer_proto::indexer_manager::{IndexerTendermintBlock, IndexerTendermintEvent};
use indexer_testkit::db::TestDb;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use prost::Message;

const SIZES: [usize; 3] = [50, 500, 5_000];
/// Events fed per size unless `ENDER_BENCH_EVENTS` says otherwise.
const DEFAULT_EVENTS_PER_SIZE: usize = 200_000;
/// Blocks processed before measuring (warm caches, prepared statements, buffers).
const WARMUP_BLOCKS: usize = 5;
const ACCOUNTS: usize = 1_000;

/// A run of the chain's events regrouped into blocks of one size.
struct Packer {
    chain: SimulatedChain,
    units: VecDeque<Unit>,
    height: u32,
}

/// What must stay together: one transaction's events, or one end-block event.
struct Unit {
    kind: UnitKind,
    events: Vec<IndexerTendermintEvent>,
    time: prost_types::Timestamp,
}

impl Packer {
    /// Three markets and `ACCOUNTS` accounts; the chain's own blocks are kept small so that
    /// packing reshapes them finely.
    fn new(seed: u64) -> Self {
        let config = ChainConfig {
            accounts: ACCOUNTS,
            max_fills_per_block: 20,
            ..ChainConfig::three_markets(seed)
        };
        Packer {
            chain: SimulatedChain::new(config),
            units: VecDeque::new(),
            height: 0,
        }
    }

    /// The chain's genesis block, unchanged (markets, assets, perpetuals, funded accounts).
    fn genesis(&mut self) -> IndexerTendermintBlock {
        let block = self.chain.next_block();
        self.height = block.height + 1;
        block
    }

    /// The next block of at least `size` events (at most one unit more). Like a real block it
    /// holds at most one oracle price per market, one premium sample and one funding tick: a
    /// later one of these replaces the earlier (their rows are keyed by market and height).
    fn next(&mut self, size: usize) -> IndexerTendermintBlock {
        let mut block = IndexerTendermintBlock {
            height: self.height,
            ..Default::default()
        };
        let mut prices: Vec<IndexerTendermintEvent> = Vec::new();
        let mut funding: BTreeMap<i32, IndexerTendermintEvent> = BTreeMap::new();
        let mut end_block: Vec<IndexerTendermintEvent> = Vec::new();
        let mut count = 0;
        while count < size {
            let unit = self.next_unit();
            block.time = Some(unit.time);
            match unit.kind {
                UnitKind::Prices => {
                    if prices.is_empty() {
                        count += unit.events.len();
                    }
                    prices = unit.events;
                }
                UnitKind::Funding(kind) => {
                    let event = unit.events.into_iter().next().expect("one event");
                    if funding.insert(kind, event).is_none() {
                        count += 1;
                    }
                }
                UnitKind::EndBlock => {
                    count += unit.events.len();
                    end_block.extend(unit.events);
                }
                UnitKind::Transaction => {
                    count += unit.events.len();
                    self.push_transaction(&mut block, unit.events);
                }
            }
        }
        if !prices.is_empty() {
            self.push_transaction(&mut block, prices);
        }
        end_block.extend(funding.into_values());
        for (index, mut event) in end_block.into_iter().enumerate() {
            event.event_index = index as u32;
            block.events.push(event);
        }
        self.height += 1;
        block
    }

    fn push_transaction(
        &self,
        block: &mut IndexerTendermintBlock,
        events: Vec<IndexerTendermintEvent>,
    ) {
        let index = block.tx_hashes.len() as u32;
        block
            .tx_hashes
            .push(format!("{:08X}{:056X}", self.height, index + 1));
        for mut event in events {
            event.ordering_within_block = Some(OrderingWithinBlock::TransactionIndex(index));
            block.events.push(event);
        }
    }

    fn next_unit(&mut self) -> Unit {
        while self.units.is_empty() {
            let block = self.chain.next_block();
            let time = block.time.unwrap_or_default();
            let mut transactions: Vec<Vec<IndexerTendermintEvent>> =
                vec![Vec::new(); block.tx_hashes.len()];
            for event in block.events {
                match event.ordering_within_block {
                    Some(OrderingWithinBlock::TransactionIndex(i)) => {
                        transactions[i as usize].push(event)
                    }
                    _ => {
                        let kind = if event.subtype == "funding_values" {
                            let funding = FundingEventV1::decode(event.data_bytes.as_slice())
                                .expect("a funding event");
                            UnitKind::Funding(funding.r#type)
                        } else {
                            UnitKind::EndBlock
                        };
                        self.units.push_back(Unit {
                            kind,
                            events: vec![event],
                            time,
                        })
                    }
                }
            }
            // Transactions come before the block's end-block events.
            for events in transactions.into_iter().rev() {
                let prices = events.iter().all(|e| e.subtype == "market");
                self.units.push_front(Unit {
                    kind: if prices {
                        UnitKind::Prices
                    } else {
                        UnitKind::Transaction
                    },
                    events,
                    time,
                });
            }
        }
        self.units.pop_front().expect("a unit")
    }
}

enum UnitKind {
    /// The oracle price updates of a chain block (one transaction).
    Prices,
    /// A premium sample or a funding tick (an end-block event), by funding type.
    Funding(i32),
    /// Any other end-block event (e.g. expirations), kept as it is.
    EndBlock,
    /// Any other transaction: a fill with its subaccount updates, a transfer.
    Transaction,
}

/// CPU seconds (user + system) of this process.
fn own_cpu() -> Duration {
    // SAFETY: getrusage only writes into the zeroed struct we pass.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// CPU seconds of the Postgres backends serving `database`, if Postgres runs on this machine.
async fn postgres_cpu(db: &TestDb) -> Option<Duration> {
    let pids: Vec<i32> =
        sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            .fetch_all(db.pool())
            .await
            .ok()?;
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut seconds = 0.0;
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: f64 = fields[11].parse::<f64>().ok()? + fields[12].parse::<f64>().ok()?;
        seconds += ticks / ticks_per_second;
    }
    Some(Duration::from_secs_f64(seconds))
}

struct Report {
    size: usize,
    blocks: usize,
    events: usize,
    wall: Duration,
    times: Vec<Duration>,
    own_cpu: Duration,
    postgres_cpu: Option<Duration>,
}

impl Report {
    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.times.clone();
        sorted.sort();
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }

    fn row(&self) -> String {
        let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1e3);
        let per_k = |d: Duration| d.as_secs_f64() * 1e3 / (self.events as f64 / 1e3);
        let wall = self.wall.as_secs_f64();
        format!(
            "| {} | {} | {:.1} | {:.0} | {} | {} | {} | {:.0}% ({:.1} ms) | {} |",
            self.size,
            self.blocks,
            self.blocks as f64 / wall,
            self.events as f64 / wall,
            ms(self.percentile(50.0)),
            ms(self.percentile(99.0)),
            ms(*self.times.iter().max().expect("blocks")),
            100.0 * self.own_cpu.as_secs_f64() / wall,
            per_k(self.own_cpu),
            self.postgres_cpu.map_or("n/a".to_string(), |cpu| format!(
                "{:.0}% ({:.1} ms)",
                100.0 * cpu.as_secs_f64() / wall,
                per_k(cpu)
            )),
        )
    }
}

/// The schema experiment of `ENDER_BENCH_SCHEMA=lean` (see the module documentation).
async fn lean_schema(db: &TestDb) {
    for statement in [
        r#"DO $$ DECLARE r record; BEGIN
             FOR r IN SELECT conrelid::regclass AS t, conname FROM pg_constraint
                      WHERE contype = 'f' AND connamespace = 'public'::regnamespace LOOP
               EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.t, r.conname);
             END LOOP; END $$"#,
        "DROP INDEX perpetual_positions_oi_open_idx",
        r#"CREATE INDEX perpetual_positions_oi_open_idx ON perpetual_positions ("perpetualId", side)
             WHERE status = 'OPEN'"#,
        "ALTER TABLE perpetual_positions SET (fillfactor = 80)",
        "ALTER TABLE orders SET (fillfactor = 80)",
    ] {
        sqlx::query(statement)
            .execute(db.pool())
            .await
            .expect("schema experiment");
    }
}

async fn handle(ender: &mut Ender, payload: &[u8]) {
    ender
        .handle(payload, BlockInputs::default())
        .await
        .unwrap_or_else(|e| panic!("block failed: {e}"));
}

async fn run(size: usize, events_budget: usize, redis: &Cache) -> Report {
    let blocks = (events_budget / size).max(20);
    let mut packer = Packer::new(42);
    let genesis = packer.genesis().encode_to_vec();
    let payloads: Vec<(usize, Vec<u8>)> = (0..WARMUP_BLOCKS + blocks)
        .map(|_| {
            let block = packer.next(size);
            (block.events.len(), block.encode_to_vec())
        })
        .collect();

    let db = TestDb::new().await;
    if std::env::var("ENDER_BENCH_SCHEMA").as_deref() == Ok("lean") {
        lean_schema(&db).await;
    }
    let mut ender = Ender::start(
        db.pool().clone(),
        GateSettings::default(),
        ProcessSettings::default(),
    )
    .await
    .expect("ender starts")
    .with_redis(redis.clone(), Default::default());
    handle(&mut ender, &genesis).await;
    let mut payloads = payloads.into_iter();
    for (_, payload) in payloads.by_ref().take(WARMUP_BLOCKS) {
        handle(&mut ender, &payload).await;
    }

    let (cpu_before, pg_before) = (own_cpu(), postgres_cpu(&db).await);
    let started = Instant::now();
    let mut times = Vec::with_capacity(blocks);
    let mut events = 0;
    for (count, payload) in payloads {
        let block_started = Instant::now();
        handle(&mut ender, &payload).await;
        times.push(block_started.elapsed());
        events += count;
    }
    let wall = started.elapsed();
    let own = own_cpu() - cpu_before;
    let pg = match (pg_before, postgres_cpu(&db).await) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before)),
        _ => None,
    };
    db.cleanup().await;
    Report {
        size,
        blocks,
        events,
        wall,
        times,
        own_cpu: own,
        postgres_cpu: pg,
    }
}

/// Sum and count of every labelled series of the summaries ender records.
type Breakdown = BTreeMap<String, (f64, f64)>;

fn breakdown(metrics: &PrometheusHandle) -> Breakdown {
    let mut out = Breakdown::new();
    for line in metrics.render().lines() {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        for (suffix, slot) in [("_sum{", 0), ("_count{", 1)] {
            if let Some(at) = series.find(suffix) {
                let key = format!("{}{}", &series[..at], &series[at + suffix.len() - 1..]);
                let entry = out.entry(key).or_default();
                if slot == 0 {
                    entry.0 = value
                } else {
                    entry.1 = value
                }
            }
        }
    }
    out
}

/// Milliseconds per block of each series between two snapshots, largest first.
fn print_breakdown(size: usize, blocks: usize, before: &Breakdown, after: &Breakdown) {
    let mut rows: Vec<(String, f64, f64)> = after
        .iter()
        .map(|(key, (sum, count))| {
            let (sum0, count0) = before.get(key).copied().unwrap_or_default();
            (key.clone(), sum - sum0, count - count0)
        })
        .filter(|(_, _, count)| *count > 0.0)
        .collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    println!("\n{size} events/block, ms per block:");
    for (key, sum, count) in rows {
        println!(
            "  {key:<70} {:>8.2} ms  ({:.0} per block)",
            sum * 1e3 / blocks as f64,
            count / blocks as f64
        );
    }
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; any number on the command line selects sizes.
    let chosen: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes: Vec<usize> = if chosen.is_empty() {
        SIZES.to_vec()
    } else {
        chosen
    };
    let events_budget = std::env::var("ENDER_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_EVENTS_PER_SIZE);
    let redis_settings = RedisSettings {
        key_prefix: format!("bench-{}:", uuid::Uuid::new_v4().simple()),
        ..RedisSettings::from_env(&Env::process()).expect("redis settings")
    };
    let redis = Cache::connect(&redis_settings).await.expect("redis");

    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .expect("metrics recorder");
    let mut reports = Vec::new();
    for size in sizes {
        let before = breakdown(&metrics);
        let report = run(size, events_budget, &redis).await;
        print_breakdown(
            size,
            report.blocks + WARMUP_BLOCKS + 1,
            &before,
            &breakdown(&metrics),
        );
        reports.push(report);
    }
    println!();
    println!("| events/block | blocks | blocks/s | events/s | p50 ms | p99 ms | max ms | ender CPU (per 1k events) | Postgres CPU (per 1k events) |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for report in reports {
        println!("{}", report.row());
    }
}
