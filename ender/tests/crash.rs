//! Crash safety: the ender binary is SIGKILLed at random moments while it ingests 500 blocks;
//! after the restarts the database is identical, table by table, to a run without crashes, and
//! every block-height message was published with its gap-free `seq` (duplicates allowed, each
//! `seq` always carrying the same block).

mod common;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Chain, Lcg};
use ender::consumer::{Ender, GateSettings, Verdict};
use ender::pipeline::BlockInputs;
use ender::state::ProcessSettings;
use indexer_bus::consumer::{BusConsumer, ConsumerOptions, Decoder, StartAt};
use indexer_bus::producer::{BusProducer, OutgoingMessage};
use indexer_bus::topics::Topic;
use indexer_proto::socks;
use indexer_testkit::db::TestDb;
use indexer_testkit::kafka::TestTopics;
use prost::Message;
use sqlx::PgPool;

const BLOCKS: u32 = 500;
const KILLS: usize = 5;

/// Tables whose whole content must match the crash-free run.
const TABLES: &[&str] = &[
    "blocks",
    "transactions",
    "tendermint_events",
    "subaccounts",
    "wallets",
    "assets",
    "asset_positions",
    "markets",
    "oracle_prices",
    "liquidity_tiers",
    "perpetual_markets",
    "orders",
    "fills",
    "perpetual_positions",
    "transfers",
    "funding_index_updates",
    "candles",
    "trading_rewards",
    "channel_sequences",
];

async fn fingerprint(pool: &PgPool, table: &str) -> (i64, String) {
    let sql = format!("SELECT count(*), COALESCE(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {table} t");
    sqlx::query_as(&sql).fetch_one(pool).await.unwrap()
}

async fn processed_height(pool: &PgPool) -> Option<i64> {
    sqlx::query_scalar("SELECT last_processed_height FROM ender_progress")
        .fetch_optional(pool)
        .await
        .unwrap()
}

fn spawn(env: &[(String, String)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ender"))
        .env("ADMIN_HOST", "127.0.0.1")
        .env("ADMIN_PORT", "0")
        .env("NODE_ENV", "test")
        .env("LOG_LEVEL", "warn")
        .env_remove("BUGSNAG_KEY")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ender starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_neither_loses_nor_doubles_anything() {
    let mut chain = Chain::new(7);
    let blocks: Vec<Vec<u8>> = (0..BLOCKS).map(|_| chain.next_block()).collect();

    // The crash-free reference, in process.
    let reference = TestDb::new().await;
    let mut ender = Ender::start(
        reference.pool().clone(),
        GateSettings::default(),
        ProcessSettings::default(),
    )
    .await
    .unwrap();
    for block in &blocks {
        assert!(matches!(
            ender.handle(block, BlockInputs::default()).await,
            Ok(Verdict::Processed { .. })
        ));
    }

    let db = TestDb::new().await;
    let topics = TestTopics::new().await;
    let producer = BusProducer::new(&topics.settings).unwrap();
    let messages: Vec<OutgoingMessage> = blocks
        .iter()
        .map(|b| OutgoingMessage::new(None, b.clone()))
        .collect();
    producer.send_all(Topic::ToEnder, &messages).await.unwrap();
    let env: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), db.url().to_owned()),
        ("KAFKA_BROKER_URLS".into(), topics.settings.brokers.clone()),
        (
            "KAFKA_TOPIC_PREFIX".into(),
            topics.settings.topic_prefix.clone(),
        ),
        (
            "KAFKA_ENABLE_UNIQUE_CONSUMER_GROUP_IDS".into(),
            "true".into(),
        ),
        ("KAFKA_SESSION_TIMEOUT_MS".into(), "10000".into()),
        ("KAFKA_HEARTBEAT_INTERVAL_MS".into(), "3000".into()),
        (
            "REDIS_KEY_PREFIX".into(),
            format!("test-{}:", uuid::Uuid::new_v4().simple()),
        ),
    ];

    let mut rng = Lcg::new(42);
    let mut kills = 0;
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut child = spawn(&env);
    let mut heights_at_kills = Vec::new();
    while kills < KILLS {
        // Kill only once this run has made progress (a fresh consumer group takes seconds to
        // join, longer on a loaded machine), then after a random short delay: mid-ingestion.
        let before = processed_height(db.pool()).await;
        loop {
            let now = processed_height(db.pool()).await;
            if now > before || now == Some(i64::from(BLOCKS - 1)) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "ender made no progress; at {now:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if processed_height(db.pool()).await == Some(i64::from(BLOCKS - 1)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(rng.below(600))).await;
        child.kill().unwrap();
        child.wait().unwrap();
        heights_at_kills.push(processed_height(db.pool()).await);
        kills += 1;
        child = spawn(&env);
    }
    let pool = db.pool().clone();
    loop {
        let done = processed_height(&pool).await == Some(i64::from(BLOCKS - 1))
            && sqlx::query_scalar::<_, i64>("SELECT count(*) FROM ender_outbox")
                .fetch_one(&pool)
                .await
                .unwrap()
                == 0;
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "ender did not finish; at {:?}",
            processed_height(&pool).await
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();

    eprintln!("processed height at each kill: {heights_at_kills:?}");
    assert!(
        heights_at_kills
            .iter()
            .any(|h| h.is_some_and(|h| h > 0 && h < i64::from(BLOCKS - 1))),
        "at least one kill interrupted ingestion: {heights_at_kills:?}"
    );
    for table in TABLES {
        assert_eq!(
            fingerprint(&pool, table).await,
            fingerprint(reference.pool(), table).await,
            "table {table}"
        );
    }

    let decoder: Decoder<Vec<u8>> = Box::new(|bytes: &[u8]| Ok(bytes.to_vec()));
    let options = ConsumerOptions::new(
        format!("ender-crash-test-{}", uuid::Uuid::new_v4()),
        [Topic::ToWebsocketsBlockHeight],
    );
    let consumer = BusConsumer::assign(&topics.settings, &options, StartAt::Beginning, decoder)
        .await
        .unwrap();
    let mut by_seq: BTreeMap<u64, String> = BTreeMap::new();
    while by_seq.len() < BLOCKS as usize {
        let m = tokio::time::timeout(Duration::from_secs(30), consumer.next())
            .await
            .expect("all block heights published")
            .unwrap();
        let seq: u64 = m.meta.headers.get_str("seq").unwrap().parse().unwrap();
        let height = socks::BlockHeightMessage::decode(m.payload.as_slice())
            .unwrap()
            .block_height;
        if let Some(previous) = by_seq.insert(seq, height.clone()) {
            assert_eq!(
                previous, height,
                "a duplicate of seq {seq} carries the same block"
            );
        }
    }
    let expected: BTreeMap<u64, String> = (0..BLOCKS)
        .map(|h| (u64::from(h) + 1, h.to_string()))
        .collect();
    assert_eq!(by_seq, expected);
    drop(consumer);
    drop(producer);
    topics.cleanup().await.unwrap();
    db.cleanup().await;
    reference.cleanup().await;
}
