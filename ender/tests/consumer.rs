//! The height gate, operator skip and bad-block handling of `Ender::handle`, against a fresh
//! database.

use chrono::{DateTime, Utc};
use ender::consumer::{Ender, GateSettings, Stop, Verdict};
use ender::pipeline::BlockInputs;
use ender::state::ProcessSettings;
use indexer_proto::events as ev;
use indexer_proto::indexer_manager::indexer_tendermint_event::OrderingWithinBlock;
use indexer_proto::indexer_manager::{IndexerTendermintBlock, IndexerTendermintEvent};
use indexer_testkit::db::TestDb;
use prost::Message;
use sqlx::PgPool;

fn block(height: u32, events: Vec<IndexerTendermintEvent>) -> Vec<u8> {
    let time: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
    IndexerTendermintBlock {
        height,
        time: Some(prost_types::Timestamp {
            seconds: time.timestamp() + i64::from(height),
            nanos: 0,
        }),
        events,
        tx_hashes: vec!["HASH".into()],
    }
    .encode_to_vec()
}

fn market_create(id: u32, pair: &str) -> IndexerTendermintEvent {
    use ev::market_event_v1::Event;
    IndexerTendermintEvent {
        subtype: "market".into(),
        ordering_within_block: Some(OrderingWithinBlock::TransactionIndex(0)),
        event_index: 0,
        version: 1,
        data_bytes: ev::MarketEventV1 {
            market_id: id,
            event: Some(Event::MarketCreate(ev::MarketCreateEventV1 {
                base: Some(ev::MarketBaseEventV1 {
                    pair: pair.into(),
                    min_price_change_ppm: 50,
                }),
                exponent: -5,
            })),
        }
        .encode_to_vec(),
    }
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

async fn ender(db: &TestDb, gate: GateSettings) -> Ender {
    Ender::start(db.pool().clone(), gate, ProcessSettings::default())
        .await
        .unwrap()
}

#[tokio::test]
async fn blocks_apply_in_order_and_a_replayed_block_is_skipped_without_writing() {
    let db = TestDb::new().await;
    let mut ender = ender(&db, GateSettings::default()).await;
    let first = block(0, vec![market_create(0, "BTC-USD")]);
    assert!(matches!(
        ender.handle(&first, BlockInputs::default()).await,
        Ok(Verdict::Processed { height: 0, .. })
    ));
    assert!(matches!(
        ender
            .handle(&block(1, vec![]), BlockInputs::default())
            .await,
        Ok(Verdict::Processed { height: 1, .. })
    ));
    assert!(matches!(
        ender.handle(&first, BlockInputs::default()).await,
        Ok(Verdict::Duplicate { height: 0 })
    ));
    assert_eq!(count(db.pool(), "SELECT count(*) FROM markets").await, 1);
    assert_eq!(count(db.pool(), "SELECT count(*) FROM blocks").await, 2);
    // A restarted ender reads the processed height back.
    let restarted = ender_after_restart(&db).await;
    assert_eq!(restarted.last_processed(), Some(1));
    assert!(
        restarted.caches().markets.contains_key(&0),
        "caches are loaded at start"
    );
    db.cleanup().await;
}

async fn ender_after_restart(db: &TestDb) -> Ender {
    ender(db, GateSettings::default()).await
}

#[tokio::test]
async fn a_gap_stops_without_writing_and_the_start_height_is_configurable() {
    let db = TestDb::new().await;
    let mut ender = ender(
        &db,
        GateSettings {
            start_height: 100,
            skip_block: None,
        },
    )
    .await;
    match ender
        .handle(&block(101, vec![]), BlockInputs::default())
        .await
    {
        Err(Stop::Gap {
            expected: 100,
            got: 101,
        }) => {}
        other => panic!("expected a gap, got {other:?}"),
    }
    assert!(matches!(
        ender
            .handle(&block(100, vec![]), BlockInputs::default())
            .await,
        Ok(Verdict::Processed { height: 100, .. })
    ));
    match ender
        .handle(&block(102, vec![]), BlockInputs::default())
        .await
    {
        Err(Stop::Gap {
            expected: 101,
            got: 102,
        }) => {}
        other => panic!("expected a gap, got {other:?}"),
    }
    assert_eq!(count(db.pool(), "SELECT count(*) FROM blocks").await, 1);
    assert_eq!(
        count(db.pool(), "SELECT start_height FROM ender_progress").await,
        100
    );
    db.cleanup().await;
}

#[tokio::test]
async fn a_malformed_block_stops_and_the_operator_can_skip_it() {
    let db = TestDb::new().await;
    let mut ender = ender(&db, GateSettings::default()).await;
    assert!(matches!(
        ender
            .handle(&[0xff, 0xff, 0x01], BlockInputs::default())
            .await,
        Err(Stop::BadBlock { height: None, .. })
    ));
    let mut bad_event = market_create(0, "BTC-USD");
    bad_event.data_bytes = vec![0xff, 0xff, 0xff];
    let bad = block(0, vec![bad_event]);
    assert!(matches!(
        ender.handle(&bad, BlockInputs::default()).await,
        Err(Stop::BadBlock {
            height: Some(0),
            ..
        })
    ));
    // An event that decodes but fails validation (empty pair) is a bad block too.
    let invalid = block(0, vec![market_create(0, "")]);
    assert!(matches!(
        ender.handle(&invalid, BlockInputs::default()).await,
        Err(Stop::BadBlock {
            height: Some(0),
            ..
        })
    ));
    assert_eq!(count(db.pool(), "SELECT count(*) FROM blocks").await, 0);

    let mut ender = self::ender(
        &db,
        GateSettings {
            start_height: 0,
            skip_block: Some(0),
        },
    )
    .await;
    assert!(matches!(
        ender.handle(&bad, BlockInputs::default()).await,
        Ok(Verdict::SkippedByOperator { height: 0 })
    ));
    // Garbage in place of the next block (its height unknown) is skipped when ENDER_SKIP_BLOCK
    // names the height expected next.
    let mut ender = self::ender(
        &db,
        GateSettings {
            start_height: 0,
            skip_block: Some(1),
        },
    )
    .await;
    assert!(matches!(
        ender
            .handle(&[0xff, 0xff, 0x01], BlockInputs::default())
            .await,
        Ok(Verdict::SkippedByOperator { height: 1 })
    ));
    let mut ender = self::ender(&db, GateSettings::default()).await;
    assert!(matches!(
        ender
            .handle(&block(2, vec![]), BlockInputs::default())
            .await,
        Ok(Verdict::Processed { height: 2, .. })
    ));
    assert_eq!(
        count(db.pool(), "SELECT count(*) FROM blocks").await,
        1,
        "the skipped blocks wrote no rows"
    );
    db.cleanup().await;
}

fn register_affiliate(referee: &str) -> IndexerTendermintEvent {
    IndexerTendermintEvent {
        subtype: "register_affiliate".into(),
        ordering_within_block: Some(OrderingWithinBlock::TransactionIndex(0)),
        event_index: 0,
        version: 1,
        data_bytes: ev::RegisterAffiliateEventV1 {
            referee: referee.into(),
            affiliate: "dydx1affiliate".into(),
        }
        .encode_to_vec(),
    }
}

#[tokio::test]
async fn a_block_contradicting_stored_rows_is_a_bad_block_not_a_retry() {
    let db = TestDb::new().await;
    let mut ender = ender(&db, GateSettings::default()).await;
    assert!(matches!(
        ender
            .handle(
                &block(0, vec![register_affiliate("dydx1referee")]),
                BlockInputs::default()
            )
            .await,
        Ok(Verdict::Processed { height: 0, .. })
    ));
    // A second registration of the same referee violates the primary key.
    match ender
        .handle(
            &block(1, vec![register_affiliate("dydx1referee")]),
            BlockInputs::default(),
        )
        .await
    {
        Err(Stop::BadBlock {
            height: Some(1),
            reason,
        }) => assert!(reason.contains("affiliate_referred_users"), "{reason}"),
        other => panic!("expected a bad block, got {other:?}"),
    }
    assert_eq!(ender.last_processed(), Some(0));
    assert_eq!(
        count(db.pool(), "SELECT count(*) FROM blocks").await,
        1,
        "the failed block rolled back"
    );
    db.cleanup().await;
}

#[tokio::test]
async fn blocks_written_by_another_instance_are_seen_before_declaring_a_gap() {
    let db = TestDb::new().await;
    let mut first = ender(&db, GateSettings::default()).await;
    let mut second = ender(&db, GateSettings::default()).await;
    assert!(matches!(
        first
            .handle(
                &block(0, vec![market_create(0, "BTC-USD")]),
                BlockInputs::default()
            )
            .await,
        Ok(Verdict::Processed { height: 0, .. })
    ));
    // The second instance started before block 0 was written: block 1 looks like a gap to it
    // until it re-reads the database, and it then also sees the market block 0 created.
    assert!(matches!(
        second
            .handle(&block(1, vec![]), BlockInputs::default())
            .await,
        Ok(Verdict::Processed { height: 1, .. })
    ));
    assert!(second.caches().markets.contains_key(&0));
    db.cleanup().await;
}

#[tokio::test]
async fn a_block_committed_by_another_instance_meanwhile_is_a_duplicate_not_a_bad_block() {
    let db = TestDb::new().await;
    let mut first = ender(&db, GateSettings::default()).await;
    let mut second = ender(&db, GateSettings::default()).await;
    let genesis = block(0, vec![market_create(0, "BTC-USD")]);
    assert!(matches!(
        first.handle(&genesis, BlockInputs::default()).await,
        Ok(Verdict::Processed { height: 0, .. })
    ));
    // The second instance still believes the database is empty: its write collides with the
    // committed block, which it then recognises.
    assert!(matches!(
        second.handle(&genesis, BlockInputs::default()).await,
        Ok(Verdict::Duplicate { height: 0 })
    ));
    assert_eq!(count(db.pool(), "SELECT count(*) FROM markets").await, 1);
    db.cleanup().await;
}
