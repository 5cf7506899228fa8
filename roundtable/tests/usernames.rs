//! subaccount_username_generator on real Postgres.

mod common;

use chrono::Utc;
use common::*;
use indexer_domain::ids::subaccount_uuid;
use roundtable::jobs::subaccount_username_generator::{
    username, SubaccountUsernameGenerator, UsernameSettings,
};
use roundtable::scheduler::Job;

const CAROL: &str = "dydx1carol";

#[tokio::test]
async fn every_first_subaccount_gets_a_unique_username_retrying_taken_ones() {
    let env = TestEnv::new().await;
    let t = Utc::now();
    let mut w = genesis(t);
    w.subaccounts = vec![
        subaccount(ALICE, 0, 1, t),
        subaccount(ALICE, 1, 1, t),
        subaccount(BOB, 0, 1, t),
        subaccount(CAROL, 0, 1, t),
    ];
    env.write(w).await;
    // Carol already holds the name Alice would get first.
    let taken = username(ALICE, 0, 3);
    sqlx::query(r#"INSERT INTO subaccount_usernames (username, "subaccountId") VALUES ($1, $2)"#)
        .bind(&taken)
        .bind(subaccount_uuid(CAROL, 0))
        .execute(env.pool())
        .await
        .unwrap();
    let job = SubaccountUsernameGenerator::new(
        env.deps.clone(),
        UsernameSettings {
            batch_size: 2000,
            suffix_len: 3,
            attempts: 3,
        },
    );

    job.run(&ctx()).await.unwrap();
    job.run(&ctx()).await.unwrap();

    let names: Vec<(uuid::Uuid, String)> =
        sqlx::query_as(r#"SELECT "subaccountId", username FROM subaccount_usernames"#)
            .fetch_all(env.pool())
            .await
            .unwrap();
    let name_of = |owner: &str, number: u32| {
        names
            .iter()
            .find(|(id, _)| *id == subaccount_uuid(owner, number))
            .map(|(_, name)| name.clone())
    };
    assert_eq!(names.len(), 3, "{names:?}");
    assert_eq!(
        name_of(ALICE, 0),
        Some(username(ALICE, 1, 3)),
        "retried with the next nonce"
    );
    assert_eq!(name_of(BOB, 0), Some(username(BOB, 0, 3)));
    assert_eq!(name_of(CAROL, 0), Some(taken), "existing names are kept");
    assert_eq!(name_of(ALICE, 1), None, "only subaccount 0 gets a name");
    env.cleanup().await;
}
