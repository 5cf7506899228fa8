//! market_updater on real Postgres and Redis: statistics written, and the changed fields queued in
//! ender's outbox with the next `v4_markets` seq (ender's relay publishes them).

mod common;

use chrono::{TimeDelta, Utc};
use common::*;
use indexer_bus::Topic;
use indexer_proto::socks::MarketMessage;
use prost::Message;
use roundtable::jobs::market_updater::MarketUpdater;
use roundtable::scheduler::Job;
use serde_json::{json, Value};

#[tokio::test]
async fn market_statistics_are_written_and_changes_published() {
    let env = TestEnv::new().await;
    let now = Utc::now();
    env.write(genesis(now - TimeDelta::days(2))).await;

    // Block 2, 30 hours ago: a trade outside the 24-hour window.
    let old_time = now - TimeDelta::hours(30);
    let mut old = block(2, old_time);
    let (old_event, old_event_row) = event(2, 0, 0);
    old.tendermint_events = vec![old_event_row];
    old.subaccounts = vec![
        subaccount(ALICE, 0, 2, old_time),
        subaccount(BOB, 0, 2, old_time),
    ];
    old.fills = vec![fill(
        ALICE, &old_event, "TAKER", "BUY", 0, "2", "50000", 2, old_time,
    )];
    env.write(old).await;

    // Block 3, an hour ago: a new BTC price, one trade (taker + maker side) and positions.
    let recent = now - TimeDelta::hours(1);
    let mut w = block(3, recent);
    let (taker_event, taker_row) = event(3, 0, 0);
    let (maker_event, maker_row) = event(3, 0, 1);
    w.tendermint_events = vec![taker_row, maker_row];
    w.oracle_prices = vec![oracle_price(0, "51000", 3, recent)];
    w.fills = vec![
        fill(
            ALICE,
            &taker_event,
            "TAKER",
            "BUY",
            0,
            "0.5",
            "51000",
            3,
            recent,
        ),
        fill(
            BOB,
            &maker_event,
            "MAKER",
            "SELL",
            0,
            "0.5",
            "51000",
            3,
            recent,
        ),
    ];
    w.perpetual_positions = vec![
        position(ALICE, 0, "0.5", &taker_event, 3, recent),
        position(BOB, 0, "-0.5", &maker_event, 3, recent),
    ];
    env.write(w).await;

    // Premium samples ender pushed since the last funding tick.
    let _: () = redis::cmd("RPUSH")
        .arg(env.cache.keys().next_funding("BTC-USD"))
        .arg("0.0001")
        .arg("0.0003")
        .query_async(&mut env.cache.conn())
        .await
        .unwrap();

    // Ender has already published seven markets messages on this channel id.
    sqlx::query("INSERT INTO channel_sequences (channel, channel_id, seq) VALUES ('v4_markets', 'v4_markets', 7)")
        .execute(env.pool())
        .await
        .unwrap();
    let job = MarketUpdater::new(env.deps.clone());
    job.run(&ctx()).await.unwrap();

    let rows: Vec<(String, i32, String, String, String, String)> = sqlx::query_as(
        r#"SELECT ticker, "trades24H", "volume24H"::text, "priceChange24H"::text,
                  "openInterest"::text, "nextFundingRate"::text
           FROM perpetual_markets ORDER BY id"#,
    )
    .fetch_all(env.pool())
    .await
    .unwrap();
    let numeric = |text: &str| text.parse::<bigdecimal::BigDecimal>().unwrap();
    let (_, trades, volume, change, oi, funding) = &rows[0];
    assert_eq!(*trades, 1, "one taker fill in the window");
    assert_eq!(numeric(volume), dec("25500"));
    assert_eq!(numeric(change), dec("1000"));
    assert_eq!(numeric(oi), dec("0.5"));
    assert_eq!(numeric(funding), dec("0.0002"));
    let (_, eth_trades, eth_volume, eth_change, eth_oi, _) = &rows[1];
    assert_eq!(
        (
            *eth_trades,
            numeric(eth_volume),
            numeric(eth_change),
            numeric(eth_oi)
        ),
        (0, dec("0"), dec("0"), dec("0"))
    );

    let queued = outbox(&env).await;
    assert_eq!(queued.len(), 1, "one markets message queued");
    let row = &queued[0];
    assert_eq!(row.topic, Topic::ToWebsocketsMarkets.base_name());
    assert_eq!(row.partition_key, None);
    assert_eq!(row.block_height, 3, "sequenced after the newest block");
    let epoch: uuid::Uuid = sqlx::query_scalar("SELECT epoch FROM ender_progress")
        .fetch_one(env.pool())
        .await
        .unwrap();
    assert_eq!(
        row.headers,
        json!({"seq": "8", "epoch": epoch.to_string(), "channel": "v4_markets/v4_markets", "source": "roundtable"}),
        "the channel's next seq, after ender's seven"
    );
    let message = MarketMessage::decode(row.payload.as_slice()).unwrap();
    assert_eq!(message.version, "1.0.0");
    let contents: Value = serde_json::from_str(&message.contents).unwrap();
    assert_eq!(
        contents,
        json!({"trading": {"BTC-USD": {
            "priceChange24H": "1000",
            "volume24H": "25500",
            "trades24H": 1,
            "nextFundingRate": "0.0002",
            "openInterest": "0.5"
        }}})
    );

    // Nothing changed since: the next run writes the same values and announces nothing.
    job.run(&ctx()).await.unwrap();
    assert_eq!(
        outbox(&env).await.len(),
        1,
        "an unchanged market is not announced again"
    );
    env.cleanup().await;
}

#[tokio::test]
async fn without_funding_samples_the_previous_next_funding_rate_is_kept() {
    let env = TestEnv::new().await;
    let now = Utc::now();
    let mut genesis = genesis(now - TimeDelta::days(2));
    genesis.perpetual_markets[0].1.next_funding_rate = dec("0.000125");
    env.write(genesis).await;

    MarketUpdater::new(env.deps.clone())
        .run(&ctx())
        .await
        .unwrap();

    let kept: String = sqlx::query_scalar(
        r#"SELECT "nextFundingRate"::text FROM perpetual_markets WHERE ticker = 'BTC-USD'"#,
    )
    .fetch_one(env.pool())
    .await
    .unwrap();
    assert_eq!(
        kept.parse::<bigdecimal::BigDecimal>().unwrap(),
        dec("0.000125")
    );
    env.cleanup().await;
}

async fn outbox(env: &TestEnv) -> Vec<indexer_store::write::OutboxRow> {
    let mut conn = env.pool().acquire().await.unwrap();
    indexer_store::write::pending_outbox(&mut conn, 100)
        .await
        .unwrap()
}

#[tokio::test]
async fn before_the_first_block_nothing_is_queued() {
    let env = TestEnv::new().await;
    // Markets written without a block: ender_progress has no row, so there is no epoch yet.
    let mut conn = env.pool().acquire().await.unwrap();
    let queued = indexer_store::write::enqueue_messages(
        &mut conn,
        &[indexer_store::write::OutboxMessage {
            topic: Topic::ToWebsocketsMarkets.base_name().to_string(),
            partition_key: None,
            payload: vec![1],
            headers: vec![],
            channel: None,
        }],
    )
    .await
    .unwrap();
    assert_eq!(queued, 0);
    drop(conn);
    assert!(outbox(&env).await.is_empty());
    env.cleanup().await;
}
