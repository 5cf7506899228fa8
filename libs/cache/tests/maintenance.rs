//! The maintenance scripts against the real Redis, each test under its own prefix.

use indexer_base::config::{Env, RedisSettings};
use indexer_cache::maintenance::{
    add_mid_prices, expiring_orders, prune_zero_levels, purge_stateful_order_updates,
    remove_stale_levels, RemovedLevel,
};
use indexer_cache::{book_snapshot, BookSide, Cache};

const TICKER: &str = "BTC-USD";

async fn fresh_cache() -> Cache {
    let prefix = format!("test-{}:", uuid::Uuid::new_v4());
    let env = Env::from_pairs([("REDIS_KEY_PREFIX", prefix.as_str())]);
    Cache::connect(&RedisSettings::from_env(&env).unwrap())
        .await
        .unwrap()
}

async fn now_s(cache: &Cache) -> i64 {
    let (seconds, _): (String, String) = redis::cmd("TIME")
        .query_async(&mut cache.conn())
        .await
        .unwrap();
    seconds.parse().unwrap()
}

/// Stores a level as vulcan's scripts would, with a chosen lastUpdated.
async fn level(cache: &Cache, side: BookSide, price: &str, size: &str, last_updated: i64) {
    let keys = cache.keys();
    let _: () = redis::pipe()
        .hset(keys.orderbook_levels(TICKER, side), price, size)
        .ignore()
        .hset(
            keys.orderbook_levels_last_updated(TICKER, side),
            price,
            last_updated,
        )
        .ignore()
        .query_async(&mut cache.conn())
        .await
        .unwrap();
}

async fn set(cache: &Cache, key: &str, value: &str) {
    let _: () = redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query_async(&mut cache.conn())
        .await
        .unwrap();
}

fn prices(levels: &[indexer_cache::StoredLevel]) -> Vec<&str> {
    let mut prices: Vec<&str> = levels.iter().map(|l| l.price.as_str()).collect();
    prices.sort();
    prices
}

#[tokio::test]
async fn empty_levels_are_pruned_from_both_hashes_without_a_seq() {
    let cache = fresh_cache().await;
    let now = now_s(&cache).await;
    level(&cache, BookSide::Buy, "100", "0", now).await;
    level(&cache, BookSide::Buy, "99", "5000", now).await;
    level(&cache, BookSide::Buy, "98", "-3", now).await;
    set(&cache, &cache.keys().orderbook_seq(TICKER), "7").await;

    assert_eq!(
        prune_zero_levels(&cache, TICKER, BookSide::Buy)
            .await
            .unwrap(),
        2
    );

    let book = book_snapshot(&cache, TICKER).await.unwrap();
    assert_eq!(prices(&book.bids), vec!["99"]);
    assert_eq!(book.seq, 7, "no visible change, no seq");
    let companions: Vec<String> = redis::cmd("HKEYS")
        .arg(
            cache
                .keys()
                .orderbook_levels_last_updated(TICKER, BookSide::Buy),
        )
        .query_async(&mut cache.conn())
        .await
        .unwrap();
    assert_eq!(companions, vec!["99".to_string()]);
    cache.clear().await.unwrap();
}

#[tokio::test]
async fn only_still_stale_levels_are_removed_and_visible_removals_take_seqs() {
    let cache = fresh_cache().await;
    let now = now_s(&cache).await;
    level(&cache, BookSide::Buy, "101", "2000", now - 60).await; // stale
    level(&cache, BookSide::Buy, "100", "3000", now).await; // fresh: kept
    level(&cache, BookSide::Sell, "99", "0", now - 60).await; // stale but already empty
    level(&cache, BookSide::Sell, "98", "1000", now - 60).await; // stale
    set(&cache, &cache.keys().orderbook_seq(TICKER), "41").await;
    set(&cache, &cache.keys().stream_epoch(), "epoch-1").await;

    let removal = remove_stale_levels(
        &cache,
        TICKER,
        &["101".into(), "100".into()],
        &["99".into(), "98".into(), "97".into()],
        10,
        "unused-candidate",
    )
    .await
    .unwrap();

    assert_eq!(removal.epoch, "epoch-1");
    assert_eq!(
        removal.removed,
        vec![
            RemovedLevel {
                side: BookSide::Buy,
                price: "101".into(),
                seq: Some(42)
            },
            RemovedLevel {
                side: BookSide::Sell,
                price: "99".into(),
                seq: None
            },
            RemovedLevel {
                side: BookSide::Sell,
                price: "98".into(),
                seq: Some(43)
            },
        ]
    );
    let book = book_snapshot(&cache, TICKER).await.unwrap();
    assert_eq!(prices(&book.bids), vec!["100"]);
    assert!(book.asks.is_empty());
    assert_eq!(
        book.seq, 43,
        "the snapshot's seq covers the announced removals"
    );
    cache.clear().await.unwrap();
}

