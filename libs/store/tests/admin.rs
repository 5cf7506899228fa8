//! clear_data empties every data table but keeps the schema and the migration history.

use indexer_store::{clear_data, embedded_migrations, ender_progress, migrate};
use indexer_testkit::db::TestDb;
use sqlx::PgPool;

async fn count(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn seed(pool: &PgPool) {
    for statement in [
        r#"INSERT INTO blocks ("blockHeight", time) VALUES (7, now())"#,
        r#"INSERT INTO subaccounts (id, address, "subaccountNumber", "updatedAt", "updatedAtHeight")
           VALUES ('c7169f81-0c80-54c5-a41f-9cbb6a538fdf', 'dydx18tkxrnrkqc2t0lr3zxr5g6a4hdvqksylxqje4r', 0, now(), 7)"#,
        r#"INSERT INTO pnl_ticks (id, "subaccountId", equity, "totalPnl", "netTransfers", "createdAt", "blockHeight", "blockTime")
           VALUES (gen_random_uuid(), 'c7169f81-0c80-54c5-a41f-9cbb6a538fdf', 10, 1, 9, now(), 7, now())"#,
        "REFRESH MATERIALIZED VIEW vaults_hourly_pnl",
        "INSERT INTO ender_progress (last_processed_height, start_height) VALUES (7, 1)",
        "INSERT INTO ender_outbox (block_height, topic, payload) VALUES (7, 'to-websockets-trades', '\\x01')",
        "INSERT INTO channel_sequences (channel, channel_id, seq) VALUES ('v4_trades', 'BTC-USD', 3)",
        "INSERT INTO persistent_cache (key, value) VALUES ('pnlLastProcessedHeight', '7')",
    ] {
        sqlx::query(statement).execute(pool).await.unwrap();
    }
}

#[tokio::test]
async fn clear_data_empties_every_table_and_keeps_the_schema() {
    let db = TestDb::new().await;
    let pool = db.pool();
    seed(pool).await;
    assert_eq!(
        count(pool, "vaults_hourly_pnl").await,
        1,
        "the megavault tick is in the view"
    );

    let cleared = clear_data(pool).await.unwrap();
    for table in [
        "blocks",
        "subaccounts",
        "pnl_ticks",
        "ender_progress",
        "ender_outbox",
        "channel_sequences",
        "persistent_cache",
    ] {
        assert!(
            cleared.iter().any(|t| t == table),
            "{table} reported as cleared"
        );
        assert_eq!(count(pool, table).await, 0, "{table} is empty");
    }
    assert!(!cleared.iter().any(|t| t == "_sqlx_migrations"));
    assert_eq!(
        count(pool, "vaults_hourly_pnl").await,
        0,
        "views no longer show old data"
    );

    // Schema and migration history survive: nothing to re-apply, tables still usable.
    assert_eq!(
        count(pool, "_sqlx_migrations").await,
        embedded_migrations().len() as i64
    );
    assert_eq!(migrate(pool).await.unwrap(), 0);
    seed(pool).await;
    db.cleanup().await;
}

#[tokio::test]
async fn clearing_starts_a_new_stream_epoch_and_keeps_outbox_ids_increasing() {
    let db = TestDb::new().await;
    let pool = db.pool();
    seed(pool).await;
    let old_epoch = ender_progress(pool).await.unwrap().expect("row").epoch;
    let old_outbox_id: i64 = sqlx::query_scalar("SELECT max(id) FROM ender_outbox")
        .fetch_one(pool)
        .await
        .unwrap();

    clear_data(pool).await.unwrap();
    assert_eq!(
        ender_progress(pool).await.unwrap(),
        None,
        "no block processed since the rebuild"
    );

    seed(pool).await;
    let new_epoch = ender_progress(pool).await.unwrap().expect("row").epoch;
    assert_ne!(new_epoch, old_epoch, "a rebuilt database has a new epoch");
    let new_outbox_id: i64 = sqlx::query_scalar("SELECT max(id) FROM ender_outbox")
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(
        new_outbox_id > old_outbox_id,
        "a relay's remembered id never skips new rows"
    );
    db.cleanup().await;
}
