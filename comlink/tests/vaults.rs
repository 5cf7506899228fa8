//! The vault routes (serve.md §4.5) against a real database and Redis: megavault PnL summed over
//! the vaults and the main subaccount, per-vault PnL, positions, validation, the Redis cache.

mod common;

use chrono::{DateTime, Duration, DurationRound, TimeZone, Utc};
use common::seed::PositionSeed;
use common::{address, Seed, TestApp};
use indexer_query::vaults::MEGAVAULT_SUBACCOUNT_ID;
use indexer_testkit::db::TestDb;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

const MEGAVAULT_ADDRESS: &str = "dydx18tkxrnrkqc2t0lr3zxr5g6a4hdvqksylxqje4r";

fn iso(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Midnight (UTC) of today: the fixtures' ticks sit on the two days before.
fn today() -> DateTime<Utc> {
    Utc::now().duration_trunc(Duration::days(1)).unwrap()
}

/// Blocks 100…103 at recent times (the vault views only keep recent ticks).
fn block_times() -> [(i64, DateTime<Utc>); 4] {
    let d = today();
    [
        (100, d - Duration::days(2) + Duration::minutes(5)),
        (101, d - Duration::days(2) + Duration::minutes(65)),
        (102, d - Duration::days(1) + Duration::minutes(5)),
        (103, d - Duration::days(1) + Duration::minutes(125)),
    ]
}

fn time_of(height: i64) -> DateTime<Utc> {
    block_times()
        .into_iter()
        .find(|(h, _)| *h == height)
        .map(|(_, t)| t)
        .expect("fixture block")
}

async fn insert_block(pool: &PgPool, height: i64, time: DateTime<Utc>) {
    sqlx::query(r#"INSERT INTO blocks ("blockHeight", time) VALUES ($1, $2)"#)
        .bind(height)
        .bind(time)
        .execute(pool)
        .await
        .unwrap();
}

async fn vault(pool: &PgPool, address: &str, clob_pair_id: i64, created_at: DateTime<Utc>) {
    sqlx::query(
        r#"INSERT INTO vaults (address, "clobPairId", status, "createdAt", "updatedAt")
           VALUES ($1, $2, 'QUOTING', $3, $3)"#,
    )
    .bind(address)
    .bind(clob_pair_id)
    .bind(created_at)
    .execute(pool)
    .await
    .unwrap();
}

/// A PnL tick at `height` (created at that block's time unless `created_at` says otherwise).
async fn tick(
    pool: &PgPool,
    subaccount: Uuid,
    height: i64,
    created_at: DateTime<Utc>,
    (equity, total_pnl, net_transfers): (&str, &str, &str),
) {
    sqlx::query(
        r#"INSERT INTO pnl_ticks (id, "subaccountId", equity, "totalPnl", "netTransfers",
               "createdAt", "blockHeight", "blockTime")
           VALUES ($1, $2, $3::numeric, $4::numeric, $5::numeric, $6, $7, $6)"#,
    )
    .bind(Uuid::new_v4())
    .bind(subaccount)
    .bind(equity)
    .bind(total_pnl)
    .bind(net_transfers)
    .bind(created_at)
    .bind(height)
    .execute(pool)
    .await
    .unwrap();
}

async fn refresh_views(pool: &PgPool) {
    for view in ["vaults_hourly_pnl", "vaults_daily_pnl"] {
        sqlx::query(&format!("REFRESH MATERIALIZED VIEW {view}"))
            .execute(pool)
            .await
            .unwrap();
    }
}

/// Vault A trades BTC-USD (created ten days ago: USDC 1000 and 0.01 BTC long at 40000, so
/// equity 1000 + 0.01 × 50000 = 1500; start PnL 10), vault B trades ETH-USD (created yesterday
/// at midnight: USDC 200), and the main megavault subaccount holds USDC 5000.
async fn setup() -> (TestDb, Uuid, Uuid) {
    let db = common::db_with_markets(1..=12).await;
    let pool = db.pool();
    let seed = Seed { pool };
    for (height, time) in block_times() {
        insert_block(pool, height, time).await;
    }
    let d = today();
    let (a_address, b_address) = (address(10), address(11));
    vault(pool, &a_address, 0, d - Duration::days(10)).await;
    vault(pool, &b_address, 1, d - Duration::days(1)).await;
    // A vault on a clob pair no market has is ignored.
    vault(pool, &address(12), 77, d - Duration::days(10)).await;
    let a = seed.subaccount(&a_address, 0, 100).await;
    let b = seed.subaccount(&b_address, 0, 102).await;
    let main = seed.subaccount(MEGAVAULT_ADDRESS, 0, 100).await;
    assert_eq!(main, MEGAVAULT_SUBACCOUNT_ID);
    seed.usdc(a, "1000", true).await;
    seed.usdc(b, "200", true).await;
    seed.usdc(main, "5000", true).await;
    let open = seed.event(100, 0, 0).await;
    seed.position(PositionSeed {
        subaccount: a,
        perpetual_id: 0,
        side: "LONG",
        status: "OPEN",
        size: "0.01",
        entry_price: "40000",
        settled_funding: "0",
        open_event: open.clone(),
        last_event: open,
        created_at_height: 100,
        exit_price: None,
    })
    .await;

    // A's start PnL: its tick at the start date (2024-01-01) plus five minutes.
    let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 5, 0).unwrap();
    tick(pool, a, 1, start, ("500", "10", "490")).await;
    tick(pool, a, 100, time_of(100), ("900", "40", "860")).await;
    tick(pool, a, 101, time_of(101), ("910", "50", "860")).await;
    tick(pool, a, 102, time_of(102), ("950", "90", "860")).await;
    tick(pool, a, 103, time_of(103), ("960", "100", "860")).await;
    tick(pool, b, 102, time_of(102), ("190.5", "-9.5", "200")).await;
    tick(pool, main, 100, time_of(100), ("5000", "0", "5000")).await;
    tick(pool, main, 102, time_of(102), ("5000.25", "0.25", "5000")).await;
    refresh_views(pool).await;
    (db, a, b)
}

