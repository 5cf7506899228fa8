//! The process contract every service keeps: `/healthz` answers, `/metrics` serves
//! Prometheus text, and SIGTERM ends the process with status 0. Socks needs its database (market
//! cache), Redis and Kafka to start, so the test gives it its own database and topics.

use indexer_testkit::db::TestDb;
use indexer_testkit::kafka::TestTopics;

#[tokio::test(flavor = "multi_thread")]
async fn starts_serves_health_and_metrics_and_exits_cleanly_on_sigterm() {
    let db = TestDb::new().await;
    let topics = TestTopics::new().await;
    let url = db.url().to_string();
    let prefix = topics.settings.topic_prefix.clone();
    tokio::task::spawn_blocking(move || {
        indexer_testkit::process::assert_service_lifecycle_with_env(
            env!("CARGO_BIN_EXE_socks"),
            &[
                ("DATABASE_URL", url.as_str()),
                ("KAFKA_TOPIC_PREFIX", prefix.as_str()),
                ("WS_HOST", "127.0.0.1"),
                ("WS_PORT", "0"),
                ("KAFKA_ENABLE_UNIQUE_CONSUMER_GROUP_IDS", "true"),
            ],
        )
    })
    .await
    .unwrap();
    topics.cleanup().await.unwrap();
    db.cleanup().await;
}
