//! Instrumentation and housekeeping jobs on real Postgres and Redis; metrics read back from the
//! Prometheus recorder of this test process.

mod common;

use std::sync::OnceLock;

use chrono::{TimeDelta, Utc};
use common::*;
use indexer_cache::BookSide;
use roundtable::jobs::delete_old_firebase_notification_tokens::DeleteOldFirebaseNotificationTokens;
use roundtable::jobs::orderbook_instrumentation::OrderbookInstrumentation;
use roundtable::jobs::pnl_instrumentation::PnlInstrumentation;
use roundtable::scheduler::Job;

fn prometheus() -> &'static metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: OnceLock<metrics_exporter_prometheus::PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = indexer_base::telemetry::metrics_recorder().unwrap();
        let handle = recorder.handle();
        metrics::set_global_recorder(recorder).unwrap();
        handle
    })
}

/// The value of the series whose line starts with `series` (name and labels).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series))
        .and_then(|rest| rest.trim().parse().ok())
}

#[tokio::test]
async fn a_crossed_book_shows_a_negative_raw_spread_and_a_positive_served_one() {
    let prometheus = prometheus();
    let env = TestEnv::new().await;
    env.write(genesis(Utc::now() - TimeDelta::days(1))).await;
    rest_order(&env.cache, ALICE, 1, BookSide::Buy, 1_000_000, "50100", 500).await;
    rest_order(&env.cache, ALICE, 2, BookSide::Buy, 1_000_000, "49900", 500).await;
    rest_order(&env.cache, BOB, 1, BookSide::Sell, 1_000_000, "50000", 500).await;
    rest_order(&env.cache, BOB, 2, BookSide::Sell, 1_000_000, "50200", 500).await;

    OrderbookInstrumentation::new(env.deps.clone())
        .run(&ctx())
        .await
        .unwrap();

    let text = prometheus.render();
    let series = |name: &str, labels: &str| value(&text, &format!("{name}{{{labels}}} "));
    // Labels render in the order the job sets them.
    assert_eq!(
        series(
            "roundtable_orderbook_spread",
            r#"ticker="BTC-USD",view="raw""#
        ),
        Some(-100.0),
        "{text}"
    );
    assert_eq!(
        series(
            "roundtable_orderbook_levels",
            r#"ticker="BTC-USD",view="raw",side="bid""#
        ),
        Some(2.0)
    );
    // Served: the crossing levels (equal age and size: the bid goes) are dropped at read time.
    let served = series(
        "roundtable_orderbook_spread",
        r#"ticker="BTC-USD",view="uncrossed""#,
    );
    assert!(served.is_some_and(|s| s > 0.0), "{served:?}");
    env.cleanup().await;
}

#[tokio::test]
async fn subaccounts_without_recent_ticks_are_counted() {
    let prometheus = prometheus();
    let env = TestEnv::new().await;
    let t = Utc::now() - TimeDelta::hours(5);
    env.write(genesis(t)).await;
    let mut w = block(2, t);
    let (alice_event, alice_row) = event(2, 0, 0);
    let (bob_event, bob_row) = event(2, 1, 0);
    w.tendermint_events = vec![alice_row, bob_row];
    w.wallets = vec![wallet(ALICE), wallet(BOB)];
    w.subaccounts = vec![subaccount(ALICE, 0, 2, t), subaccount(BOB, 0, 2, t)];
    w.transfers = vec![
        deposit(ALICE, "10", &alice_event, 2, t),
        deposit(BOB, "10", &bob_event, 2, t),
    ];
    env.write(w).await;
    // Alice had a tick three hours ago; Bob never had one.
    let tick = indexer_store::roundtable::pnl_ticks::PnlTickRow {
        id: uuid::Uuid::new_v4(),
        subaccount_id: indexer_domain::ids::subaccount_uuid(ALICE, 0),
        equity: dec("10"),
        total_pnl: dec("0"),
        net_transfers: dec("10"),
        created_at: Utc::now() - TimeDelta::hours(3),
        block_height: 2,
        block_time: Utc::now() - TimeDelta::hours(3),
    };
    let mut conn = env.pool().acquire().await.unwrap();
    indexer_store::roundtable::pnl_ticks::insert_pnl_ticks(&mut conn, std::slice::from_ref(&tick))
        .await
        .unwrap();
    drop(conn);

    PnlInstrumentation::new(env.deps.clone())
        .run(&ctx())
        .await
        .unwrap();

    let text = prometheus.render();
    assert_eq!(
        value(
            &text,
            r#"roundtable_pnl_stale_subaccounts{prior_pnl="true"} "#
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            r#"roundtable_pnl_stale_subaccounts{prior_pnl="false"} "#
        ),
        Some(1.0)
    );
    env.cleanup().await;
}

#[tokio::test]
async fn notification_tokens_unused_for_a_month_are_deleted() {
    let env = TestEnv::new().await;
    let mut w = genesis(Utc::now());
    w.wallets = vec![wallet(ALICE)];
    env.write(w).await;
    for (token, age) in [("old-token", "40 days"), ("new-token", "2 days")] {
        sqlx::query(
            r#"INSERT INTO firebase_notification_tokens (token, address, language, "updatedAt")
               VALUES ($1, $2, 'en', now() - $3::interval)"#,
        )
        .bind(token)
        .bind(ALICE)
        .bind(age)
        .execute(env.pool())
        .await
        .unwrap();
    }

    DeleteOldFirebaseNotificationTokens::new(env.deps.clone())
        .run(&ctx())
        .await
        .unwrap();

    let left: Vec<String> = sqlx::query_scalar("SELECT token FROM firebase_notification_tokens")
        .fetch_all(env.pool())
        .await
        .unwrap();
    assert_eq!(left, vec!["new-token"]);
    env.cleanup().await;
}
