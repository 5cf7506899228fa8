//! Reading ender's progress marker.

use indexer_store::{ender_progress, last_processed_height, EnderProgress};
use indexer_testkit::db::TestDb;

#[tokio::test]
async fn empty_database_has_processed_nothing() {
    let db = TestDb::new().await;
    assert_eq!(last_processed_height(db.pool()).await.unwrap(), None);
    assert_eq!(ender_progress(db.pool()).await.unwrap(), None);
    db.cleanup().await;
}

#[tokio::test]
async fn progress_row_is_authoritative() {
    let db = TestDb::new().await;
    let pool = db.pool();
    sqlx::query(r#"INSERT INTO blocks ("blockHeight", time) VALUES (5, now()), (6, now())"#)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO ender_progress (last_processed_height, start_height) VALUES (6, 5)")
        .execute(pool)
        .await
        .unwrap();

    assert_eq!(last_processed_height(pool).await.unwrap(), Some(6));
    let progress: EnderProgress = ender_progress(pool).await.unwrap().unwrap();
    assert_eq!(
        (progress.last_processed_height, progress.start_height),
        (6, 5)
    );
    assert!(!progress.epoch.is_nil());

    // Readable inside a transaction too (ender checks its height in the block transaction).
    let mut tx = pool.begin().await.unwrap();
    assert_eq!(last_processed_height(&mut *tx).await.unwrap(), Some(6));
    tx.rollback().await.unwrap();
    db.cleanup().await;
}

#[tokio::test]
async fn without_a_progress_row_the_highest_block_counts() {
    // A database restored from a reference snapshot has blocks but no progress row.
    let db = TestDb::new().await;
    sqlx::query(r#"INSERT INTO blocks ("blockHeight", time) VALUES (41, now()), (42, now())"#)
        .execute(db.pool())
        .await
        .unwrap();
    assert_eq!(last_processed_height(db.pool()).await.unwrap(), Some(42));
    db.cleanup().await;
}

#[tokio::test]
async fn there_is_at_most_one_progress_row() {
    let db = TestDb::new().await;
    let pool = db.pool();
    let insert = "INSERT INTO ender_progress (last_processed_height, start_height) VALUES (1, 1)";
    sqlx::query(insert).execute(pool).await.unwrap();
    assert!(
        sqlx::query(insert).execute(pool).await.is_err(),
        "second row refused"
    );
    assert!(
        sqlx::query(
            "INSERT INTO ender_progress (id, last_processed_height, start_height) VALUES (2, 1, 1)"
        )
        .execute(pool)
        .await
        .is_err(),
        "another id refused"
    );
    db.cleanup().await;
}
