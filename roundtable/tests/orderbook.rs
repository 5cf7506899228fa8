//! Order-book jobs on real Postgres, Redis and Kafka, with books built through vulcan's Redis
//! path: uncrossing (with announced, sequenced corrections), empty-level deletion and mid-price
//! sampling.

mod common;

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use common::*;
use indexer_bus::Topic;
use indexer_cache::{book_snapshot, BookSide};
use indexer_proto::socks::OrderbookMessage;
use prost::Message;
use roundtable::jobs::cache_orderbook_mid_prices::CacheOrderbookMidPrices;
use roundtable::jobs::delete_zero_price_levels::DeleteZeroPriceLevels;
use roundtable::jobs::uncross_orderbook::UncrossOrderbook;
use roundtable::scheduler::Job;

const STALE_AFTER: Duration = Duration::from_secs(10);

async fn redis_now(env: &TestEnv) -> i64 {
    let (seconds, _): (String, String) = redis::cmd("TIME")
        .query_async(&mut env.cache.conn())
        .await
        .unwrap();
    seconds.parse().unwrap()
}

fn sorted_prices(levels: &[indexer_cache::StoredLevel]) -> Vec<String> {
    let mut prices: Vec<String> = levels.iter().map(|l| l.price.clone()).collect();
    prices.sort();
    prices
}

