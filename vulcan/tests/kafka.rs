//! The vulcan binary end to end on the real servers: `OffChainUpdateV1` messages produced to a
//! fresh `to-vulcan` topic change the Redis book, reach the websocket topics with their seq /
//! epoch / channel / source headers, a removal of a partially filled order updates its Postgres
//! row, and undecodable or invalid messages are dead-lettered while the service keeps going.
//! Markets and the block height come from the (fresh, migrated) database.

use std::time::{Duration, Instant};

use indexer_base::config::{Env, RedisSettings};
use indexer_bus::consumer::{dead_letter_headers, BusConsumer, ConsumerOptions, Decoder, StartAt};
use indexer_bus::headers::MessageHeaders;
use indexer_bus::producer::BusProducer;
use indexer_bus::topics::Topic;
use indexer_bus::Received;
use indexer_cache::{book_snapshot, Cache};
use indexer_domain::order_id::{db_order_uuid, order_id_key, subaccount_uuid};
use indexer_proto::off_chain_updates::off_chain_update_v1::UpdateMessage;
use indexer_proto::off_chain_updates::{
    OffChainUpdateV1, OrderPlaceV1, OrderRemoveV1, OrderUpdateV1,
};
use indexer_proto::protocol::v1::indexer_order::GoodTilOneof;
use indexer_proto::protocol::v1::{IndexerOrder, IndexerOrderId, IndexerSubaccountId};
use indexer_proto::socks::{OrderbookMessage, SubaccountMessage};
use indexer_testkit::db::TestDb;
use indexer_testkit::kafka::TestTopics;
use indexer_testkit::process::RunningService;
use prost::Message;
use sqlx::PgPool;

const OWNER: &str = "dydx1n88uc38xhjgxzw9nwre4ep2c8ga4fjxc565lnf";
const HEIGHT: i64 = 100;

fn subaccount() -> IndexerSubaccountId {
    IndexerSubaccountId {
        owner: OWNER.into(),
        number: 0,
    }
}

fn id(client_id: u32, clob_pair_id: u32) -> IndexerOrderId {
    IndexerOrderId {
        subaccount_id: Some(subaccount()),
        client_id,
        order_flags: 0,
        clob_pair_id,
    }
}

/// A short-term buy of `quantums` at 50 000 (BTC-USD parameters), good til block 120.
fn place(client_id: u32, clob_pair_id: u32, quantums: u64) -> OffChainUpdateV1 {
    OffChainUpdateV1 {
        update_message: Some(UpdateMessage::OrderPlace(OrderPlaceV1 {
            order: Some(IndexerOrder {
                order_id: Some(id(client_id, clob_pair_id)),
                side: 1,
                quantums,
                subticks: 5_000_000_000,
                good_til_oneof: Some(GoodTilOneof::GoodTilBlock(120)),
                ..Default::default()
            }),
            placement_status: 1,
            time_stamp: None,
        })),
    }
}

fn update(client_id: u32, filled: u64) -> OffChainUpdateV1 {
    update_in(client_id, 0, filled)
}

fn update_in(client_id: u32, clob_pair_id: u32, filled: u64) -> OffChainUpdateV1 {
    OffChainUpdateV1 {
        update_message: Some(UpdateMessage::OrderUpdate(OrderUpdateV1 {
            order_id: Some(id(client_id, clob_pair_id)),
            total_filled_quantums: filled,
        })),
    }
}

/// A user cancel, best effort (what the node sends when a short-term cancel enters its book).
fn cancel(client_id: u32) -> OffChainUpdateV1 {
    OffChainUpdateV1 {
        update_message: Some(UpdateMessage::OrderRemove(OrderRemoveV1 {
            removed_order_id: Some(id(client_id, 0)),
            reason: 2,
            removal_status: 1,
            time_stamp: None,
        })),
    }
}