fn pnl(equity: &str, total_pnl: &str, net_transfers: &str, height: i64) -> Value {
    pnl_at(equity, total_pnl, net_transfers, height, time_of(height))
}

fn pnl_at(
    equity: &str,
    total_pnl: &str,
    net_transfers: &str,
    height: i64,
    time: DateTime<Utc>,
) -> Value {
    json!({
        "equity": equity, "totalPnl": total_pnl, "netTransfers": net_transfers,
        "createdAt": iso(time), "blockHeight": height.to_string(), "blockTime": iso(time),
    })
}

#[tokio::test]
async fn megavault_pnl_sums_vaults_and_main_subaccount_per_day_and_ends_with_current_equity() {
    let (db, ..) = setup().await;
    let app = TestApp::start(db).await;

    let reply = app.get("/v4/vault/v1/megavault/historicalPnl").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("cache-control"), Some("public, max-age=10"));
    // Day 1: A (40 − start 10) and main; day 2: A (90 − 10), B and main. The current tick is
    // the last one at the latest block with equity 1500 + 200 + 5000.
    assert_eq!(
        reply.body,
        json!({"megavaultPnl": [
            pnl("5900", "30", "5860", 100),
            pnl("6140.75", "70.75", "6060", 102),
            pnl("6700", "70.75", "6060", 103),
        ]})
    );
    let explicit = app
        .get("/v4/vault/v1/megavault/historicalPnl?resolution=day")
        .await;
    assert_eq!(explicit.body, reply.body);
    app.stop().await;
}

#[tokio::test]
async fn hourly_megavault_pnl_drops_hours_where_an_existing_vault_has_no_tick() {
    let (db, ..) = setup().await;
    let app = TestApp::start(db).await;

    let reply = app
        .get("/v4/vault/v1/megavault/historicalPnl?resolution=hour")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // 01:05 two days ago: only A, but B did not exist yet, so the hour stays (without the main
    // subaccount, which has no tick then). Block 103's hour: A only while B exists: dropped.
    assert_eq!(
        reply.body,
        json!({"megavaultPnl": [
            pnl("5900", "30", "5860", 100),
            pnl("910", "40", "860", 101),
            pnl("6140.75", "70.75", "6060", 102),
            pnl("6700", "70.75", "6060", 103),
        ]})
    );
    app.stop().await;
}

#[tokio::test]
async fn vaults_pnl_lists_each_vault_by_ticker_with_its_current_equity() {
    let (db, ..) = setup().await;
    let app = TestApp::start(db).await;

    let reply = app.get("/v4/vault/v1/vaults/historicalPnl").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.body,
        json!({"vaultsPnl": [
            {"ticker": "BTC-USD", "historicalPnl": [
                pnl("900", "30", "860", 100),
                pnl("950", "80", "860", 102),
                pnl("1500", "80", "860", 103),
            ]},
            {"ticker": "ETH-USD", "historicalPnl": [
                pnl("190.5", "-9.5", "200", 102),
                pnl("200", "-9.5", "200", 103),
            ]},
        ]})
    );
    app.stop().await;
}

