//! update_pnl on real Postgres, after update_funding_payments, with fills, transfers and funding
//! ticks written through ender's write path.

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use common::*;
use indexer_domain::ids::subaccount_uuid;
use indexer_store::write::{BlockWrite, FundingIndexUpdateRow, TransferRow};
use roundtable::jobs::update_funding_payments::UpdateFundingPayments;
use roundtable::jobs::update_pnl::UpdatePnl;
use roundtable::scheduler::Job;

fn funding_tick(height: i64, time: DateTime<Utc>, index: &str, price: &str) -> BlockWrite {
    let mut w = block(height, time);
    let (id, row) = event(height, -1, 0);
    w.tendermint_events.push(row);
    w.funding_index_updates.push(FundingIndexUpdateRow {
        id: uuid::Uuid::new_v4(),
        perpetual_id: 0,
        event_id: id,
        rate: dec("0.0001"),
        oracle_price: dec(price),
        funding_index: dec(index),
        effective_at: time,
        effective_at_height: height,
    });
    w
}

async fn pnl_of(env: &TestEnv, owner: &str) -> Vec<(i64, String, String, String)> {
    let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
        r#"SELECT "createdAtHeight", "totalPnl"::text, "netTransfers"::text, equity::text
           FROM pnl WHERE "subaccountId" = $1 ORDER BY "createdAtHeight""#,
    )
    .bind(subaccount_uuid(owner, 0))
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
        .map(|(h, p, n, e)| (h, trim(p), trim(n), trim(e)))
        .collect()
}

fn row(height: i64, pnl: &str, net: &str, equity: &str) -> (i64, String, String, String) {
    (height, pnl.into(), net.into(), equity.into())
}

#[tokio::test]
async fn pnl_follows_funding_position_value_trades_and_transfers() {
    let env = TestEnv::new().await;
    let t = Utc::now() - TimeDelta::hours(5);
    env.write(genesis(t)).await;
    let mut w = block(2, t + minutes(1));
    let events: Vec<_> = (0..4).map(|i| event(2, i, 0)).collect();
    w.tendermint_events = events.iter().map(|(_, r)| r.clone()).collect();
    w.wallets = vec![wallet(ALICE), wallet(BOB)];
    w.subaccounts = vec![subaccount(ALICE, 0, 2, t), subaccount(BOB, 0, 2, t)];
    w.transfers = vec![
        deposit(ALICE, "1000", &events[0].0, 2, t),
        deposit(BOB, "1000", &events[1].0, 2, t),
    ];
    let mut buy = fill(ALICE, &events[2].0, "TAKER", "BUY", 0, "1", "100", 2, t);
    buy.fee = "0.1".into();
    let mut sell = fill(BOB, &events[3].0, "MAKER", "SELL", 0, "1", "100", 2, t);
    sell.fee = "0.05".into();
    w.fills = vec![buy, sell];
    env.write(w).await;
    env.write(funding_tick(3, t + TimeDelta::hours(1), "5", "110"))
        .await;
    // Alice withdraws 100 to her wallet.
    let mut w = block(4, t + minutes(70));
    let (withdraw_event, withdraw_row) = event(4, 0, 0);
    w.tendermint_events = vec![withdraw_row];
    w.transfers = vec![TransferRow {
        id: uuid::Uuid::new_v4(),
        sender_subaccount_id: Some(subaccount_uuid(ALICE, 0)),
        recipient_subaccount_id: None,
        sender_wallet_address: None,
        recipient_wallet_address: Some(ALICE.into()),
        asset_id: "0".into(),
        size: dec("100"),
        event_id: withdraw_event,
        transaction_hash: "HASH".into(),
        created_at: t + minutes(70),
        created_at_height: 4,
    }];
    env.write(w).await;
    env.write(funding_tick(5, t + TimeDelta::hours(2), "8", "120"))
        .await;

    UpdateFundingPayments::new(env.deps.clone(), 100)
        .run(&ctx())
        .await
        .unwrap();
    let pnl = UpdatePnl::new(env.deps.clone(), 100);
    pnl.run(&ctx()).await.unwrap();

    // Height 3: Alice −5 funding + 110 position − 100.1 paid; Bob +5 − 110 + 99.95.
    // Height 5: Alice −3 funding + 10 position change, 100 withdrawn; Bob +3 − 10.
    assert_eq!(
        pnl_of(&env, ALICE).await,
        vec![
            row(3, "4.9", "1000", "1004.9"),
            row(5, "11.9", "900", "911.9")
        ]
    );
    assert_eq!(
        pnl_of(&env, BOB).await,
        vec![
            row(3, "-5.05", "1000", "994.95"),
            row(5, "-12.05", "1000", "987.95")
        ]
    );

    // Nothing new: a further run writes nothing.
    pnl.run(&ctx()).await.unwrap();
    assert_eq!(pnl_of(&env, ALICE).await.len(), 2);
    env.cleanup().await;
}
