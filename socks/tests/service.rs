//! The socks binary end to end: started with its environment (its own database, Redis prefix and
//! topics), it serves websocket clients from Kafka, exposes its metrics, and closes connections
//! with 1012 on SIGTERM.

mod common;

use std::time::Duration;

use common::{seed_markets, Client};
use indexer_bus::{BusProducer, MessageHeaders, Topic};
use indexer_proto::socks::OrderbookMessage;
use indexer_testkit::db::TestDb;
use indexer_testkit::kafka::TestTopics;
use indexer_testkit::process::{free_port, http_get, RunningService};
use prost::Message as _;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_serves_kafka_messages_to_websocket_clients() {
    let db = TestDb::new().await;
    seed_markets(&db).await;
    let topics = TestTopics::new().await;
    let ws_port = free_port().to_string();
    let prefix = format!("socks-service-{}:", uuid::Uuid::new_v4().simple());
    let env = [
        ("DATABASE_URL", db.url().to_string()),
        ("KAFKA_TOPIC_PREFIX", topics.settings.topic_prefix.clone()),
        ("KAFKA_ENABLE_UNIQUE_CONSUMER_GROUP_IDS", "true".into()),
        ("SOCKS_KAFKA_START", "beginning".into()),
        ("REDIS_KEY_PREFIX", prefix),
        ("WS_HOST", "127.0.0.1".into()),
        ("WS_PORT", ws_port.clone()),
    ];
    let service = tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        RunningService::start_healthy(env!("CARGO_BIN_EXE_socks"), &env)
    })
    .await
    .unwrap();
    let admin = service.admin_addr;
    // Liveness answers first; readiness once the websocket server and the feed are up.
    let ready = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let status =
                tokio::task::spawn_blocking(move || http_get(admin, "/readyz").map(|r| r.status))
                    .await
                    .unwrap();
            if matches!(status, Ok(200)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        ready.is_ok(),
        "socks never became ready:\n{}",
        service.output()
    );

    let url = format!("ws://127.0.0.1:{ws_port}/v4/ws");
    let (mut client, _) = Client::connected(&url).await;
    let subscribed = client
        .subscribe(json!({"type": "subscribe", "channel": "v4_orderbook", "id": "BTC-USD"}))
        .await;
    assert_eq!(
        subscribed["contents"],
        json!({"bids": [], "asks": []}),
        "{subscribed}"
    );

    let producer = BusProducer::new(&topics.settings).unwrap();
    let message = OrderbookMessage {
        contents: r#"{"asks":[["64121","0"]]}"#.into(),
        clob_pair_id: "0".into(),
        version: "1.0.0".into(),
    };
    let headers = MessageHeaders::new()
        .with("seq", "1")
        .with("epoch", "e")
        .with("message_received_timestamp", chrono_now_ms());
    producer
        .send(
            Topic::ToWebsocketsOrderbooks,
            None,
            &message.encode_to_vec(),
            &headers,
        )
        .await
        .unwrap();
    let frame = client.next_json().await;
    assert_eq!(frame["type"], "channel_data");
    assert_eq!(frame["contents"], json!({"asks": [["64121", "0"]]}));
    assert_eq!(frame["seq"], 1);

    let metrics = tokio::task::spawn_blocking(move || http_get(admin, "/metrics").unwrap())
        .await
        .unwrap();
    for name in [
        "socks_connections ",
        "socks_frames_sent_total",
        "socks_kafka_messages_total",
        "socks_origin_to_frame_seconds",
    ] {
        assert!(
            metrics.body.contains(name),
            "{name} missing from:\n{}",
            metrics.body
        );
    }

    service.terminate();
    assert_eq!(
        client.expect_close().await,
        (1012, r#"{"message":"Service restarting"}"#.to_string())
    );
    let mut service = service;
    let status = tokio::task::spawn_blocking(move || {
        let status = service.wait_for_exit(Duration::from_secs(60));
        (status, service.output())
    })
    .await
    .unwrap();
    assert!(
        status.0.success(),
        "socks exited with {}:\n{}",
        status.0,
        status.1
    );
    drop(producer);
    topics.cleanup().await.unwrap();
    db.cleanup().await;
}

fn chrono_now_ms() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string()
}
