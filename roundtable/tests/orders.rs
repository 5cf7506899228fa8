//! Order jobs on real Postgres, Redis and Kafka: expiry removals sent to vulcan, stale
//! short-term orders canceled in Postgres, parked stateful-order updates purged.

mod common;

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use common::*;
use indexer_bus::Topic;
use indexer_cache::orders::UpdateOrder;
use indexer_cache::{apply_order_ops, BookSide, OrderOp};
use indexer_domain::order_id::order_id_key;
use indexer_proto::off_chain_updates::off_chain_update_v1::UpdateMessage;
use indexer_proto::off_chain_updates::order_remove_v1::OrderRemovalStatus;
use indexer_proto::off_chain_updates::OffChainUpdateV1;
use indexer_proto::shared::OrderRemovalReason;
use prost::Message;
use roundtable::jobs::cancel_stale_orders::CancelStaleOrders;
use roundtable::jobs::remove_expired_orders::RemoveExpiredOrders;
use roundtable::jobs::remove_old_order_updates::RemoveOldOrderUpdates;
use roundtable::scheduler::Job;

#[tokio::test]
async fn expired_short_term_orders_are_sent_to_vulcan_as_indexer_expired_cancels() {
    let env = TestEnv::new().await;
    let start = Utc::now() - TimeDelta::hours(1);
    env.write(genesis(start)).await;
    env.write(block(130, start + minutes(1))).await;
    // Cutoff: 130 − 20 = 110.
    let cache = &env.cache;
    rest_order(cache, ALICE, 1, BookSide::Buy, 1_000_000, "49000", 100).await;
    rest_order(cache, ALICE, 2, BookSide::Buy, 1_000_000, "49001", 110).await;
    rest_order(cache, ALICE, 3, BookSide::Buy, 1_000_000, "49002", 111).await;
    // An expiry entry whose order is gone.
    let _: () = redis::cmd("ZADD")
        .arg(cache.keys().order_expiry())
        .arg(50)
        .arg("gone")
        .query_async(&mut cache.conn())
        .await
        .unwrap();
    let consumer = env.consumer(Topic::ToVulcan).await;

    RemoveExpiredOrders::new(env.deps.clone(), 20)
        .run(&ctx())
        .await
        .unwrap();

    for client_id in [1, 2] {
        let received = next_message(&consumer).await;
        let update = OffChainUpdateV1::decode(received.value.as_slice()).unwrap();
        let Some(UpdateMessage::OrderRemove(remove)) = update.update_message else {
            panic!("expected an OrderRemove");
        };
        let order_id = remove.removed_order_id.unwrap();
        assert_eq!(order_id.client_id, client_id);
        assert_eq!(order_id.subaccount_id.as_ref().unwrap().owner, ALICE);
        assert_eq!(remove.reason, OrderRemovalReason::IndexerExpired as i32);
        assert_eq!(remove.removal_status, OrderRemovalStatus::Canceled as i32);
        assert_eq!(received.meta.key, Some(order_id_key(&order_id).to_vec()));
    }
    assert!(
        !more_messages(&consumer, Duration::from_secs(2)).await,
        "the order expiring at 111 and the orphaned entry are not sent"
    );
    drop(consumer);
    env.cleanup().await;
}

#[tokio::test]
async fn open_short_term_orders_past_their_expiry_are_canceled() {
    let env = TestEnv::new().await;
    let start = Utc::now() - TimeDelta::hours(1);
    env.write(genesis(start)).await;
    let t = start + minutes(1);
    let mut w = block(2, t);
    w.subaccounts = vec![subaccount(ALICE, 0, 2, t)];
    w.orders = vec![
        short_term_order(ALICE, 1, "OPEN", 5, 2, t),
        short_term_order(ALICE, 2, "OPEN", 9, 2, t),
        short_term_order(ALICE, 3, "OPEN", 10, 2, t),
        short_term_order(ALICE, 4, "FILLED", 3, 2, t),
    ];
    env.write(w).await;
    env.write(block(10, t + minutes(1))).await;

    CancelStaleOrders::new(env.deps.clone(), 10_000)
        .run(&ctx())
        .await
        .unwrap();

    let statuses: Vec<(i64, String)> =
        sqlx::query_as(r#"SELECT "clientId", status FROM orders ORDER BY "clientId""#)
            .fetch_all(env.pool())
            .await
            .unwrap();
    assert_eq!(
        statuses,
        vec![
            (1, "CANCELED".to_string()),
            (2, "CANCELED".to_string()),
            (3, "OPEN".to_string()),
            (4, "FILLED".to_string()),
        ]
    );
    env.cleanup().await;
}

#[tokio::test]
async fn parked_updates_older_than_the_window_are_purged() {
    let env = TestEnv::new().await;
    let now_ms = Utc::now().timestamp_millis();
    // Vulcan parks a fill of a stateful order it has not seen placed yet.
    let park = |uuid: &str, at_ms: i64| {
        let cache = env.cache.clone();
        let uuid = uuid.to_string();
        async move {
            let op = OrderOp::Update(UpdateOrder {
                order_uuid: uuid,
                ticker: "BTC-USD".into(),
                total_filled_quantums: 10,
                cache_if_missing: Some(b"encoded update".to_vec()),
            });
            apply_order_ops(&cache, &[op], at_ms, "epoch")
                .await
                .unwrap();
        }
    };
    park("old-order", now_ms - 60_000).await;
    park("new-order", now_ms).await;

    RemoveOldOrderUpdates::new(env.deps.clone(), Duration::from_secs(30))
        .run(&ctx())
        .await
        .unwrap();

    let keys = env.cache.keys();
    let ids: Vec<String> = redis::cmd("ZRANGE")
        .arg(keys.stateful_order_update_ids())
        .arg(0)
        .arg(-1)
        .query_async(&mut env.cache.conn())
        .await
        .unwrap();
    let updates: Vec<String> = redis::cmd("HKEYS")
        .arg(keys.stateful_order_updates())
        .query_async(&mut env.cache.conn())
        .await
        .unwrap();
    assert_eq!(ids, vec!["new-order"]);
    assert_eq!(updates, vec!["new-order"]);
    env.cleanup().await;
}