#[tokio::test]
async fn megavault_positions_show_each_vaults_usdc_position_and_equity() {
    let (db, ..) = setup().await;
    let app = TestApp::start(db).await;

    let reply = app.get("/v4/vault/v1/megavault/positions").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let positions = reply.body["positions"].as_array().unwrap();
    assert_eq!(positions.len(), 2, "{}", reply.body);
    let btc = &positions[0];
    assert_eq!(btc["ticker"], "BTC-USD");
    assert_eq!(btc["equity"], "1500");
    assert_eq!(
        btc["assetPosition"],
        json!({"symbol": "USDC", "side": "LONG", "size": "1000", "assetId": "0", "subaccountNumber": 0})
    );
    let perp = &btc["perpetualPosition"];
    assert_eq!(perp["market"], "BTC-USD");
    assert_eq!(perp["size"], "0.01");
    assert_eq!(perp["unrealizedPnl"], "100");
    let eth = &positions[1];
    assert_eq!(eth["ticker"], "ETH-USD");
    assert_eq!(eth["equity"], "200");
    assert_eq!(eth["assetPosition"]["size"], "200");
    assert!(eth.get("perpetualPosition").is_none(), "{eth}");
    let raw = app.get_text("/v4/vault/v1/megavault/positions").await;
    common::assert_key_order(
        &raw,
        &["ticker", "assetPosition", "perpetualPosition", "equity"],
    );
    app.stop().await;
}

#[tokio::test]
async fn without_vaults_every_route_answers_empty_lists() {
    let db = common::db_with_markets(1..=3).await;
    let app = TestApp::start(db).await;
    for (path, key) in [
        ("/v4/vault/v1/megavault/historicalPnl", "megavaultPnl"),
        (
            "/v4/vault/v1/vaults/historicalPnl?resolution=hour",
            "vaultsPnl",
        ),
        ("/v4/vault/v1/megavault/positions", "positions"),
    ] {
        let reply = app.get(path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        assert_eq!(reply.body, json!({ key: [] }), "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_resolution_is_a_400_naming_the_allowed_values() {
    let db = common::db_with_markets(1..=3).await;
    let app = TestApp::start(db).await;
    for path in [
        "/v4/vault/v1/megavault/historicalPnl?resolution=week",
        "/v4/vault/v1/vaults/historicalPnl?resolution=week",
    ] {
        let reply = app.get(path).await;
        assert_eq!(reply.status, 400);
        assert_eq!(
            reply.body,
            json!({"errors": [{"value": "week", "msg": "type must be one of hour,day",
                               "param": "resolution", "location": "query"}]})
        );
    }
    // Upper case is not accepted either (the reference compares exactly).
    let upper = app
        .get("/v4/vault/v1/megavault/historicalPnl?resolution=DAY")
        .await;
    assert_eq!(upper.status, 400);
    app.stop().await;
}

#[tokio::test]
async fn pnl_answers_come_from_redis_until_a_caller_asks_for_a_newer_height() {
    let (db, a, _) = setup().await;
    let pool = db.pool().clone();
    let app = TestApp::start(db).await;
    let path = "/v4/vault/v1/vaults/historicalPnl";

    let first = app.get(path).await;
    assert_eq!(first.status, 200);
    let keys = app.keys();
    let mut redis = app.redis();
    let cached: Option<String> = redis::cmd("GET")
        .arg(format!("{}v4/vault/vaults_pnl/day", keys.prefix()))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&cached.expect("cached body")).unwrap(),
        first.body
    );

    // New data: the cached answer is served until a caller needs a newer height.
    sqlx::query(r#"UPDATE asset_positions SET size = 2000 WHERE "subaccountId" = $1"#)
        .bind(a)
        .execute(&pool)
        .await
        .unwrap();
    insert_block(&pool, 104, time_of(103) + Duration::minutes(1)).await;
    let cached_reply = app.get(path).await;
    assert_eq!(cached_reply.body, first.body);
    let fresh = app.get(&format!("{path}?minHeight=104")).await;
    assert_eq!(fresh.status, 200, "{}", fresh.body);
    let btc_ticks = fresh.body["vaultsPnl"][0]["historicalPnl"]
        .as_array()
        .unwrap();
    let current = btc_ticks.last().unwrap();
    assert_eq!(current["equity"], "2500");
    assert_eq!(current["blockHeight"], "104");
    // The recomputed answer replaced the cached one.
    assert_eq!(app.get(path).await.body, fresh.body);
    app.stop().await;
}