/// A perpetual market as ender stores it (BTC-USD-like parameters) under clob pair `id`.
async fn seed_market(pool: &PgPool, id: i32, ticker: &str) {
    sqlx::query(
        r#"INSERT INTO liquidity_tiers (id, name, "initialMarginPpm", "maintenanceFractionPpm",
               "openInterestLowerCap", "openInterestUpperCap")
           VALUES ($1, 'tier', 50000, 600000, '0', '0')"#,
    )
    .bind(id)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        r#"INSERT INTO markets (id, pair, exponent, "minPriceChangePpm", "oraclePrice")
           VALUES ($1, $2, -5, 50, 50000)"#,
    )
    .bind(id)
    .bind(ticker)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        r#"INSERT INTO perpetual_markets (id, "clobPairId", ticker, "marketId", status,
               "priceChange24H", "volume24H", "trades24H", "nextFundingRate", "openInterest",
               "quantumConversionExponent", "atomicResolution", "subticksPerTick",
               "stepBaseQuantums", "liquidityTierId", "marketType", "baseOpenInterest",
               "defaultFundingRate1H")
           VALUES ($1, $1, $2, $1, 'ACTIVE', 0, 0, 0, 0, 0, -9, -10, 100000, 1000000, $1,
               'CROSS', 0, 0)"#,
    )
    .bind(i64::from(id))
    .bind(ticker)
    .execute(pool)
    .await
    .unwrap();
}

/// BTC-USD (clob pair 0), a block at `HEIGHT`, and the subaccount.
async fn seed(pool: &PgPool) {
    seed_market(pool, 0, "BTC-USD").await;
    sqlx::query(r#"INSERT INTO blocks ("blockHeight", time) VALUES ($1, now())"#)
        .bind(HEIGHT)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        r#"INSERT INTO subaccounts (id, address, "subaccountNumber", "updatedAt", "updatedAtHeight")
           VALUES ($1, $2, 0, now(), $3)"#,
    )
    .bind(subaccount_uuid(&subaccount()))
    .bind(OWNER)
    .bind(HEIGHT)
    .execute(pool)
    .await
    .unwrap();
}

/// The row ender writes for a short-term order once it is partially filled on chain.
async fn seed_partially_filled_order(pool: &PgPool, client_id: u32) -> uuid::Uuid {
    let uuid = db_order_uuid(&id(client_id, 0)).unwrap();
    sqlx::query(
        r#"INSERT INTO orders (id, "subaccountId", "clientId", "clobPairId", side, size,
               "totalFilled", price, type, status, "timeInForce", "reduceOnly", "orderFlags",
               "goodTilBlock", "createdAtHeight", "clientMetadata", "updatedAt",
               "updatedAtHeight", "orderRouterAddress")
           VALUES ($1, $2, $3, 0, 'BUY', 0.1, 0.025, 50000, 'LIMIT', 'OPEN', 'GTT', false, 0,
               120, $4, 0, now(), $4, '')"#,
    )
    .bind(uuid)
    .bind(subaccount_uuid(&subaccount()))
    .bind(i64::from(client_id))
    .bind(HEIGHT)
    .execute(pool)
    .await
    .unwrap();
    uuid
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

/// Reads `count` messages of a catalogue topic from the beginning.
async fn read_topic(topics: &TestTopics, topic: Topic, count: usize) -> Vec<Received<Vec<u8>>> {
    let decoder: Decoder<Vec<u8>> = Box::new(|bytes: &[u8]| Ok(bytes.to_vec()));
    let options = ConsumerOptions::new(format!("vulcan-test-{}", uuid::Uuid::new_v4()), [topic]);
    let consumer = BusConsumer::assign(&topics.settings, &options, StartAt::Beginning, decoder)
        .await
        .unwrap();
    let mut out = Vec::new();
    while out.len() < count {
        let next = tokio::time::timeout(Duration::from_secs(60), consumer.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of {count} messages on {topic:?}", out.len()))
            .unwrap();
        out.push(next);
    }
    out
}

/// Payloads and headers of the first `count` messages of `to-vulcan`'s dead-letter topic (not
/// a catalogue topic, so read with a plain client).
async fn read_dead_letters(topics: &TestTopics, count: usize) -> Vec<(Vec<u8>, MessageHeaders)> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::{Headers, Message as _};
    use rdkafka::{ClientConfig, Offset, TopicPartitionList};
    let brokers = topics.settings.brokers.clone();
    let topic = topics.dead_letter(Topic::ToVulcan);
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("group.id", format!("vulcan-test-{}", uuid::Uuid::new_v4()))
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(&topic, 0, Offset::Beginning)
            .unwrap();
        consumer.assign(&assignment).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut out = Vec::new();
        while out.len() < count && Instant::now() < deadline {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
                let mut headers = MessageHeaders::new();
                if let Some(h) = m.headers() {
                    for header in h.iter() {
                        headers.insert(header.key, header.value.unwrap_or_default().to_vec());
                    }
                }
                out.push((m.payload().unwrap_or_default().to_vec(), headers));
            }
        }
        out
    })
    .await
    .unwrap()
}

