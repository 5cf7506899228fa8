//! update_wallet_total_volume and update_affiliate_info on real Postgres.

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use common::*;
use indexer_domain::time::to_iso;
use indexer_store::write::{AffiliateReferredUserRow, FillRow};
use roundtable::jobs::fill_totals::{FillTotal, UpdateFillTotals};
use roundtable::scheduler::Job;

const CAROL: &str = "dydx1carol";

#[allow(clippy::too_many_arguments)]
fn priced_fill(
    owner: &str,
    event_id: &[u8],
    liquidity: &str,
    size: &str,
    fee: &str,
    rev_share: &str,
    height: i64,
    time: DateTime<Utc>,
) -> FillRow {
    let side = if liquidity == "TAKER" { "BUY" } else { "SELL" };
    let mut row = fill(
        owner, event_id, liquidity, side, 0, size, "100", height, time,
    );
    row.fee = fee.into();
    row.affiliate_rev_share = dec(rev_share);
    row
}

/// Bob is referred by Alice at block 2, Carol at block 5 (after her only fill).
async fn seed(env: &TestEnv) -> DateTime<Utc> {
    let t0 = Utc::now() - TimeDelta::days(3);
    env.write(genesis(t0)).await;
    let t2 = t0 + TimeDelta::hours(1);
    let mut w = block(2, t2);
    let (e1, r1) = event(2, 0, 0);
    let (e2, r2) = event(2, 0, 1);
    w.tendermint_events = vec![r1, r2];
    w.wallets = vec![wallet(ALICE), wallet(BOB), wallet(CAROL)];
    w.subaccounts = vec![
        subaccount(ALICE, 0, 2, t2),
        subaccount(BOB, 0, 2, t2),
        subaccount(CAROL, 0, 2, t2),
    ];
    w.affiliate_referred_users = vec![
        AffiliateReferredUserRow {
            referee_address: BOB.into(),
            affiliate_address: ALICE.into(),
            referred_at_block: 2,
        },
        AffiliateReferredUserRow {
            referee_address: CAROL.into(),
            affiliate_address: ALICE.into(),
            referred_at_block: 5,
        },
    ];
    w.fills = vec![
        priced_fill(BOB, &e1, "TAKER", "1", "0.5", "0.1", 2, t2),
        priced_fill(CAROL, &e2, "MAKER", "1", "-0.02", "0", 2, t2),
    ];
    env.write(w).await;
    let t3 = t0 + TimeDelta::hours(30);
    let mut w = block(3, t3);
    let (e1, r1) = event(3, 0, 0);
    let (e2, r2) = event(3, 0, 1);
    w.tendermint_events = vec![r1, r2];
    w.fills = vec![
        priced_fill(ALICE, &e1, "TAKER", "2", "1", "0", 3, t3),
        priced_fill(BOB, &e2, "MAKER", "2", "0.3", "0.05", 3, t3),
    ];
    env.write(w).await;
    env.write(block(4, t0 + TimeDelta::hours(40))).await;
    // Totals were already counted up to just before block 2 (a backfill from 2023 is long).
    for key in ["totalVolumeUpdateTime", "affiliateInfoUpdateTime"] {
        sqlx::query("INSERT INTO persistent_cache (key, value) VALUES ($1, $2)")
            .bind(key)
            .bind(to_iso(&(t0 + TimeDelta::minutes(1))))
            .execute(env.pool())
            .await
            .unwrap();
    }
    t0
}

fn trim(text: String) -> String {
    text.parse::<bigdecimal::BigDecimal>()
        .unwrap()
        .normalized()
        .to_string()
}

#[tokio::test]
async fn wallet_volumes_add_each_window_once() {
    let env = TestEnv::new().await;
    let t0 = seed(&env).await;
    let job = UpdateFillTotals::new(env.deps.clone(), FillTotal::WalletVolume);
    for _ in 0..4 {
        job.run(&ctx()).await.unwrap();
    }
    let volumes: Vec<(String, String)> =
        sqlx::query_as(r#"SELECT address, "totalVolume"::text FROM wallets ORDER BY address"#)
            .fetch_all(env.pool())
            .await
            .unwrap();
    let volumes: Vec<(String, String)> = volumes.into_iter().map(|(a, v)| (a, trim(v))).collect();
    assert_eq!(
        volumes,
        vec![
            (ALICE.to_string(), "200".to_string()),
            (BOB.to_string(), "300".to_string()),
            (CAROL.to_string(), "100".to_string()),
        ]
    );
    let marker: String = sqlx::query_scalar(
        "SELECT value FROM persistent_cache WHERE key = 'totalVolumeUpdateTime'",
    )
    .fetch_one(env.pool())
    .await
    .unwrap();
    assert_eq!(
        marker,
        to_iso(&(t0 + TimeDelta::hours(40))),
        "caught up to the latest block"
    );
    env.cleanup().await;
}

#[tokio::test]
async fn affiliates_accumulate_their_referees_fills_after_the_referral() {
    let env = TestEnv::new().await;
    seed(&env).await;
    let job = UpdateFillTotals::new(env.deps.clone(), FillTotal::AffiliateInfo);
    for _ in 0..4 {
        job.run(&ctx()).await.unwrap();
    }
    type Info = (
        String,
        i32,
        i64,
        String,
        i32,
        i32,
        String,
        String,
        String,
        String,
    );
    let info: Info = sqlx::query_as(
        r#"SELECT address, "totalReferredUsers", "firstReferralBlockHeight",
                  "affiliateEarnings"::text, "referredMakerTrades", "referredTakerTrades",
                  "totalReferredMakerFees"::text, "totalReferredTakerFees"::text,
                  "totalReferredMakerRebates"::text, "referredTotalVolume"::text
           FROM affiliate_info"#,
    )
    .fetch_one(env.pool())
    .await
    .unwrap();
    let (address, users, first, earnings, makers, takers, maker_fees, taker_fees, rebates, volume) =
        info;
    assert_eq!((address.as_str(), users, first), (ALICE, 2, 2));
    assert_eq!(
        (trim(earnings), makers, takers),
        ("0.15".to_string(), 1, 1),
        "Bob's two fills; Carol's came before her referral"
    );
    assert_eq!(
        (
            trim(maker_fees),
            trim(taker_fees),
            trim(rebates),
            trim(volume)
        ),
        ("0.3".into(), "0.5".into(), "0".into(), "300".into())
    );
    env.cleanup().await;
}
