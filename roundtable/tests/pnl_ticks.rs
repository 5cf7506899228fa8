//! create_pnl_ticks on real Postgres and Redis, with balances, positions, prices, funding and
//! transfers written through ender's write path.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use common::*;
use indexer_domain::ids::subaccount_uuid;
use roundtable::jobs::create_pnl_ticks::{CachedTick, CreatePnlTicks, PnlTickSettings};
use roundtable::scheduler::Job;

fn settings(max_accounts_per_run: usize) -> PnlTickSettings {
    PnlTickSettings {
        interval: Duration::from_secs(3600),
        max_rows_per_insert: 1,
        max_accounts_per_run,
    }
}

/// Block 2: Alice deposits 10 000 and buys 0.5 BTC at 50 000. Block 3: BTC at 52 000, a
/// funding tick (index 10) and Bob deposits 500. Carol never transfers.
async fn seed(env: &TestEnv) -> chrono::DateTime<Utc> {
    let t0 = Utc::now() - TimeDelta::hours(3);
    env.write(genesis(t0)).await;
    let t2 = t0 + minutes(1);
    let mut w = block(2, t2);
    let (deposit_event, deposit_row) = event(2, 0, 0);
    let (trade_event, trade_row) = event(2, 1, 0);
    w.tendermint_events = vec![deposit_row, trade_row];
    w.wallets = vec![wallet(ALICE), wallet(BOB), wallet("dydx1carol")];
    w.subaccounts = vec![
        subaccount(ALICE, 0, 2, t2),
        subaccount("dydx1carol", 0, 2, t2),
    ];
    w.transfers = vec![deposit(ALICE, "10000", &deposit_event, 2, t2)];
    w.asset_positions = vec![usdc(ALICE, "-15000")];
    w.perpetual_positions = vec![position(ALICE, 0, "0.5", &trade_event, 2, t2)];
    env.write(w).await;

    let t3 = t0 + minutes(2);
    let mut w = block(3, t3);
    let (funding_event, funding_row) = event(3, -1, 0);
    let (bob_event, bob_row) = event(3, 0, 0);
    w.tendermint_events = vec![funding_row, bob_row];
    w.oracle_prices = vec![oracle_price(0, "52000", 3, t3)];
    w.funding_index_updates = vec![funding_index(0, "10", &funding_event, 3, t3)];
    w.subaccounts = vec![subaccount(BOB, 0, 3, t3)];
    w.transfers = vec![deposit(BOB, "500", &bob_event, 3, t3)];
    w.asset_positions = vec![usdc(BOB, "500")];
    env.write(w).await;
    t0
}

type Tick = (String, String, String, i64);

async fn ticks_of(env: &TestEnv, owner: &str) -> Vec<Tick> {
    sqlx::query_as(
        r#"SELECT equity::text, "totalPnl"::text, "netTransfers"::text, "blockHeight"
           FROM pnl_ticks WHERE "subaccountId" = $1 ORDER BY "blockHeight""#,
    )
    .bind(subaccount_uuid(owner, 0))
    .fetch_all(env.pool())
    .await
    .unwrap()
}

fn tick(equity: &str, pnl: &str, net: &str, height: i64) -> Tick {
    (equity.into(), pnl.into(), net.into(), height)
}

#[tokio::test]
async fn hourly_ticks_hold_equity_pnl_and_transfers_since_the_previous_tick() {
    let env = TestEnv::new().await;
    let t0 = seed(&env).await;
    let job = CreatePnlTicks::new(env.deps.clone(), settings(65_000));

    job.run(&ctx()).await.unwrap();
    // Alice: −15 000 + 0.5 × 52 000 + 0.5 × (0 − 10) unsettled funding = 10 995.
    assert_eq!(
        ticks_of(&env, ALICE).await,
        vec![tick("10995.000000", "995.000000", "10000.000000", 3)]
    );
    assert_eq!(
        ticks_of(&env, BOB).await,
        vec![tick("500.000000", "0.000000", "500.000000", 3)]
    );
    assert!(
        ticks_of(&env, "dydx1carol").await.is_empty(),
        "no transfers, no tick"
    );

    // Same hour: nothing is due.
    job.run(&ctx()).await.unwrap();
    assert_eq!(ticks_of(&env, ALICE).await.len(), 1);

    // The next hour: Bob deposits 50 more.
    let t4 = t0 + TimeDelta::hours(2);
    let mut w = block(4, t4);
    let (event_id, event_row) = event(4, 0, 0);
    w.tendermint_events = vec![event_row];
    w.transfers = vec![deposit(BOB, "50", &event_id, 4, t4)];
    w.asset_positions = vec![usdc(BOB, "550")];
    w.subaccounts = vec![subaccount(BOB, 0, 4, t4)];
    env.write(w).await;
    job.run(&ctx()).await.unwrap();

    assert_eq!(
        ticks_of(&env, BOB).await,
        vec![
            tick("500.000000", "0.000000", "500.000000", 3),
            tick("550.000000", "0.000000", "50.000000", 4),
        ]
    );
    assert_eq!(
        ticks_of(&env, ALICE).await[1],
        tick("10995.000000", "995.000000", "0.000000", 4)
    );

    // The cache holds each account's newest tick.
    let cached: HashMap<String, String> = redis::cmd("HGETALL")
        .arg(env.cache.keys().latest_accounts_pnl_tick())
        .query_async(&mut env.cache.conn())
        .await
        .unwrap();
    let bob: CachedTick =
        serde_json::from_str(&cached[&subaccount_uuid(BOB, 0).to_string()]).unwrap();
    assert_eq!(
        (bob.equity.as_str(), bob.block_height.as_str()),
        ("550.000000", "4")
    );
    env.cleanup().await;
}

#[tokio::test]
async fn a_capped_run_is_continued_by_the_next_one_and_a_cold_cache_is_rebuilt() {
    let env = TestEnv::new().await;
    seed(&env).await;
    let job = CreatePnlTicks::new(env.deps.clone(), settings(1));

    job.run(&ctx()).await.unwrap();
    let first = ticks_of(&env, ALICE).await.len() + ticks_of(&env, BOB).await.len();
    assert_eq!(first, 1, "one account per run");

    // Redis is wiped (a restart with a fresh cache): the last ticks come from Postgres.
    env.cache.clear().await.unwrap();
    job.run(&ctx()).await.unwrap();
    assert_eq!(ticks_of(&env, ALICE).await.len(), 1);
    assert_eq!(ticks_of(&env, BOB).await.len(), 1);

    // Everyone has this hour's tick: a further run adds nothing.
    job.run(&ctx()).await.unwrap();
    assert_eq!(
        ticks_of(&env, ALICE).await.len() + ticks_of(&env, BOB).await.len(),
        2
    );
    env.cleanup().await;
}
