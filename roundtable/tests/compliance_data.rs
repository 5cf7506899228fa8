//! update_compliance_data on real Postgres with the blocklist provider.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use common::*;
use roundtable::jobs::update_compliance_data::{
    Blocklist, ScreeningSettings, UpdateComplianceData,
};
use roundtable::scheduler::Job;

const CAROL: &str = "dydx1carol";
const DAVE: &str = "dydx1dave";

fn settings() -> ScreeningSettings {
    ScreeningSettings {
        active_within: Duration::from_secs(86_400),
        max_age: Duration::from_secs(30 * 86_400),
        max_active_age: Duration::from_secs(86_400),
        max_per_run: 100,
        batch_size: 1,
        batch_delay: Duration::from_millis(1),
    }
}

#[tokio::test]
async fn blocked_addresses_become_close_only_and_screenings_are_stored() {
    let env = TestEnv::new().await;
    let now = Utc::now();
    env.write(genesis(now - TimeDelta::days(20))).await;
    let mut w = block(2, now - TimeDelta::hours(1));
    w.wallets = vec![wallet(ALICE), wallet(BOB), wallet(CAROL), wallet(DAVE)];
    w.subaccounts = vec![
        subaccount(ALICE, 0, 2, now - TimeDelta::hours(1)),
        subaccount(BOB, 0, 2, now - TimeDelta::hours(1)),
        subaccount(CAROL, 0, 2, now - TimeDelta::hours(1)),
        // Inactive for ten days, screened clean 40 days ago.
        subaccount(DAVE, 0, 2, now - TimeDelta::days(10)),
    ];
    env.write(w).await;
    sqlx::query(
        r#"INSERT INTO compliance_data (address, provider, blocked, "updatedAt")
           VALUES ($1, 'ELLIPTIC', false, now() - interval '40 days')"#,
    )
    .bind(DAVE)
    .execute(env.pool())
    .await
    .unwrap();
    sqlx::query(
        r#"INSERT INTO compliance_status (address, status, reason) VALUES ($1, 'CLOSE_ONLY', 'MANUAL')"#,
    )
    .bind(CAROL)
    .execute(env.pool())
    .await
    .unwrap();
    let blocklist = Blocklist(HashSet::from([
        ALICE.to_string(),
        CAROL.to_string(),
        DAVE.to_string(),
    ]));
    let job = UpdateComplianceData::new(env.deps.clone(), Arc::new(blocklist), settings());

    job.run(&ctx()).await.unwrap();

    let data: Vec<(String, bool, bool)> = sqlx::query_as(
        r#"SELECT address, blocked, "updatedAt" > now() - interval '1 hour'
           FROM compliance_data ORDER BY address"#,
    )
    .fetch_all(env.pool())
    .await
    .unwrap();
    assert_eq!(
        data,
        vec![
            (ALICE.to_string(), true, true),
            (BOB.to_string(), false, true),
            (DAVE.to_string(), true, true),
        ],
        "Carol is already close-only and is not screened"
    );
    let statuses: Vec<(String, String, String)> =
        sqlx::query_as("SELECT address, status, reason FROM compliance_status ORDER BY address")
            .fetch_all(env.pool())
            .await
            .unwrap();
    let status = |a: &str, s: &str, r: &str| (a.to_string(), s.to_string(), r.to_string());
    assert_eq!(
        statuses,
        vec![
            status(ALICE, "CLOSE_ONLY", "COMPLIANCE_PROVIDER"),
            status(CAROL, "CLOSE_ONLY", "MANUAL"),
            status(DAVE, "CLOSE_ONLY", "COMPLIANCE_PROVIDER"),
        ]
    );

    // Everyone was screened just now: the next run asks the provider about nobody.
    let before: Vec<(String, chrono::DateTime<Utc>)> =
        sqlx::query_as(r#"SELECT address, "updatedAt" FROM compliance_data ORDER BY address"#)
            .fetch_all(env.pool())
            .await
            .unwrap();
    job.run(&ctx()).await.unwrap();
    let after: Vec<(String, chrono::DateTime<Utc>)> =
        sqlx::query_as(r#"SELECT address, "updatedAt" FROM compliance_data ORDER BY address"#)
            .fetch_all(env.pool())
            .await
            .unwrap();
    assert_eq!(before, after);
    env.cleanup().await;
}
