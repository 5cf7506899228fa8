//! The migration runner: idempotent, safe to run concurrently, refuses edited history.

use indexer_store::{embedded_migrations, migrate, StoreError};
use indexer_testkit::db::TestDb;
use sqlx::postgres::PgPoolOptions;

async fn applied_count(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(db.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn second_run_applies_nothing() {
    let db = TestDb::empty().await;
    let total = embedded_migrations().len();
    assert!(total >= 3, "baseline, other services and our additions");

    assert_eq!(migrate(db.pool()).await.unwrap(), total);
    assert_eq!(migrate(db.pool()).await.unwrap(), 0);
    assert_eq!(applied_count(&db).await, total as i64);
    db.cleanup().await;
}

#[tokio::test]
async fn an_already_migrated_test_database_is_current() {
    let db = TestDb::new().await;
    assert_eq!(migrate(db.pool()).await.unwrap(), 0);
    db.cleanup().await;
}

#[tokio::test]
async fn concurrent_runners_on_a_fresh_database_both_succeed() {
    let db = TestDb::empty().await;
    // Two pools stand for two services starting at the same time.
    let first = PgPoolOptions::new()
        .max_connections(2)
        .connect(db.url())
        .await
        .unwrap();
    let second = PgPoolOptions::new()
        .max_connections(2)
        .connect(db.url())
        .await
        .unwrap();

    let (a, b) = tokio::join!(migrate(&first), migrate(&second));
    let (a, b) = (a.expect("first runner"), b.expect("second runner"));
    assert_eq!(
        a + b,
        embedded_migrations().len(),
        "each migration applied exactly once"
    );
    assert_eq!(applied_count(&db).await, embedded_migrations().len() as i64);

    first.close().await;
    second.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn an_edited_migration_is_refused() {
    let db = TestDb::new().await;
    let baseline = embedded_migrations()[0].version;
    // What the database would record had the baseline file been different when it was applied.
    sqlx::query("UPDATE _sqlx_migrations SET checksum = '\\x00'::bytea WHERE version = $1")
        .bind(baseline)
        .execute(db.pool())
        .await
        .unwrap();

    let err = migrate(db.pool())
        .await
        .expect_err("checksum mismatch must stop the runner");
    assert!(matches!(err, StoreError::Migrate(_)), "{err}");
    assert!(
        err.to_string().contains(&baseline.to_string()),
        "names the version: {err}"
    );

    // The runner released its lock: another attempt fails the same way instead of hanging.
    assert!(migrate(db.pool()).await.is_err());
    db.cleanup().await;
}

#[tokio::test]
async fn versions_from_a_newer_release_do_not_block_start_up() {
    let db = TestDb::new().await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99990101000000, 'from a newer release', true, '\\x01'::bytea, 0)",
    )
    .execute(db.pool())
    .await
    .unwrap();
    assert_eq!(migrate(db.pool()).await.unwrap(), 0);
    db.cleanup().await;
}
