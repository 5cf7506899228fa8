//! The process contract every service keeps: `/healthz` answers, `/metrics` serves
//! Prometheus text, and SIGTERM ends the process with status 0.

#[tokio::test(flavor = "multi_thread")]
async fn starts_serves_health_and_metrics_and_exits_cleanly_on_sigterm() {
    let db = indexer_testkit::db::TestDb::new().await;
    let url = db.url().to_owned();
    let prefix = format!("test-{}:", uuid::Uuid::new_v4().simple());
    tokio::task::spawn_blocking(move || {
        indexer_testkit::process::assert_service_lifecycle_with_env(
            env!("CARGO_BIN_EXE_comlink"),
            &[
                ("DATABASE_URL", &url),
                ("PORT", "0"),
                ("REDIS_KEY_PREFIX", &prefix),
            ],
        );
    })
    .await
    .unwrap();
    db.cleanup().await;
}
