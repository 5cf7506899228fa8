//! The ender binary end to end on the real servers: blocks produced to `to-ender` land in
//! Postgres, their messages reach the websocket topics through the outbox, a replayed block is
//! skipped, and a gap stops ender with a failing `/readyz`.

use std::time::{Duration, Instant};

use indexer_bus::consumer::{BusConsumer, ConsumerOptions, Decoder, StartAt};
use indexer_bus::headers::MessageHeaders;
use indexer_bus::producer::BusProducer;
use indexer_bus::topics::Topic;
use indexer_proto::events as ev;
use indexer_proto::indexer_manager::indexer_tendermint_event::OrderingWithinBlock;
use indexer_proto::indexer_manager::{IndexerTendermintBlock, IndexerTendermintEvent};
use indexer_proto::socks;
use indexer_testkit::db::TestDb;
use indexer_testkit::kafka::TestTopics;
use indexer_testkit::process::{http_get, RunningService};
use prost::Message;
use sqlx::PgPool;

fn block(height: u32, events: Vec<IndexerTendermintEvent>) -> Vec<u8> {
    block_at(height, 1_704_067_200 + i64::from(height), events)
}

fn block_at(height: u32, unix_seconds: i64, events: Vec<IndexerTendermintEvent>) -> Vec<u8> {
    IndexerTendermintBlock {
        height,
        time: Some(prost_types::Timestamp {
            seconds: unix_seconds,
            nanos: 0,
        }),
        events,
        tx_hashes: vec!["HASH".into()],
    }
    .encode_to_vec()
}

fn market_create() -> IndexerTendermintEvent {
    use ev::market_event_v1::Event;
    IndexerTendermintEvent {
        subtype: "market".into(),
        ordering_within_block: Some(OrderingWithinBlock::TransactionIndex(0)),
        event_index: 0,
        version: 1,
        data_bytes: ev::MarketEventV1 {
            market_id: 0,
            event: Some(Event::MarketCreate(ev::MarketCreateEventV1 {
                base: Some(ev::MarketBaseEventV1 {
                    pair: "BTC-USD".into(),
                    min_price_change_ppm: 50,
                }),
                exponent: -5,
            })),
        }
        .encode_to_vec(),
    }
}

async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(90);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn service_env(db: &TestDb, topics: &TestTopics, max_lag_ms: &str) -> Vec<(String, String)> {
    vec![
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
        ("ENDER_MAX_LAG_MS".into(), max_lag_ms.into()),
    ]
}

async fn start_service(env: Vec<(String, String)>) -> RunningService {
    let binary = env!("CARGO_BIN_EXE_ender");
    tokio::task::spawn_blocking(move || {
        let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        RunningService::start_healthy(binary, &refs)
    })
    .await
    .unwrap()
}

async fn readyz(admin: std::net::SocketAddr) -> u16 {
    tokio::task::spawn_blocking(move || http_get(admin, "/readyz").map(|r| r.status).unwrap_or(0))
        .await
        .unwrap()
}

