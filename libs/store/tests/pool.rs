//! Connecting the primary and replica pools.

use std::time::Duration;

use indexer_store::{Pools, StoreError};
use indexer_testkit::db::TestDb;

async fn database_of(pool: &sqlx::PgPool) -> String {
    sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn reads_use_the_primary_without_a_replica() {
    let db = TestDb::new().await;
    let pools = Pools::connect(&db.postgres_settings()).await.unwrap();
    assert!(pools.replica.is_none());
    assert_eq!(database_of(pools.reader()).await, db.name());
    pools.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn reads_use_the_replica_when_configured() {
    let primary = TestDb::new().await;
    let replica = TestDb::new().await;
    let mut settings = primary.postgres_settings();
    settings.readonly_url = Some(replica.url().to_string());

    let pools = Pools::connect(&settings).await.unwrap();
    assert_eq!(database_of(&pools.primary).await, primary.name());
    assert_eq!(database_of(pools.reader()).await, replica.name());
    pools.close().await;
    primary.cleanup().await;
    replica.cleanup().await;
}

#[tokio::test]
async fn unreachable_server_fails_fast_without_leaking_the_password() {
    let db = TestDb::new().await;
    let mut settings = db.postgres_settings();
    settings.url = "postgres://postgres:hunter2@127.0.0.1:1/indexer".to_string();
    settings.acquire_timeout = Duration::from_secs(2);

    let err = Pools::connect(&settings)
        .await
        .expect_err("nothing listens on port 1");
    assert!(matches!(err, StoreError::Connect { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    db.cleanup().await;
}
