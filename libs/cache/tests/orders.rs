//! The order scripts against the real Redis on 127.0.0.1:6379, each test under its own prefix.

use indexer_base::config::{Env, RedisSettings};
use indexer_cache::orders::{
    BookFacts, LevelChange, PlaceOrder, PlaceOutcome, RemovalStatus, RemoveOrder, RemoveOutcome,
    UpdateOrder, UpdateOutcome,
};
use indexer_cache::{apply_order_ops, book_snapshot, BookSide, Cache, OpOutcome, OrderOp};
use indexer_proto::protocol::v1::{
    indexer_order::GoodTilOneof, IndexerOrder, IndexerOrderId, IndexerSubaccountId,
};
use indexer_proto::redis::RedisOrder;
use prost::Message;

const TICKER: &str = "BTC-USD";
const SUBACCOUNT: &str = "df91255d-5e17-5e2e-824a-87ddf3c5214a";

async fn fresh_cache() -> Cache {
    let prefix = format!("test-{}:", uuid::Uuid::new_v4());
    let env = Env::from_pairs([("REDIS_KEY_PREFIX", prefix.as_str())]);
    Cache::connect(&RedisSettings::from_env(&env).unwrap())
        .await
        .unwrap()
}

struct Order {
    uuid: String,
    side: i32,
    quantums: u64,
    price: &'static str,
    tif: i32,
    expiry: u64,
}

fn order(uuid: &str, side: i32, quantums: u64, price: &'static str) -> Order {
    Order {
        uuid: uuid.into(),
        side,
        quantums,
        price,
        tif: 0,
        expiry: 10,
    }
}

fn blob(o: &Order) -> Vec<u8> {
    RedisOrder {
        id: o.uuid.clone(),
        order: Some(IndexerOrder {
            order_id: Some(IndexerOrderId {
                subaccount_id: Some(IndexerSubaccountId {
                    owner: "dydx1abc".into(),
                    number: 0,
                }),
                client_id: 7,
                order_flags: 0,
                clob_pair_id: 0,
            }),
            side: o.side,
            quantums: o.quantums,
            subticks: 5_000_000_000,
            good_til_oneof: Some(GoodTilOneof::GoodTilBlock(o.expiry as u32)),
            time_in_force: o.tif,
            client_metadata: 3,
            order_router_address: "dydx1router".into(),
            ..Default::default()
        }),
        ticker: TICKER.into(),
        ticker_type: 1,
        price: o.price.into(),
        size: "0.1".into(),
    }
    .encode_to_vec()
}

fn place(o: &Order) -> OrderOp {
    OrderOp::Place(PlaceOrder {
        order_uuid: o.uuid.clone(),
        subaccount_uuid: SUBACCOUNT.into(),
        redis_order: blob(o),
        expiry: o.expiry,
        short_term: true,
        pop_cached_update: false,
        book_facts: BookFacts {
            side: if o.side == 1 {
                BookSide::Buy
            } else {
                BookSide::Sell
            },
            immediate: o.tif == 1 || o.tif == 3,
            quantums: o.quantums,
            price: o.price.to_string(),
        },
    })
}

fn update(uuid: &str, filled: u64) -> OrderOp {
    OrderOp::Update(UpdateOrder {
        order_uuid: uuid.into(),
        ticker: TICKER.into(),
        total_filled_quantums: filled,
        cache_if_missing: None,
    })
}

fn remove(uuid: &str, status: RemovalStatus) -> RemoveOrder {
    RemoveOrder {
        order_uuid: uuid.into(),
        subaccount_uuid: SUBACCOUNT.into(),
        ticker: TICKER.into(),
        status,
        stateful_user_cancel: false,
        expired_before_height: None,
    }
}

async fn run(cache: &Cache, ops: Vec<OrderOp>) -> Vec<OpOutcome> {
    apply_order_ops(cache, &ops, 1_700_000_000_000, "epoch-1")
        .await
        .unwrap()
        .outcomes
}

async fn one(cache: &Cache, op: OrderOp) -> OpOutcome {
    run(cache, vec![op]).await.remove(0)
}

fn level_of(outcome: &OpOutcome) -> Option<LevelChange> {
    match outcome {
        OpOutcome::Update(UpdateOutcome::Applied { level, .. }) => level.clone(),
        OpOutcome::Remove(RemoveOutcome::Removed { level, .. }) => level.clone(),
        _ => None,
    }
}