#[tokio::test]
async fn the_epoch_is_created_when_redis_has_none() {
    let cache = fresh_cache().await;
    let removal = remove_stale_levels(&cache, TICKER, &[], &[], 10, "fresh-epoch")
        .await
        .unwrap();
    assert_eq!(removal.epoch, "fresh-epoch");
    assert!(removal.removed.is_empty());
    cache.clear().await.unwrap();
}

#[tokio::test]
async fn mid_price_samples_older_than_a_minute_are_dropped() {
    let cache = fresh_cache().await;
    add_mid_prices(&cache, &[(TICKER.into(), "50000.5".into())], 1_000)
        .await
        .unwrap();
    add_mid_prices(&cache, &[(TICKER.into(), "50001".into())], 1_030)
        .await
        .unwrap();
    add_mid_prices(&cache, &[(TICKER.into(), "50002".into())], 1_061)
        .await
        .unwrap();
    let samples: Vec<(String, i64)> = redis::cmd("ZRANGE")
        .arg(cache.keys().orderbook_mid_prices(TICKER))
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query_async(&mut cache.conn())
        .await
        .unwrap();
    assert_eq!(
        samples,
        vec![("50001".to_string(), 1_030), ("50002".to_string(), 1_061)]
    );
    cache.clear().await.unwrap();
}

#[tokio::test]
async fn expiring_orders_come_with_their_stored_data() {
    let cache = fresh_cache().await;
    let keys = cache.keys();
    let _: () = redis::pipe()
        .zadd(keys.order_expiry(), "a", 10)
        .ignore()
        .zadd(keys.order_expiry(), "b", 20)
        .ignore()
        .zadd(keys.order_expiry(), "c", 30)
        .ignore()
        .set(keys.order("a"), b"order-a".to_vec())
        .ignore()
        .set(keys.order_data("a"), "10_0_true")
        .ignore()
        .query_async(&mut cache.conn())
        .await
        .unwrap();
    let orders = expiring_orders(&cache, 20, 100).await.unwrap();
    assert_eq!(orders.len(), 2);
    assert_eq!(orders[0].order_uuid, "a");
    assert_eq!(orders[0].expiry, 10);
    assert_eq!(orders[0].redis_order.as_deref(), Some(&b"order-a"[..]));
    assert_eq!(orders[0].order_data.as_deref(), Some("10_0_true"));
    assert_eq!(orders[1].order_uuid, "b");
    assert_eq!(orders[1].redis_order, None);
    cache.clear().await.unwrap();
}

#[tokio::test]
async fn parked_updates_older_than_the_cutoff_are_purged_from_both_structures() {
    let cache = fresh_cache().await;
    let keys = cache.keys();
    let mut pipe = redis::pipe();
    for (id, at) in [
        ("old1", 1_000),
        ("old2", 2_000),
        ("old3", 2_500),
        ("new", 9_000),
    ] {
        pipe.zadd(keys.stateful_order_update_ids(), id, at)
            .ignore()
            .hset(keys.stateful_order_updates(), id, "update")
            .ignore();
    }
    let _: () = pipe.query_async(&mut cache.conn()).await.unwrap();

    // A batch of 2 forces a second round.
    let mut removed = purge_stateful_order_updates(&cache, 5_000, 2)
        .await
        .unwrap();
    removed.sort();
    assert_eq!(removed, vec!["old1", "old2", "old3"]);
    let left_ids: Vec<String> = redis::cmd("ZRANGE")
        .arg(keys.stateful_order_update_ids())
        .arg(0)
        .arg(-1)
        .query_async(&mut cache.conn())
        .await
        .unwrap();
    let left_updates: Vec<String> = redis::cmd("HKEYS")
        .arg(keys.stateful_order_updates())
        .query_async(&mut cache.conn())
        .await
        .unwrap();
    assert_eq!(left_ids, vec!["new"]);
    assert_eq!(left_updates, vec!["new"]);
    cache.clear().await.unwrap();
}