#[tokio::test]
async fn stale_crossing_levels_are_removed_and_announced_with_the_next_seqs() {
    let env = TestEnv::new().await;
    env.write(genesis(Utc::now() - TimeDelta::days(1))).await;
    let cache = &env.cache;
    rest_order(cache, ALICE, 1, BookSide::Buy, 1_000_000, "50100", 500).await;
    rest_order(cache, ALICE, 2, BookSide::Buy, 1_000_000, "50050", 500).await;
    rest_order(cache, ALICE, 3, BookSide::Buy, 1_000_000, "49000", 500).await;
    rest_order(cache, BOB, 1, BookSide::Sell, 1_000_000, "50000", 500).await;
    rest_order(cache, BOB, 2, BookSide::Sell, 1_000_000, "50200", 500).await;
    // Every level but the best ask has not changed for a minute.
    let now = redis_now(&env).await;
    for (side, price) in [
        (BookSide::Buy, "50100"),
        (BookSide::Buy, "50050"),
        (BookSide::Buy, "49000"),
        (BookSide::Sell, "50200"),
    ] {
        age_level(cache, side, price, now - 60).await;
    }
    let before = book_snapshot(cache, "BTC-USD").await.unwrap();
    let consumer = env.consumer(Topic::ToWebsocketsOrderbooks).await;

    UncrossOrderbook::new(env.deps.clone(), STALE_AFTER)
        .run(&ctx())
        .await
        .unwrap();

    let after = book_snapshot(cache, "BTC-USD").await.unwrap();
    assert_eq!(sorted_prices(&after.bids), vec!["49000"]);
    assert_eq!(sorted_prices(&after.asks), vec!["50000", "50200"]);
    assert_eq!(after.seq, before.seq + 2);
    let epoch = after.epoch.clone().unwrap();
    for (offset, price) in [(1, "50100"), (2, "50050")] {
        let received = next_message(&consumer).await;
        let message = OrderbookMessage::decode(received.value.as_slice()).unwrap();
        assert_eq!(message.contents, format!(r#"{{"bids":[["{price}","0"]]}}"#));
        assert_eq!(message.clob_pair_id, "0");
        assert_eq!(message.version, "1.0.0");
        let headers = &received.meta.headers;
        assert_eq!(
            headers.get_str("seq"),
            Some((before.seq + offset).to_string().as_str())
        );
        assert_eq!(headers.get_str("epoch"), Some(epoch.as_str()));
        assert_eq!(headers.get_str("channel"), Some("v4_orderbook/BTC-USD"));
    }
    drop(consumer);
    env.cleanup().await;
}

#[tokio::test]
async fn a_fresh_crossing_level_is_never_removed() {
    let env = TestEnv::new().await;
    env.write(genesis(Utc::now() - TimeDelta::days(1))).await;
    rest_order(&env.cache, ALICE, 1, BookSide::Buy, 1_000_000, "50100", 500).await;
    rest_order(&env.cache, BOB, 1, BookSide::Sell, 1_000_000, "50000", 500).await;
    let before = book_snapshot(&env.cache, "BTC-USD").await.unwrap();

    UncrossOrderbook::new(env.deps.clone(), STALE_AFTER)
        .run(&ctx())
        .await
        .unwrap();

    let after = book_snapshot(&env.cache, "BTC-USD").await.unwrap();
    assert_eq!(sorted_prices(&after.bids), vec!["50100"]);
    assert_eq!(sorted_prices(&after.asks), vec!["50000"]);
    assert_eq!(after.seq, before.seq, "nothing removed, no seq taken");
    env.cleanup().await;
}

#[tokio::test]
async fn empty_levels_are_deleted_and_others_kept() {
    let env = TestEnv::new().await;
    env.write(genesis(Utc::now() - TimeDelta::days(1))).await;
    rest_order(&env.cache, ALICE, 1, BookSide::Buy, 1_000_000, "49000", 500).await;
    // An empty level as the reference's vulcan leaves them behind.
    let now = redis_now(&env).await;
    let keys = env.cache.keys();
    let _: () = redis::pipe()
        .hset(
            keys.orderbook_levels("BTC-USD", BookSide::Sell),
            "51000",
            "0",
        )
        .ignore()
        .hset(
            keys.orderbook_levels_last_updated("BTC-USD", BookSide::Sell),
            "51000",
            now,
        )
        .ignore()
        .query_async(&mut env.cache.conn())
        .await
        .unwrap();

    DeleteZeroPriceLevels::new(env.deps.clone())
        .run(&ctx())
        .await
        .unwrap();

    let fields: Vec<String> = redis::cmd("HKEYS")
        .arg(keys.orderbook_levels("BTC-USD", BookSide::Sell))
        .query_async(&mut env.cache.conn())
        .await
        .unwrap();
    let companions: Vec<String> = redis::cmd("HKEYS")
        .arg(keys.orderbook_levels_last_updated("BTC-USD", BookSide::Sell))
        .query_async(&mut env.cache.conn())
        .await
        .unwrap();
    assert!(fields.is_empty() && companions.is_empty());
    let book = book_snapshot(&env.cache, "BTC-USD").await.unwrap();
    assert_eq!(sorted_prices(&book.bids), vec!["49000"]);
    env.cleanup().await;
}

#[tokio::test]
async fn mid_prices_are_sampled_for_markets_with_both_sides() {
    let env = TestEnv::new().await;
    env.write(genesis(Utc::now() - TimeDelta::days(1))).await;
    rest_order(&env.cache, ALICE, 1, BookSide::Buy, 1_000_000, "49000", 500).await;
    rest_order(&env.cache, ALICE, 2, BookSide::Buy, 1_000_000, "48000", 500).await;
    rest_order(&env.cache, BOB, 1, BookSide::Sell, 1_000_000, "50001", 500).await;

    CacheOrderbookMidPrices::new(env.deps.clone())
        .run(&ctx())
        .await
        .unwrap();

    let samples = |ticker: &'static str| {
        let key = env.cache.keys().orderbook_mid_prices(ticker);
        let mut conn = env.cache.conn();
        async move {
            let members: Vec<(String, i64)> = redis::cmd("ZRANGE")
                .arg(key)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query_async(&mut conn)
                .await
                .unwrap();
            members
        }
    };
    let btc = samples("BTC-USD").await;
    assert_eq!(btc.len(), 1);
    assert_eq!(btc[0].0, "49500.5");
    assert!(
        (btc[0].1 - Utc::now().timestamp()).abs() < 3600,
        "scored by the current time"
    );
    assert!(
        samples("ETH-USD").await.is_empty(),
        "an empty book has no mid price"
    );
    env.cleanup().await;
}