async fn levels(cache: &Cache, side: BookSide) -> Vec<(String, i64)> {
    let snap = book_snapshot(cache, TICKER).await.unwrap();
    let mut out: Vec<(String, i64)> = snap
        .side(side)
        .iter()
        .map(|l| (l.price.clone(), l.size_quantums))
        .collect();
    out.sort();
    out
}

async fn get(cache: &Cache, key: String) -> Option<Vec<u8>> {
    redis::cmd("GET")
        .arg(key)
        .query_async(&mut cache.conn())
        .await
        .unwrap()
}

#[tokio::test]
async fn place_stores_the_order_once_and_a_later_expiry_replaces_it_keeping_the_fill() {
    let cache = fresh_cache().await;
    let o = order("o1", 1, 1000, "50000");
    let first = one(&cache, place(&o)).await;
    assert_eq!(
        first,
        OpOutcome::Place(PlaceOutcome {
            placed: true,
            replaced: false,
            old_total_filled: 0,
            old_resting: false,
            cached_update: None
        })
    );
    assert_eq!(
        get(&cache, cache.keys().order_data("o1")).await.unwrap(),
        b"10_0_false"
    );
    let members: Vec<String> = redis::cmd("HKEYS")
        .arg(cache.keys().subaccount_order_ids(SUBACCOUNT))
        .query_async(&mut cache.conn())
        .await
        .unwrap();
    assert_eq!(members, ["o1"]);
    let score: Option<u64> = redis::cmd("ZSCORE")
        .arg(cache.keys().order_expiry())
        .arg("o1")
        .query_async(&mut cache.conn())
        .await
        .unwrap();
    assert_eq!(score, Some(10));

    // Same expiry again (a replay): nothing changes.
    let again = one(&cache, place(&o)).await;
    assert!(matches!(
        again,
        OpOutcome::Place(PlaceOutcome {
            placed: false,
            replaced: false,
            ..
        })
    ));

    // A fill, then a placement with a later expiry: the fill is kept, the order is not resting.
    one(&cache, update("o1", 300)).await;
    let later = Order {
        expiry: 20,
        ..order("o1", 1, 1000, "50000")
    };
    let replaced = one(&cache, place(&later)).await;
    assert_eq!(
        replaced,
        OpOutcome::Place(PlaceOutcome {
            placed: false,
            replaced: true,
            old_total_filled: 300,
            old_resting: true,
            cached_update: None
        })
    );
    assert_eq!(
        get(&cache, cache.keys().order_data("o1")).await.unwrap(),
        b"20_300_false"
    );
    cache.clear().await.unwrap();
}

#[tokio::test]
async fn updates_move_the_remaining_size_into_and_within_the_level_and_replays_change_nothing() {
    let cache = fresh_cache().await;
    one(&cache, place(&order("o1", 1, 1000, "50000"))).await;
    one(&cache, place(&order("o2", 1, 500, "50000"))).await;

    // First update of a not-yet-resting order: it enters with size - filled.
    let entered = level_of(&one(&cache, update("o1", 0)).await).unwrap();
    assert_eq!(
        (
            entered.side,
            entered.price.as_str(),
            entered.size_quantums,
            entered.seq
        ),
        (BookSide::Buy, "50000", 1000, 1)
    );
    let second = level_of(&one(&cache, update("o2", 100)).await).unwrap();
    assert_eq!((second.size_quantums, second.seq), (1400, 2));

    // A partial fill of a resting order shrinks the level by the fill.
    let filled = level_of(&one(&cache, update("o1", 250)).await).unwrap();
    assert_eq!((filled.size_quantums, filled.seq), (1150, 3));

    // The same update again: zero delta, no level change, no seq.
    let replay = one(&cache, update("o1", 250)).await;
    assert!(
        matches!(
            replay,
            OpOutcome::Update(UpdateOutcome::Applied {
                zero_delta: true,
                level: None,
                ..
            })
        ),
        "{replay:?}"
    );
    assert_eq!(
        levels(&cache, BookSide::Buy).await,
        [("50000".to_string(), 1150)]
    );
    assert_eq!(book_snapshot(&cache, TICKER).await.unwrap().seq, 3);
    cache.clear().await.unwrap();
}

