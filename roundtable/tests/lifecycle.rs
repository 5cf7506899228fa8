//! The process contract every service keeps: `/healthz` answers, `/metrics` serves
//! Prometheus text, and SIGTERM ends the process with status 0. The process gets its own
//! database, Redis key prefix and topic prefix, so the jobs it starts touch nothing shared.

#[test]
fn starts_serves_health_and_metrics_and_exits_cleanly_on_sigterm() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(indexer_testkit::db::TestDb::new());
    let redis_prefix = format!("test-{}:", uuid::Uuid::new_v4());
    let topic_prefix = indexer_testkit::kafka::unique_prefix();
    indexer_testkit::process::assert_service_lifecycle_with_env(
        env!("CARGO_BIN_EXE_roundtable"),
        &[
            ("DATABASE_URL", db.url()),
            ("REDIS_KEY_PREFIX", &redis_prefix),
            ("KAFKA_TOPIC_PREFIX", &topic_prefix),
        ],
    );
    runtime.block_on(db.cleanup());
}
