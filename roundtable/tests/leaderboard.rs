//! create_leaderboard_pnl_* on real Postgres, from PnL ticks as create_pnl_ticks writes them.

mod common;

use chrono::{DurationRound, TimeDelta, Utc};
use common::*;
use indexer_domain::ids::subaccount_uuid;
use indexer_domain::vault::clob_vault_address;
use indexer_store::roundtable::pnl_ticks::{insert_pnl_ticks, PnlTickRow};
use roundtable::jobs::leaderboard::{CreateLeaderboard, TimeSpan};
use roundtable::scheduler::Job;

fn tick(owner: &str, number: u32, days_ago: i64, total_pnl: &str, equity: &str) -> PnlTickRow {
    let today = Utc::now().duration_trunc(TimeDelta::days(1)).unwrap();
    let created_at = today - TimeDelta::days(days_ago) + TimeDelta::seconds(1);
    PnlTickRow {
        id: uuid::Uuid::new_v4(),
        subaccount_id: subaccount_uuid(owner, number),
        equity: dec(equity),
        total_pnl: dec(total_pnl),
        net_transfers: dec("0"),
        created_at,
        block_height: 2,
        block_time: created_at,
    }
}

async fn board(env: &TestEnv, span: &str) -> Vec<(String, String, String, i32)> {
    let rows: Vec<(String, String, String, i32)> = sqlx::query_as(
        r#"SELECT address, pnl::text, "currentEquity"::text, rank FROM leaderboard_pnl
           WHERE "timeSpan" = $1 ORDER BY rank"#,
    )
    .bind(span)
    .fetch_all(env.pool())
    .await
    .unwrap();
    let trim = |t: String| {
        t.parse::<bigdecimal::BigDecimal>()
            .unwrap()
            .normalized()
            .to_string()
    };
    rows.into_iter()
        .map(|(a, p, e, r)| (a, trim(p), trim(e), r))
        .collect()
}

fn row(address: &str, pnl: &str, equity: &str, rank: i32) -> (String, String, String, i32) {
    (address.into(), pnl.into(), equity.into(), rank)
}

#[tokio::test]
async fn addresses_are_ranked_by_pnl_over_each_span_from_parent_subaccounts() {
    let env = TestEnv::new().await;
    let t = Utc::now() - TimeDelta::days(20);
    env.write(genesis(t)).await;
    let vault = clob_vault_address(0);
    let mut w = block(2, t + minutes(1));
    w.wallets = vec![wallet(ALICE), wallet(BOB), wallet(&vault)];
    w.subaccounts = vec![
        subaccount(ALICE, 0, 2, t),
        subaccount(ALICE, 128, 2, t),
        subaccount(ALICE, 1, 2, t),
        subaccount(BOB, 0, 2, t),
        subaccount(&vault, 0, 2, t),
    ];
    env.write(w).await;
    let ticks = [
        tick(ALICE, 0, 10, "100", "900"),
        tick(ALICE, 0, 0, "300", "1000"),
        tick(ALICE, 128, 0, "50", "200"),
        tick(ALICE, 1, 0, "9999", "9999"), // not a parent subaccount
        tick(BOB, 0, 3, "-50", "100"),
        tick(BOB, 0, 0, "400", "500"),
        tick(&vault, 0, 0, "1000000", "1000000"), // vaults are not ranked
    ];
    let mut conn = env.pool().acquire().await.unwrap();
    insert_pnl_ticks(&mut conn, &ticks).await.unwrap();
    // A stale entry from an earlier ranking.
    sqlx::query(
        r#"INSERT INTO leaderboard_pnl (address, "timeSpan", pnl, "currentEquity", rank)
           VALUES ($1, 'SEVEN_DAYS', 5, 5, 1)"#,
    )
    .bind(&vault)
    .execute(&mut *conn)
    .await
    .unwrap();
    drop(conn);

    for span in [TimeSpan::AllTime, TimeSpan::OneDay, TimeSpan::SevenDays] {
        CreateLeaderboard::new(env.deps.clone(), span, 1)
            .run(&ctx())
            .await
            .unwrap();
    }

    assert_eq!(
        board(&env, "ALL_TIME").await,
        vec![row(BOB, "400", "500", 1), row(ALICE, "350", "1200", 2)]
    );
    // Since yesterday: Alice 300 − 100 + 50, Bob 400 − (−50).
    assert_eq!(
        board(&env, "ONE_DAY").await,
        vec![row(BOB, "450", "500", 1), row(ALICE, "250", "1200", 2)]
    );
    // Seven days: Bob has no tick that old; his whole total counts.
    assert_eq!(
        board(&env, "SEVEN_DAYS").await,
        vec![row(BOB, "400", "500", 1), row(ALICE, "250", "1200", 2)],
        "the stale vault entry is gone"
    );
    env.cleanup().await;
}

#[tokio::test]
async fn a_span_is_ranked_again_only_after_new_ticks() {
    let env = TestEnv::new().await;
    let t = Utc::now() - TimeDelta::days(2);
    env.write(genesis(t)).await;
    let mut w = block(2, t + minutes(1));
    w.wallets = vec![wallet(ALICE)];
    w.subaccounts = vec![subaccount(ALICE, 0, 2, t)];
    env.write(w).await;
    let mut conn = env.pool().acquire().await.unwrap();
    insert_pnl_ticks(&mut conn, &[tick(ALICE, 0, 0, "10", "10")])
        .await
        .unwrap();
    drop(conn);
    let job = CreateLeaderboard::new(env.deps.clone(), TimeSpan::AllTime, 1000);
    job.run(&ctx()).await.unwrap();
    assert_eq!(
        board(&env, "ALL_TIME").await,
        vec![row(ALICE, "10", "10", 1)]
    );

    // Someone edits the table; without new ticks the job leaves it alone.
    sqlx::query(r#"UPDATE leaderboard_pnl SET pnl = 11"#)
        .execute(env.pool())
        .await
        .unwrap();
    job.run(&ctx()).await.unwrap();
    assert_eq!(
        board(&env, "ALL_TIME").await,
        vec![row(ALICE, "11", "10", 1)]
    );
    env.cleanup().await;
}