#[tokio::test]
async fn fills_beyond_the_size_are_capped_and_ioc_orders_never_rest() {
    let cache = fresh_cache().await;
    one(&cache, place(&order("o1", 2, 1000, "50001"))).await;
    one(&cache, update("o1", 0)).await;
    let over = one(&cache, update("o1", 5000)).await;
    match over {
        OpOutcome::Update(UpdateOutcome::Applied {
            new_exceeds_size: true,
            level: Some(level),
            ..
        }) => {
            assert_eq!((level.side, level.size_quantums), (BookSide::Sell, 0));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        levels(&cache, BookSide::Sell).await.is_empty(),
        "an empty level is removed"
    );

    let ioc = Order {
        tif: 1,
        ..order("o2", 2, 1000, "50002")
    };
    one(&cache, place(&ioc)).await;
    let outcome = one(&cache, update("o2", 100)).await;
    assert!(
        matches!(
            outcome,
            OpOutcome::Update(UpdateOutcome::Applied {
                immediate: true,
                level: None,
                ..
            })
        ),
        "{outcome:?}"
    );
    assert!(levels(&cache, BookSide::Sell).await.is_empty());
    cache.clear().await.unwrap();
}

#[tokio::test]
async fn removal_takes_the_remaining_size_out_and_remembers_the_cancel() {
    let cache = fresh_cache().await;
    one(&cache, place(&order("o1", 1, 1000, "49999.5"))).await;
    one(&cache, update("o1", 400)).await;
    let removed = one(
        &cache,
        OrderOp::Remove(remove("o1", RemovalStatus::BestEffortCanceled)),
    )
    .await;
    match &removed {
        OpOutcome::Remove(RemoveOutcome::Removed {
            total_filled: 400,
            resting: true,
            level: Some(level),
            redis_order,
            state_filled: None,
            ..
        }) => {
            assert_eq!(
                (level.price.as_str(), level.size_quantums, level.seq),
                ("49999.5", 0, 2)
            );
            assert_eq!(RedisOrder::decode(redis_order.as_slice()).unwrap().id, "o1");
        }
        other => panic!("{other:?}"),
    }
    assert!(get(&cache, cache.keys().order("o1")).await.is_none());
    assert!(get(&cache, cache.keys().order_data("o1")).await.is_none());
    let last: Vec<String> = redis::cmd("HKEYS")
        .arg(
            cache
                .keys()
                .orderbook_levels_last_updated(TICKER, BookSide::Buy),
        )
        .query_async(&mut cache.conn())
        .await
        .unwrap();
    assert!(
        last.is_empty(),
        "the empty level's lastUpdated entry goes too"
    );
    let score: Option<i64> = redis::cmd("ZSCORE")
        .arg(cache.keys().best_effort_cancelled_orders())
        .arg("o1")
        .query_async(&mut cache.conn())
        .await
        .unwrap();
    assert_eq!(score, Some(1_700_000_030_000));
    let expiry: Option<i64> = redis::cmd("ZSCORE")
        .arg(cache.keys().order_expiry())
        .arg("o1")
        .query_async(&mut cache.conn())
        .await
        .unwrap();
    assert_eq!(expiry, None);

    // Removing it again changes nothing.
    let again = one(
        &cache,
        OrderOp::Remove(remove("o1", RemovalStatus::BestEffortCanceled)),
    )
    .await;
    assert_eq!(again, OpOutcome::Remove(RemoveOutcome::Missing));
    assert_eq!(book_snapshot(&cache, TICKER).await.unwrap().seq, 2);
    cache.clear().await.unwrap();
}

#[tokio::test]
async fn indexer_expiry_only_removes_orders_whose_good_til_block_passed() {
    let cache = fresh_cache().await;
    one(&cache, place(&order("o1", 1, 10, "1"))).await; // good til block 10
    let early = RemoveOrder {
        expired_before_height: Some(10),
        ..remove("o1", RemovalStatus::Canceled)
    };
    assert_eq!(
        one(&cache, OrderOp::Remove(early)).await,
        OpOutcome::Remove(RemoveOutcome::NotExpired)
    );
    let late = RemoveOrder {
        expired_before_height: Some(11),
        ..remove("o1", RemovalStatus::Canceled)
    };
    assert!(matches!(
        one(&cache, OrderOp::Remove(late)).await,
        OpOutcome::Remove(RemoveOutcome::Removed { level: None, .. })
    ));
    let score: Option<i64> = redis::cmd("ZSCORE")
        .arg(cache.keys().cancelled_orders())
        .arg("o1")
        .query_async(&mut cache.conn())
        .await
        .unwrap();
    assert!(score.is_some());
    cache.clear().await.unwrap();
}

#[tokio::test]
async fn stateful_user_cancel_announces_the_level_even_when_nothing_remains() {
    let cache = fresh_cache().await;
    one(&cache, place(&order("o1", 1, 100, "7"))).await;
    one(&cache, place(&order("o2", 1, 100, "7"))).await;
    one(&cache, update("o1", 0)).await;
    one(&cache, update("o2", 100)).await; // fully filled, resting with nothing left
    let cancel = RemoveOrder {
        stateful_user_cancel: true,
        ..remove("o2", RemovalStatus::Canceled)
    };
    let level = level_of(&one(&cache, OrderOp::Remove(cancel)).await).unwrap();
    assert_eq!((level.size_quantums, level.seq), (100, 2));
    let in_set: Option<i64> = redis::cmd("ZSCORE")
        .arg(cache.keys().cancelled_orders())
        .arg("o2")
        .query_async(&mut cache.conn())
        .await
        .unwrap();
    assert_eq!(
        in_set, None,
        "stateful user cancels are not remembered as canceled"
    );
    cache.clear().await.unwrap();
}

#[tokio::test]
async fn an_update_before_the_placement_is_cached_and_popped_by_the_confirmed_placement() {
    let cache = fresh_cache().await;
    let cached = OrderOp::Update(UpdateOrder {
        cache_if_missing: Some(b"encoded-update".to_vec()),
        ..match update("s1", 40) {
            OrderOp::Update(u) => u,
            _ => unreachable!(),
        }
    });
    assert_eq!(
        one(&cache, cached).await,
        OpOutcome::Update(UpdateOutcome::Cached)
    );
    assert_eq!(
        one(&cache, update("s2", 40)).await,
        OpOutcome::Update(UpdateOutcome::Missing)
    );
    let placement = match place(&order("s1", 1, 100, "7")) {
        OrderOp::Place(p) => OrderOp::Place(PlaceOrder {
            pop_cached_update: true,
            short_term: false,
            ..p
        }),
        _ => unreachable!(),
    };
    match one(&cache, placement).await {
        OpOutcome::Place(PlaceOutcome {
            placed: true,
            cached_update: Some(update),
            ..
        }) => assert_eq!(update, b"encoded-update"),
        other => panic!("{other:?}"),
    }
    let left: u64 = redis::cmd("HLEN")
        .arg(cache.keys().stateful_order_updates())
        .query_async(&mut cache.conn())
        .await
        .unwrap();
    assert_eq!(left, 0);
    let expiry: Option<i64> = redis::cmd("ZSCORE")
        .arg(cache.keys().order_expiry())
        .arg("s1")
        .query_async(&mut cache.conn())
        .await
        .unwrap();
    assert_eq!(expiry, None, "stateful orders are not in the expiry set");
    cache.clear().await.unwrap();
}

#[tokio::test]
async fn replace_takes_the_old_order_out_and_stores_the_new_one_in_one_step() {
    let cache = fresh_cache().await;
    one(&cache, place(&order("old", 2, 1000, "60000"))).await;
    one(&cache, update("old", 100)).await;
    let new = order("new", 2, 2000, "60100");
    let outcome = one(
        &cache,
        OrderOp::Replace {
            remove: remove("old", RemovalStatus::BestEffortCanceled),
            place: match place(&new) {
                OrderOp::Place(p) => p,
                _ => unreachable!(),
            },
        },
    )
    .await;
    match outcome {
        OpOutcome::Replace {
            removed: RemoveOutcome::Removed {
                level: Some(level), ..
            },
            placed: PlaceOutcome { placed: true, .. },
        } => {
            assert_eq!((level.price.as_str(), level.size_quantums), ("60000", 0));
        }
        other => panic!("{other:?}"),
    }
    assert!(get(&cache, cache.keys().order("old")).await.is_none());
    assert!(get(&cache, cache.keys().order("new")).await.is_some());
    one(&cache, update("new", 0)).await;
    assert_eq!(
        levels(&cache, BookSide::Sell).await,
        [("60100".to_string(), 2000)]
    );
    cache.clear().await.unwrap();
}

#[tokio::test]
async fn quantities_beyond_two_to_the_53_stay_exact() {
    let cache = fresh_cache().await;
    let huge = 9_007_199_254_740_993u64; // 2^53 + 1: not representable as a double
    one(&cache, place(&order("o1", 1, huge, "1"))).await;
    let level = level_of(&one(&cache, update("o1", 0)).await).unwrap();
    assert_eq!(level.size_quantums, huge);
    let level = level_of(&one(&cache, update("o1", 1)).await).unwrap();
    assert_eq!(level.size_quantums, huge - 1);
    cache.clear().await.unwrap();
}

#[tokio::test]
async fn a_level_never_goes_negative() {
    let cache = fresh_cache().await;
    one(&cache, place(&order("o1", 1, 1000, "5"))).await;
    one(&cache, update("o1", 0)).await;
    // Someone else's bookkeeping shrank the level behind our back.
    let _: () = redis::cmd("HSET")
        .arg(cache.keys().orderbook_levels(TICKER, BookSide::Buy))
        .arg("5")
        .arg(10)
        .query_async(&mut cache.conn())
        .await
        .unwrap();
    let level = level_of(
        &one(
            &cache,
            OrderOp::Remove(remove("o1", RemovalStatus::Canceled)),
        )
        .await,
    )
    .unwrap();
    assert!(level.clamped);
    assert_eq!(level.size_quantums, 0);
    assert!(levels(&cache, BookSide::Buy).await.is_empty());
    cache.clear().await.unwrap();
}

#[tokio::test]
async fn operations_of_one_batch_see_each_other_in_order() {
    let cache = fresh_cache().await;
    let o = order("o1", 1, 1000, "3");
    let outcomes = run(
        &cache,
        vec![
            place(&o),
            update("o1", 0),
            update("o1", 600),
            OrderOp::Remove(remove("o1", RemovalStatus::Canceled)),
        ],
    )
    .await;
    let sizes: Vec<u64> = outcomes
        .iter()
        .filter_map(level_of)
        .map(|l| l.size_quantums)
        .collect();
    let seqs: Vec<u64> = outcomes
        .iter()
        .filter_map(level_of)
        .map(|l| l.seq)
        .collect();
    assert_eq!(sizes, [1000, 400, 0]);
    assert_eq!(seqs, [1, 2, 3]);
    cache.clear().await.unwrap();
}

/// Set and hash writes are flushed once at the end of a batch; the last write of the batch per
/// member must win, exactly as if they had been applied one by one.
#[tokio::test]
async fn the_last_write_of_a_batch_wins_for_levels_canceled_sets_expiry_and_open_orders() {
    let cache = fresh_cache().await;
    let (a, b) = (order("a", 1, 1000, "3"), order("b", 1, 500, "3"));
    // a: rests, is canceled (level emptied), then placed again and rests (level refilled).
    // b: placed, then canceled in the same batch (its cancel is remembered).
    run(
        &cache,
        vec![
            place(&a),
            update("a", 0),
            OrderOp::Remove(remove("a", RemovalStatus::Canceled)),
            place(&a),
            update("a", 0),
            place(&b),
            OrderOp::Remove(remove("b", RemovalStatus::Canceled)),
        ],
    )
    .await;
    let snap = book_snapshot(&cache, TICKER).await.unwrap();
    let bids: Vec<(&str, i64)> = snap
        .bids
        .iter()
        .map(|l| (l.price.as_str(), l.size_quantums))
        .collect();
    assert_eq!(bids, [("3", 1000)], "refilled level kept in both hashes");
    let keys = cache.keys();
    let canceled: Vec<String> = redis::cmd("ZRANGE")
        .arg(keys.cancelled_orders())
        .arg(0)
        .arg(-1)
        .query_async(&mut cache.conn())
        .await
        .unwrap();
    assert_eq!(canceled, ["b"], "a was placed again after its cancel");
    let expiring: Vec<String> = redis::cmd("ZRANGE")
        .arg(keys.order_expiry())
        .arg(0)
        .arg(-1)
        .query_async(&mut cache.conn())
        .await
        .unwrap();
    assert_eq!(expiring, ["a"]);
    let open: Vec<String> = redis::cmd("HKEYS")
        .arg(keys.subaccount_order_ids(SUBACCOUNT))
        .query_async(&mut cache.conn())
        .await
        .unwrap();
    assert_eq!(open, ["a"]);
    cache.clear().await.unwrap();
}

#[tokio::test]
async fn the_epoch_is_created_once_and_survives_until_redis_is_cleared() {
    let cache = fresh_cache().await;
    let first = apply_order_ops(&cache, &[update("x", 1)], 0, "E1")
        .await
        .unwrap();
    let second = apply_order_ops(&cache, &[update("x", 1)], 0, "E2")
        .await
        .unwrap();
    assert_eq!((first.epoch.as_str(), second.epoch.as_str()), ("E1", "E1"));
    cache.clear().await.unwrap();
    let after = apply_order_ops(&cache, &[update("x", 1)], 0, "E3")
        .await
        .unwrap();
    assert_eq!(after.epoch, "E3");
    cache.clear().await.unwrap();
}

#[tokio::test]
async fn orders_stored_without_companion_facts_are_read_from_the_protobuf() {
    let cache = fresh_cache().await;
    let huge = 9_007_199_254_740_993u64;
    let o = Order {
        tif: 0,
        ..order("o1", 2, huge, "50000.25")
    };
    one(&cache, place(&o)).await;
    let _: () = redis::cmd("DEL")
        .arg(cache.keys().order_book_facts("o1"))
        .query_async(&mut cache.conn())
        .await
        .unwrap();
    let level = level_of(&one(&cache, update("o1", 3)).await).unwrap();
    assert_eq!(
        (level.side, level.price.as_str(), level.size_quantums),
        (BookSide::Sell, "50000.25", huge - 3)
    );
    let level = level_of(
        &one(
            &cache,
            OrderOp::Remove(remove("o1", RemovalStatus::Canceled)),
        )
        .await,
    )
    .unwrap();
    assert_eq!(level.size_quantums, 0);
    cache.clear().await.unwrap();
}

/// Readers running beside a writer: every snapshot must be exactly the book after `seq` level
/// changes (never a level changed without its seq, or the reverse), and every order a reader
/// finds listed for the subaccount must have its data (no half-placed or half-removed order).
#[tokio::test]
async fn snapshots_and_seq_stay_consistent_under_concurrent_writes() {
    let cache = fresh_cache().await;
    let writer = {
        let cache = cache.clone();
        tokio::spawn(async move {
            let mut log: Vec<LevelChange> = Vec::new();
            for round in 0..60u64 {
                let uuid = format!("c{round}");
                let price: &'static str = ["1", "2", "3"][(round % 3) as usize];
                let o = order(&uuid, 1 + (round % 2) as i32, 100 + round, price);
                let outcomes = run(
                    &cache,
                    vec![place(&o), update(&uuid, 0), update(&uuid, round % 50)],
                )
                .await;
                log.extend(outcomes.iter().filter_map(level_of));
                if round % 4 == 3 {
                    let removed = one(
                        &cache,
                        OrderOp::Remove(remove(
                            &format!("c{}", round - 2),
                            RemovalStatus::Canceled,
                        )),
                    )
                    .await;
                    log.extend(level_of(&removed));
                }
            }
            log
        })
    };
    let mut snapshots = Vec::new();
    while !writer.is_finished() {
        snapshots.push(book_snapshot(&cache, TICKER).await.unwrap());
        let ids: Vec<String> = redis::cmd("HKEYS")
            .arg(cache.keys().subaccount_order_ids(SUBACCOUNT))
            .query_async(&mut cache.conn())
            .await
            .unwrap();
        for id in ids {
            // An order listed for the subaccount may be removed after HKEYS, but then its listing
            // is gone too: both go in one script.
            let (order, listed): (Option<Vec<u8>>, bool) = redis::pipe()
                .atomic()
                .cmd("GET")
                .arg(cache.keys().order_data(&id))
                .cmd("HEXISTS")
                .arg(cache.keys().subaccount_order_ids(SUBACCOUNT))
                .arg(&id)
                .query_async(&mut cache.conn())
                .await
                .unwrap();
            assert_eq!(order.is_some(), listed, "order {id} half stored");
        }
    }
    let log = writer.await.unwrap();
    assert!(snapshots.len() > 1, "the reader ran beside the writer");
    for snap in snapshots {
        let mut expected: std::collections::BTreeMap<(bool, String), u64> = Default::default();
        for change in log.iter().filter(|c| c.seq <= snap.seq) {
            expected.insert(
                (change.side == BookSide::Buy, change.price.clone()),
                change.size_quantums,
            );
        }
        expected.retain(|_, size| *size > 0);
        let actual: std::collections::BTreeMap<(bool, String), u64> = snap
            .bids
            .iter()
            .map(|l| ((true, l.price.clone()), l.size_quantums as u64))
            .chain(
                snap.asks
                    .iter()
                    .map(|l| ((false, l.price.clone()), l.size_quantums as u64)),
            )
            .collect();
        assert_eq!(actual, expected, "book at seq {}", snap.seq);
    }
    cache.clear().await.unwrap();
}
