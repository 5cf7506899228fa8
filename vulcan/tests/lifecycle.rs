//! The vulcan binary starts (markets and height from a fresh, migrated database), serves
//! /healthz and /metrics, and exits cleanly on SIGTERM.

use indexer_testkit::db::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_serves_health_and_metrics_and_exits_cleanly_on_sigterm() {
    let db = TestDb::new().await;
    let url = db.url().to_owned();
    let prefix = format!("test-{}:", uuid::Uuid::new_v4().simple());
    tokio::task::spawn_blocking(move || {
        indexer_testkit::process::assert_service_lifecycle_with_env(
            env!("CARGO_BIN_EXE_vulcan"),
            &[("DATABASE_URL", &url), ("REDIS_KEY_PREFIX", &prefix)],
        )
    })
    .await
    .unwrap();
    db.cleanup().await;
}
