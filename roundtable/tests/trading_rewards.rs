//! aggregate_trading_rewards on real Postgres: windows, period closing, the progress marker
//! moving with the totals, and recovery without a marker.

mod common;

use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use common::*;
use indexer_domain::TradingRewardAggregationPeriod as Period;
use roundtable::jobs::aggregate_trading_rewards::{
    period_start, watermark_key, AggregateTradingRewards,
};
use roundtable::scheduler::Job;

type Row = (
    String,
    DateTime<Utc>,
    i64,
    String,
    Option<DateTime<Utc>>,
    Option<i64>,
);

async fn rows(env: &TestEnv, period: &str) -> Vec<Row> {
    sqlx::query_as(
        r#"SELECT address, "startedAt", "startedAtHeight", amount::text, "endedAt", "endedAtHeight"
           FROM trading_reward_aggregations WHERE period = $1
           ORDER BY "startedAtHeight", address"#,
    )
    .bind(period)
    .fetch_all(env.pool())
    .await
    .unwrap()
}

async fn watermark(env: &TestEnv, period: Period) -> Option<String> {
    sqlx::query_scalar("SELECT value FROM persistent_cache WHERE key = $1")
        .bind(watermark_key(period))
        .fetch_optional(env.pool())
        .await
        .unwrap()
}

/// Runs the job until its marker stops moving.
async fn catch_up(env: &TestEnv, job: &AggregateTradingRewards, period: Period) {
    let mut last = None;
    for _ in 0..200 {
        job.run(&ctx()).await.unwrap();
        let now = watermark(env, period).await;
        if now == last {
            return;
        }
        last = now;
    }
    panic!("the marker kept moving");
}

fn amount(text: &str) -> bigdecimal::BigDecimal {
    text.parse().unwrap()
}

/// Day D: rewards at 10:00 (Alice 1.5, Bob 2) and 10:30 (Alice 0.25); day D+1: 00:05 (Alice 4);
/// the latest block at D+1 12:00:30.
async fn seed(env: &TestEnv) -> DateTime<Utc> {
    let day = Utc::now().duration_trunc(TimeDelta::days(1)).unwrap() - TimeDelta::days(2);
    env.write(genesis(day - TimeDelta::hours(1))).await;
    let t2 = day + TimeDelta::hours(10);
    let mut w = block(2, t2);
    w.wallets = vec![wallet(ALICE), wallet(BOB)];
    w.trading_rewards = vec![
        trading_reward(ALICE, "1.5", 2, t2),
        trading_reward(BOB, "2", 2, t2),
    ];
    env.write(w).await;
    let t3 = day + minutes(10 * 60 + 30);
    let mut w = block(3, t3);
    w.trading_rewards = vec![trading_reward(ALICE, "0.25", 3, t3)];
    env.write(w).await;
    let t4 = day + TimeDelta::days(1) + minutes(5);
    let mut w = block(4, t4);
    w.trading_rewards = vec![trading_reward(ALICE, "4", 4, t4)];
    env.write(w).await;
    env.write(block(
        5,
        day + TimeDelta::days(1) + TimeDelta::hours(12) + TimeDelta::seconds(30),
    ))
    .await;
    day
}

fn job(env: &TestEnv, period: Period) -> AggregateTradingRewards {
    AggregateTradingRewards::new(env.deps.clone(), period, Duration::from_secs(3600), 50)
}

#[tokio::test]
async fn daily_totals_are_counted_once_and_closed_at_midnight() {
    let env = TestEnv::new().await;
    let day = seed(&env).await;
    let next = day + TimeDelta::days(1);
    let daily = job(&env, Period::Daily);

    catch_up(&env, &daily, Period::Daily).await;

    let got = rows(&env, "DAILY").await;
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(
        (
            got[0].0.as_str(),
            got[0].1,
            got[0].2,
            amount(&got[0].3),
            got[0].4,
            got[0].5
        ),
        (ALICE, day, 2, amount("1.75"), Some(next), Some(3)),
        "day D: both of Alice's rewards, closed at midnight with the last block before it"
    );
    assert_eq!(
        (got[1].0.as_str(), amount(&got[1].3), got[1].4),
        (BOB, amount("2"), Some(next))
    );
    assert_eq!(
        (
            got[2].0.as_str(),
            got[2].1,
            got[2].2,
            amount(&got[2].3),
            got[2].4
        ),
        (ALICE, next, 4, amount("4"), None),
        "today's aggregation stays open"
    );
    assert_eq!(
        watermark(&env, Period::Daily).await.as_deref(),
        Some(indexer_domain::time::to_iso(&(next + TimeDelta::hours(12))).as_str())
    );

    // Caught up: further runs add nothing.
    daily.run(&ctx()).await.unwrap();
    daily.run(&ctx()).await.unwrap();
    assert_eq!(amount(&rows(&env, "DAILY").await[2].3), amount("4"));
    env.cleanup().await;
}

#[tokio::test]
async fn without_a_marker_the_open_aggregation_is_recounted_not_doubled() {
    let env = TestEnv::new().await;
    let day = seed(&env).await;
    let daily = job(&env, Period::Daily);
    catch_up(&env, &daily, Period::Daily).await;

    // A database restored without the marker (or a marker lost some other way).
    sqlx::query("DELETE FROM persistent_cache WHERE key = $1")
        .bind(watermark_key(Period::Daily))
        .execute(env.pool())
        .await
        .unwrap();
    catch_up(&env, &daily, Period::Daily).await;

    let got = rows(&env, "DAILY").await;
    assert_eq!(got.len(), 3);
    assert_eq!(
        amount(&got[0].3),
        amount("1.75"),
        "the closed day is kept as is"
    );
    assert_eq!(
        (got[2].1, amount(&got[2].3)),
        (day + TimeDelta::days(1), amount("4"))
    );
    env.cleanup().await;
}

#[tokio::test]
async fn weekly_and_monthly_totals_follow_their_calendars() {
    let env = TestEnv::new().await;
    let day = seed(&env).await;
    let next = day + TimeDelta::days(1);
    for (period, name) in [(Period::Weekly, "WEEKLY"), (Period::Monthly, "MONTHLY")] {
        catch_up(&env, &job(&env, period), period).await;
        let got = rows(&env, name).await;
        let alice: Vec<_> = got.iter().filter(|r| r.0 == ALICE).collect();
        if period_start(period, day) == period_start(period, next) {
            assert_eq!(alice.len(), 1, "{name}: {got:?}");
            assert_eq!(amount(&alice[0].3), amount("5.75"));
            assert_eq!(alice[0].1, period_start(period, day));
            assert_eq!(alice[0].4, None, "{name} is still open");
        } else {
            assert_eq!(alice.len(), 2, "{name}: {got:?}");
            assert_eq!(amount(&alice[0].3), amount("1.75"));
            assert_eq!(alice[0].4, Some(next), "{name} closed at the boundary");
            assert_eq!(amount(&alice[1].3), amount("4"));
        }
    }
    env.cleanup().await;
}
