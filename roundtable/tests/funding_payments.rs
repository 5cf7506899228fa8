//! update_funding_payments on real Postgres with fills and funding ticks written through
//! ender's write path.

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use common::*;
use indexer_domain::ids::subaccount_uuid;
use indexer_store::write::BlockWrite;
use roundtable::jobs::update_funding_payments::UpdateFundingPayments;
use roundtable::scheduler::Job;

/// A block with a taker and a maker fill of `size` in `clob_pair_id` between `buyer` and
/// `seller`.
fn trade(height: i64, time: DateTime<Utc>, trades: &[(&str, &str, i64, &str)]) -> BlockWrite {
    let mut w = block(height, time);
    for (i, (buyer, seller, clob, size)) in trades.iter().enumerate() {
        let (taker, taker_row) = event(height, i as i32, 0);
        let (maker, maker_row) = event(height, i as i32, 1);
        w.tendermint_events.extend([taker_row, maker_row]);
        w.fills.push(fill(
            buyer, &taker, "TAKER", "BUY", *clob, size, "100", height, time,
        ));
        w.fills.push(fill(
            seller, &maker, "MAKER", "SELL", *clob, size, "100", height, time,
        ));
    }
    w
}

fn funding_tick(height: i64, time: DateTime<Utc>, indices: &[(i64, &str)]) -> BlockWrite {
    let mut w = block(height, time);
    for (i, (perpetual, index)) in indices.iter().enumerate() {
        let (id, row) = event(height, -1, i as u32);
        w.tendermint_events.push(row);
        w.funding_index_updates
            .push(funding_index(*perpetual, index, &id, height, time));
    }
    w
}

type Payment = (String, i64, i64, String, String, String);

async fn payments(env: &TestEnv) -> Vec<Payment> {
    let rows: Vec<(uuid::Uuid, i64, i64, String, String, String)> = sqlx::query_as(
        r#"SELECT "subaccountId", "createdAtHeight", "perpetualId", size::text, side,
                  payment::text
           FROM funding_payments ORDER BY "createdAtHeight", "perpetualId", side"#,
    )
    .fetch_all(env.pool())
    .await
    .unwrap();
    let name = |id: uuid::Uuid| {
        if id == subaccount_uuid(ALICE, 0) {
            "alice"
        } else {
            "bob"
        }
    };
    let trim = |text: String| {
        text.parse::<bigdecimal::BigDecimal>()
            .unwrap()
            .normalized()
            .to_string()
    };
    rows.into_iter()
        .map(|(id, h, p, size, side, pay)| {
            (name(id).to_string(), h, p, trim(size), side, trim(pay))
        })
        .collect()
}

fn p(who: &str, height: i64, perpetual: i64, size: &str, side: &str, payment: &str) -> Payment {
    (
        who.into(),
        height,
        perpetual,
        size.into(),
        side.into(),
        payment.into(),
    )
}

async fn marker(env: &TestEnv) -> Option<String> {
    sqlx::query_scalar(
        "SELECT value FROM persistent_cache WHERE key = 'fundingPaymentsLastProcessedHeight'",
    )
    .fetch_optional(env.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn every_open_position_pays_the_index_change_at_each_funding_tick() {
    let env = TestEnv::new().await;
    let t = Utc::now() - TimeDelta::hours(5);
    env.write(genesis(t)).await;
    let mut opening = trade(
        2,
        t + minutes(1),
        &[(ALICE, BOB, 0, "1"), (ALICE, BOB, 1, "10")],
    );
    opening.subaccounts = vec![subaccount(ALICE, 0, 2, t), subaccount(BOB, 0, 2, t)];
    env.write(opening).await;
    env.write(funding_tick(
        3,
        t + TimeDelta::hours(1),
        &[(0, "5"), (1, "2")],
    ))
    .await;
    env.write(trade(4, t + minutes(70), &[(BOB, ALICE, 0, "0.4")]))
        .await;
    env.write(funding_tick(
        5,
        t + TimeDelta::hours(2),
        &[(0, "8"), (1, "2.5")],
    ))
    .await;
    // Bob buys back all his ETH: both ETH positions close.
    env.write(trade(6, t + minutes(130), &[(BOB, ALICE, 1, "10")]))
        .await;
    env.write(funding_tick(
        7,
        t + TimeDelta::hours(3),
        &[(0, "9"), (1, "3")],
    ))
    .await;

    // One funding height per run.
    let job = UpdateFundingPayments::new(env.deps.clone(), 1);
    job.run(&ctx()).await.unwrap();
    assert_eq!(marker(&env).await.as_deref(), Some("3"));
    assert_eq!(
        payments(&env).await,
        vec![
            p("alice", 3, 0, "1", "LONG", "-5"),
            p("bob", 3, 0, "-1", "SHORT", "5"),
            p("alice", 3, 1, "10", "LONG", "-20"),
            p("bob", 3, 1, "-10", "SHORT", "20"),
        ]
    );

    job.run(&ctx()).await.unwrap();
    job.run(&ctx()).await.unwrap();
    job.run(&ctx()).await.unwrap();
    assert_eq!(marker(&env).await.as_deref(), Some("7"));
    let all = payments(&env).await;
    assert_eq!(
        all[4..].to_vec(),
        vec![
            // Height 5: BTC positions 0.6 / −0.6 (index +3), ETH 10 / −10 (index +0.5).
            p("alice", 5, 0, "0.6", "LONG", "-1.8"),
            p("bob", 5, 0, "-0.6", "SHORT", "1.8"),
            p("alice", 5, 1, "10", "LONG", "-5"),
            p("bob", 5, 1, "-10", "SHORT", "5"),
            // Height 7: only BTC is still open (index +1).
            p("alice", 7, 0, "0.6", "LONG", "-0.6"),
            p("bob", 7, 0, "-0.6", "SHORT", "0.6"),
        ]
    );
    env.cleanup().await;
}