fn header(r: &Received<Vec<u8>>, name: &str) -> Option<String> {
    r.meta.headers.get_str(name).map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vulcan_consumes_kafka_updates_publishes_sequenced_messages_and_dead_letters_bad_input() {
    let db = TestDb::new().await;
    seed(db.pool()).await;
    let partially_filled = seed_partially_filled_order(db.pool(), 2).await;
    let topics = TestTopics::new().await;
    let redis_prefix = format!("test-{}:", uuid::Uuid::new_v4().simple());
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
        ("REDIS_KEY_PREFIX".into(), redis_prefix.clone()),
        ("PROCESS_FROM_BEGINNING".into(), "true".into()),
        ("VULCAN_COMMIT_INTERVAL_MS".into(), "200".into()),
        (
            "PERPETUAL_MARKETS_REFRESHER_INTERVAL_MS".into(),
            "200".into(),
        ),
    ];
    let binary = env!("CARGO_BIN_EXE_vulcan");
    let service = tokio::task::spawn_blocking(move || {
        let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        RunningService::start_healthy(binary, &refs)
    })
    .await
    .unwrap();

    // Order 1 rests (0.1 BTC); an undecodable message and an update for an unknown market sit
    // between the others; order 2 (partially filled on chain, row in Postgres) rests and is
    // canceled.
    let producer = BusProducer::new(&topics.settings).unwrap();
    let headers = MessageHeaders::new().with("message_received_timestamp", "1700000000123");
    let undecodable: Vec<u8> = vec![0x0f, 0x01]; // field 1 with wire type 7: not protobuf
    let unknown_market = place(9, 77, 1_000_000_000).encode_to_vec();
    let sequence: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (key(1), place(1, 0, 1_000_000_000).encode_to_vec()),
        (key(1), update(1, 0).encode_to_vec()),
        (key(1), undecodable.clone()),
        (key(9), unknown_market.clone()),
        (key(2), place(2, 0, 1_000_000_000).encode_to_vec()),
        (key(2), update(2, 250_000_000).encode_to_vec()),
        (key(2), cancel(2).encode_to_vec()),
    ];
    for (key, payload) in &sequence {
        producer
            .send(Topic::ToVulcan, Some(key), payload, &headers)
            .await
            .unwrap();
    }

    // Redis: order 1 rests alone at 50000, after 3 level messages (rest 1, rest 2, cancel 2).
    let env = Env::from_pairs([("REDIS_KEY_PREFIX", redis_prefix.as_str())]);
    let cache = Cache::connect(&RedisSettings::from_env(&env).unwrap())
        .await
        .unwrap();
    wait_for("the book to reflect every update", || async {
        book_snapshot(&cache, "BTC-USD").await.unwrap().seq == 3
    })
    .await;
    let snapshot = book_snapshot(&cache, "BTC-USD").await.unwrap();
    let bids: Vec<(&str, i64)> = snapshot
        .bids
        .iter()
        .map(|l| (l.price.as_str(), l.size_quantums))
        .collect();
    assert_eq!(bids, [("50000", 1_000_000_000)]);
    let epoch = snapshot
        .epoch
        .clone()
        .expect("the first script created the epoch");

    // Level messages: seq 1..3 on the BTC-USD channel, in the stream epoch, input headers kept.
    let levels = read_topic(&topics, Topic::ToWebsocketsOrderbooks, 3).await;
    let contents: Vec<String> = levels
        .iter()
        .map(|r| {
            OrderbookMessage::decode(r.value.as_slice())
                .unwrap()
                .contents
        })
        .collect();
    assert_eq!(
        contents,
        [
            r#"{"bids":[["50000","0.1"]]}"#,
            r#"{"bids":[["50000","0.175"]]}"#,
            r#"{"bids":[["50000","0.1"]]}"#,
        ]
    );
    for (i, level) in levels.iter().enumerate() {
        assert_eq!(header(level, "seq"), Some((i + 1).to_string()));
        assert_eq!(header(level, "epoch").as_deref(), Some(epoch.as_str()));
        assert_eq!(
            header(level, "channel").as_deref(),
            Some("v4_orderbook/BTC-USD")
        );
        assert_eq!(
            header(level, "message_received_timestamp").as_deref(),
            Some("1700000000123")
        );
    }

    // Subaccount messages: two placements and the cancel, numbered by vulcan 1..3; the cancel
    // carries the Postgres row's fill and the status vulcan just wrote to it.
    let subs = read_topic(&topics, Topic::ToWebsocketsSubaccounts, 3).await;
    let statuses: Vec<(String, Option<String>, Option<String>)> = subs
        .iter()
        .map(|r| {
            let contents: serde_json::Value = serde_json::from_str(
                &SubaccountMessage::decode(r.value.as_slice())
                    .unwrap()
                    .contents,
            )
            .unwrap();
            assert_eq!(
                contents["blockHeight"],
                HEIGHT.to_string(),
                "height from Postgres"
            );
            let order = &contents["orders"][0];
            (
                order["status"].as_str().unwrap().to_string(),
                order["clientId"].as_str().map(str::to_string),
                header(r, "seq"),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (
                "BEST_EFFORT_OPENED".to_string(),
                Some("1".to_string()),
                Some("1".to_string())
            ),
            (
                "BEST_EFFORT_OPENED".to_string(),
                Some("2".to_string()),
                Some("2".to_string())
            ),
            (
                "BEST_EFFORT_CANCELED".to_string(),
                Some("2".to_string()),
                Some("3".to_string())
            ),
        ]
    );
    for sub in &subs {
        assert_eq!(header(sub, "source").as_deref(), Some("vulcan"));
        assert_eq!(header(sub, "epoch").as_deref(), Some(epoch.as_str()));
        assert_eq!(
            header(sub, "channel"),
            Some(format!("v4_subaccounts/{OWNER}/0"))
        );
        assert_eq!(
            header(sub, "message_received_timestamp").as_deref(),
            Some("1700000000123")
        );
    }
    let status: String = sqlx::query_scalar("SELECT status FROM orders WHERE id = $1")
        .bind(partially_filled)
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(status, "BEST_EFFORT_CANCELED");

    // Dead letters: the undecodable bytes and the unknown market, verbatim, with reasons; the
    // messages after them were processed (the service kept going).
    let dead = read_dead_letters(&topics, 2).await;
    let payloads: Vec<&[u8]> = dead.iter().map(|(p, _)| p.as_slice()).collect();
    assert_eq!(
        payloads,
        [undecodable.as_slice(), unknown_market.as_slice()]
    );
    for (_, headers) in &dead {
        assert!(
            headers
                .get_str(dead_letter_headers::REASON)
                .is_some_and(|r| !r.is_empty()),
            "dead letters say why"
        );
        assert_eq!(
            headers.get_str(dead_letter_headers::SOURCE_TOPIC),
            Some(topics.name(Topic::ToVulcan).as_str())
        );
    }

    // A market created after vulcan started is picked up by the markets refresher.
    seed_market(db.pool(), 1, "ETH-USD").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    for payload in [place(5, 1, 2_000_000_000), update_in(5, 1, 0)] {
        producer
            .send(
                Topic::ToVulcan,
                Some(&key(5)),
                &payload.encode_to_vec(),
                &headers,
            )
            .await
            .unwrap();
    }
    wait_for("the new market's book", || async {
        book_snapshot(&cache, "ETH-USD").await.unwrap().seq == 1
    })
    .await;
    let eth = book_snapshot(&cache, "ETH-USD").await.unwrap();
    assert_eq!(eth.bids.len(), 1);
    assert_eq!(eth.bids[0].size_quantums, 2_000_000_000);

    drop(producer);
    let mut service = service;
    service.terminate();
    assert!(service.wait_for_exit(Duration::from_secs(30)).success());
    cache.clear().await.unwrap();
    topics.cleanup().await.unwrap();
    db.cleanup().await;
}

fn key(client_id: u32) -> Vec<u8> {
    order_id_key(&id(client_id, 0)).to_vec()
}