async fn processed_height(pool: &PgPool) -> Option<i64> {
    sqlx::query_scalar("SELECT last_processed_height FROM ender_progress")
        .fetch_optional(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ender_ingests_from_kafka_publishes_through_the_outbox_and_stops_on_a_gap() {
    let db = TestDb::new().await;
    let topics = TestTopics::new().await;
    let mut service = start_service(service_env(&db, &topics, "999999999999")).await;

    let producer = BusProducer::new(&topics.settings).unwrap();
    let headers = MessageHeaders::new();
    for payload in [
        block(0, vec![market_create()]),
        block(1, vec![]),
        block(1, vec![]),
        block(2, vec![]),
    ] {
        producer
            .send(Topic::ToEnder, None, &payload, &headers)
            .await
            .unwrap();
    }
    let pool = db.pool().clone();
    wait_for("height 2 to be processed", || async {
        processed_height(&pool).await == Some(2)
    })
    .await;
    let blocks: i64 = sqlx::query_scalar("SELECT count(*) FROM blocks")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(blocks, 3, "the replayed block 1 was skipped");
    wait_for("the outbox to drain", || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM ender_outbox")
            .fetch_one(&pool)
            .await
            .unwrap()
            == 0
    })
    .await;

    let decoder: Decoder<Vec<u8>> = Box::new(|bytes: &[u8]| Ok(bytes.to_vec()));
    let options = ConsumerOptions::new(
        format!("ender-service-test-{}", uuid::Uuid::new_v4()),
        [Topic::ToWebsocketsBlockHeight],
    );
    let consumer = BusConsumer::assign(&topics.settings, &options, StartAt::Beginning, decoder)
        .await
        .unwrap();
    let mut heights = Vec::new();
    while heights.len() < 3 {
        let m = tokio::time::timeout(Duration::from_secs(30), consumer.next())
            .await
            .unwrap()
            .unwrap();
        heights.push(
            socks::BlockHeightMessage::decode(m.payload.as_slice())
                .unwrap()
                .block_height,
        );
    }
    assert_eq!(heights, ["0", "1", "2"]);
    drop(consumer);

    let admin = service.admin_addr;
    let ready = tokio::task::spawn_blocking(move || http_get(admin, "/readyz").unwrap().status)
        .await
        .unwrap();
    assert_eq!(ready, 200, "{}", service.output());
    let metrics = tokio::task::spawn_blocking(move || http_get(admin, "/metrics").unwrap().body)
        .await
        .unwrap();
    for series in [
        "ender_block_processing_seconds_bucket",
        "ender_events_per_block",
        "ender_block_commit_lag_seconds_bucket",
        "ender_block_lag_seconds",
        "ender_outbox_backlog",
        r#"ender_block_stage_seconds_bucket{stage="write""#,
        r#"ender_handler_seconds_bucket{handler="market""#,
        r#"ender_sql_statement_seconds_bucket{statement="markets""#,
        r#"ender_sql_statement_seconds_bucket{statement="outbox""#,
    ] {
        assert!(
            metrics.contains(series),
            "/metrics lacks {series} after processing blocks:\n{metrics}"
        );
    }
    producer
        .send(Topic::ToEnder, None, &block(5, vec![]), &headers)
        .await
        .unwrap();
    wait_for("/readyz to fail after the gap", || async move {
        tokio::task::spawn_blocking(move || {
            http_get(admin, "/readyz").map(|r| r.status).unwrap_or(0)
        })
        .await
        .unwrap()
            == 503
    })
    .await;
    assert_eq!(
        processed_height(&pool).await,
        Some(2),
        "nothing after the gap was applied"
    );

    let status = tokio::task::spawn_blocking(move || {
        service.terminate();
        service.wait_for_exit(Duration::from_secs(60))
    })
    .await
    .unwrap();
    assert!(status.success(), "ender exits cleanly on SIGTERM: {status}");
    drop(producer);
    topics.cleanup().await.unwrap();
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_fails_while_blocks_are_committed_later_than_the_lag_budget() {
    let db = TestDb::new().await;
    let topics = TestTopics::new().await;
    let service = start_service(service_env(&db, &topics, "60000")).await;
    let admin = service.admin_addr;
    let producer = BusProducer::new(&topics.settings).unwrap();
    let headers = MessageHeaders::new();
    let now = chrono::Utc::now().timestamp();
    let pool = db.pool().clone();

    // A block produced an hour ago is committed an hour late: more than the 60 s budget.
    producer
        .send(
            Topic::ToEnder,
            None,
            &block_at(0, now - 3_600, vec![market_create()]),
            &headers,
        )
        .await
        .unwrap();
    wait_for("block 0", || async {
        processed_height(&pool).await == Some(0)
    })
    .await;
    wait_for("/readyz to fail on the lag", || async {
        readyz(admin).await == 503
    })
    .await;

    // Caught up: a block from now is within the budget again.
    producer
        .send(Topic::ToEnder, None, &block_at(1, now, vec![]), &headers)
        .await
        .unwrap();
    wait_for("block 1", || async {
        processed_height(&pool).await == Some(1)
    })
    .await;
    wait_for("/readyz to recover", || async {
        readyz(admin).await == 200
    })
    .await;

    drop(service);
    drop(producer);
    topics.cleanup().await.unwrap();
    db.cleanup().await;
}
