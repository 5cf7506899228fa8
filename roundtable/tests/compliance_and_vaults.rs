//! update_compliance_status and refresh_vault_pnl on real Postgres.

mod common;

use std::time::Duration;

use chrono::{DurationRound, TimeDelta, Utc};
use common::*;
use indexer_domain::ids::subaccount_uuid;
use indexer_store::roundtable::pnl_ticks::{insert_pnl_ticks, PnlTickRow};
use indexer_store::write::VaultRow;
use roundtable::jobs::refresh_vault_pnl::RefreshVaultPnl;
use roundtable::jobs::update_compliance_status::UpdateComplianceStatus;
use roundtable::scheduler::{Job, RunContext};

const SEVEN_DAYS: Duration = Duration::from_secs(7 * 86_400);

#[tokio::test]
async fn close_only_addresses_past_the_grace_period_become_blocked() {
    let env = TestEnv::new().await;
    // Statuses as comlink writes them.
    for (address, status, reason, days_ago) in [
        ("dydx1old", "CLOSE_ONLY", Some("COMPLIANCE_PROVIDER"), 8),
        ("dydx1recent", "CLOSE_ONLY", Some("MANUAL"), 2),
        ("dydx1strike", "FIRST_STRIKE", Some("US_GEO"), 30),
    ] {
        sqlx::query(
            r#"INSERT INTO compliance_status (address, status, reason, "createdAt", "updatedAt")
               VALUES ($1, $2, $3, now() - make_interval(days => $4), now() - make_interval(days => $4))"#,
        )
        .bind(address)
        .bind(status)
        .bind(reason)
        .bind(days_ago)
        .execute(env.pool())
        .await
        .unwrap();
    }

    UpdateComplianceStatus::new(env.deps.clone(), SEVEN_DAYS)
        .run(&ctx())
        .await
        .unwrap();

    let statuses: Vec<(String, String, Option<String>, bool)> = sqlx::query_as(
        r#"SELECT address, status, reason, "updatedAt" > now() - interval '1 hour'
           FROM compliance_status ORDER BY address"#,
    )
    .fetch_all(env.pool())
    .await
    .unwrap();
    assert_eq!(
        statuses,
        vec![
            (
                "dydx1old".into(),
                "BLOCKED".into(),
                Some("COMPLIANCE_PROVIDER".into()),
                true
            ),
            (
                "dydx1recent".into(),
                "CLOSE_ONLY".into(),
                Some("MANUAL".into()),
                false
            ),
            (
                "dydx1strike".into(),
                "FIRST_STRIKE".into(),
                Some("US_GEO".into()),
                false
            ),
        ]
    );
    env.cleanup().await;
}

#[tokio::test]
async fn vault_pnl_views_show_new_ticks_after_a_refresh_early_in_the_period() {
    let env = TestEnv::new().await;
    let now = Utc::now();
    let t = now - TimeDelta::hours(2);
    env.write(genesis(t)).await;
    const VAULT: &str = "dydx1vault00000000000000000000000000000000";
    let mut w = block(2, t + minutes(1));
    w.subaccounts = vec![subaccount(VAULT, 0, 2, t)];
    w.vaults = vec![VaultRow {
        address: VAULT.into(),
        clob_pair_id: 0,
        status: "QUOTING".into(),
        created_at: t,
        updated_at: t,
    }];
    env.write(w).await;
    let tick = PnlTickRow {
        id: uuid::Uuid::new_v4(),
        subaccount_id: subaccount_uuid(VAULT, 0),
        equity: dec("1000"),
        total_pnl: dec("10"),
        net_transfers: dec("0"),
        created_at: now - TimeDelta::hours(1),
        block_height: 2,
        block_time: t,
    };
    let mut conn = env.pool().acquire().await.unwrap();
    insert_pnl_ticks(&mut conn, std::slice::from_ref(&tick))
        .await
        .unwrap();
    drop(conn);
    let pool = env.pool().clone();
    let count = |view: &'static str| {
        let pool = pool.clone();
        async move {
            let n: i64 = sqlx::query_scalar(&format!(
                "SELECT count(*) FROM {view} WHERE \"subaccountId\" = $1"
            ))
            .bind(subaccount_uuid(VAULT, 0))
            .fetch_one(&pool)
            .await
            .unwrap();
            n
        }
    };
    assert_eq!(
        (
            count("vaults_hourly_pnl").await,
            count("vaults_daily_pnl").await
        ),
        (0, 0)
    );

    // Late in an hour: nothing is due.
    let job = RefreshVaultPnl::new(env.deps.clone(), Duration::from_secs(15 * 60));
    let hour = now.duration_trunc(TimeDelta::hours(1)).unwrap();
    let run_at = |tick| RunContext {
        tick,
        cancel: Default::default(),
    };
    job.run(&run_at(hour + minutes(40))).await.unwrap();
    assert_eq!(count("vaults_hourly_pnl").await, 0);

    // Just after midnight: both views.
    let midnight = now.duration_trunc(TimeDelta::days(1)).unwrap();
    job.run(&run_at(midnight + minutes(5))).await.unwrap();
    assert_eq!(
        (
            count("vaults_hourly_pnl").await,
            count("vaults_daily_pnl").await
        ),
        (1, 1)
    );
    drop(pool);
    env.cleanup().await;
}
