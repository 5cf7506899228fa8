//! The processing path against the real Redis and Postgres: messages in, Redis state and the
//! Kafka messages to publish out.

use std::time::Instant;

use indexer_base::config::{Env, RedisSettings};
use indexer_bus::{MessageHeaders, Topic};
use indexer_cache::{book_snapshot, Cache};
use indexer_domain::MarketParams;
use indexer_proto::off_chain_updates::off_chain_update_v1::UpdateMessage;
use indexer_proto::off_chain_updates::{
    OffChainUpdateV1, OrderPlaceV1, OrderRemoveV1, OrderReplaceV1, OrderUpdateV1,
};
use indexer_proto::protocol::v1::indexer_order::GoodTilOneof;
use indexer_proto::protocol::v1::{IndexerOrder, IndexerOrderId, IndexerSubaccountId};
use indexer_proto::socks::{OrderbookMessage, SubaccountMessage};
use prost::Message;
use vulcan::markets::{Context, Market, Markets};
use vulcan::pipeline::{Inbound, Outgoing, ProcessedBatch, Processor, ProcessorSettings};

const OWNER: &str = "dydx1n88uc38xhjgxzw9nwre4ep2c8ga4fjxc565lnf";

async fn processor() -> (Processor, Cache) {
    let prefix = format!("test-{}:", uuid::Uuid::new_v4());
    let env = Env::from_pairs([("REDIS_KEY_PREFIX", prefix.as_str())]);
    let cache = Cache::connect(&RedisSettings::from_env(&env).unwrap())
        .await
        .unwrap();
    let btc = Market {
        clob_pair_id: 0,
        ticker: "BTC-USD".into(),
        params: MarketParams {
            atomic_resolution: -10,
            quantum_conversion_exponent: -9,
            subticks_per_tick: 100_000,
            step_base_quantums: 1_000_000,
        },
    };
    let context = Context::new(Markets::new([btc]), Some(100));
    (
        Processor::new(cache.clone(), None, context, ProcessorSettings::default()),
        cache,
    )
}

fn id(client_id: u32, flags: u32) -> IndexerOrderId {
    IndexerOrderId {
        subaccount_id: Some(IndexerSubaccountId {
            owner: OWNER.into(),
            number: 0,
        }),
        client_id,
        order_flags: flags,
        clob_pair_id: 0,
    }
}

fn order(client_id: u32, side: i32, quantums: u64, subticks: u64, gtb: u32) -> IndexerOrder {
    IndexerOrder {
        order_id: Some(id(client_id, 0)),
        side,
        quantums,
        subticks,
        good_til_oneof: Some(GoodTilOneof::GoodTilBlock(gtb)),
        ..Default::default()
    }
}

fn place(o: IndexerOrder) -> OffChainUpdateV1 {
    OffChainUpdateV1 {
        update_message: Some(UpdateMessage::OrderPlace(OrderPlaceV1 {
            order: Some(o),
            placement_status: 1,
            time_stamp: None,
        })),
    }
}

fn update(client_id: u32, filled: u64) -> OffChainUpdateV1 {
    OffChainUpdateV1 {
        update_message: Some(UpdateMessage::OrderUpdate(OrderUpdateV1 {
            order_id: Some(id(client_id, 0)),
            total_filled_quantums: filled,
        })),
    }
}

fn remove(client_id: u32, reason: i32, status: i32) -> OffChainUpdateV1 {
    OffChainUpdateV1 {
        update_message: Some(UpdateMessage::OrderRemove(OrderRemoveV1 {
            removed_order_id: Some(id(client_id, 0)),
            reason,
            removal_status: status,
            time_stamp: None,
        })),
    }
}

fn inbound(update: OffChainUpdateV1) -> Inbound {
    Inbound {
        raw: update.encode_to_vec(),
        update,
        key: None,
        headers: MessageHeaders::new().with("TransactionHash", vec![1, 2, 3]),
        kafka_timestamp_ms: Some(1_700_000_000_000),
        received: Instant::now(),
        meta: None,
    }
}

async fn run(p: &Processor, updates: Vec<OffChainUpdateV1>) -> ProcessedBatch {
    let batch: Vec<Inbound> = updates.into_iter().map(inbound).collect();
    p.process(&batch).await.unwrap()
}

fn books(out: &ProcessedBatch) -> Vec<(String, String, String)> {
    out.outgoing
        .iter()
        .filter(|m| m.topic == Topic::ToWebsocketsOrderbooks)
        .map(|m| {
            let msg = OrderbookMessage::decode(m.payload.as_slice()).unwrap();
            assert_eq!(
                (msg.clob_pair_id.as_str(), msg.version.as_str()),
                ("0", "1.0.0")
            );
            (
                msg.contents,
                m.headers.get_str("seq").unwrap().to_string(),
                m.headers.get_str("channel").unwrap().to_string(),
            )
        })
        .collect()
}

fn subaccount_messages(out: &ProcessedBatch) -> Vec<(serde_json::Value, &Outgoing)> {
    out.outgoing
        .iter()
        .filter(|m| m.topic == Topic::ToWebsocketsSubaccounts)
        .map(|m| {
            (
                serde_json::from_str(
                    &SubaccountMessage::decode(m.payload.as_slice())
                        .unwrap()
                        .contents,
                )
                .unwrap(),
                m,
            )
        })
        .collect()
}

#[tokio::test]
async fn a_short_term_order_lifecycle_produces_sequenced_level_and_subaccount_messages() {
    let (p, cache) = processor().await;
    // 0.1 BTC buy at 50000; rests, is partially filled, then canceled (best effort).
    let out = run(
        &p,
        vec![
            place(order(1, 1, 1_000_000_000, 5_000_000_000, 120)),
            update(1, 0),
            update(1, 250_000_000),
            remove(1, 2, 1),
        ],
    )
    .await;

    assert_eq!(
        books(&out),
        [
            (
                r#"{"bids":[["50000","0.1"]]}"#.to_string(),
                "1".to_string(),
                "v4_orderbook/BTC-USD".to_string()
            ),
            (
                r#"{"bids":[["50000","0.075"]]}"#.to_string(),
                "2".to_string(),
                "v4_orderbook/BTC-USD".to_string()
            ),
            (
                r#"{"bids":[["50000","0"]]}"#.to_string(),
                "3".to_string(),
                "v4_orderbook/BTC-USD".to_string()
            ),
        ]
    );
    let subs = subaccount_messages(&out);
    assert_eq!(subs.len(), 2);
    let placed = &subs[0].0["orders"][0];
    assert_eq!(placed["status"], "BEST_EFFORT_OPENED");
    assert_eq!(
        (
            placed["price"].as_str(),
            placed["size"].as_str(),
            placed["goodTilBlock"].as_str()
        ),
        (Some("50000"), Some("0.1"), Some("120"))
    );
    assert_eq!(subs[0].0["blockHeight"], "100");
    let removed = &subs[1].0["orders"][0];
    assert_eq!(
        (
            removed["status"].as_str(),
            removed["removalReason"].as_str()
        ),
        (
            Some("BEST_EFFORT_CANCELED"),
            Some("ORDER_REMOVAL_REASON_USER_CANCELED")
        )
    );
    assert_eq!(removed["totalOptimisticFilled"], "0.025");
    // Vulcan's own numbering of the subaccount channel, with the input headers forwarded.
    let seqs: Vec<&str> = subs
        .iter()
        .map(|(_, m)| m.headers.get_str("seq").unwrap())
        .collect();
    assert_eq!(seqs, ["1", "2"]);
    assert_eq!(subs[0].1.headers.get_str("source"), Some("vulcan"));
    assert_eq!(
        subs[0].1.headers.get_str("channel"),
        Some(format!("v4_subaccounts/{OWNER}/0").as_str())
    );
    assert_eq!(
        subs[0].1.headers.get("TransactionHash"),
        Some(&[1u8, 2, 3][..])
    );
    assert_eq!(
        subs[0].1.headers.get_str("event_type"),
        Some("ShortTermOrderPlacement")
    );
    let epochs: Vec<&str> = out
        .outgoing
        .iter()
        .map(|m| m.headers.get_str("epoch").unwrap())
        .collect();
    assert!(
        epochs.windows(2).all(|w| w[0] == w[1]),
        "one epoch for every stream: {epochs:?}"
    );

    let snap = book_snapshot(&cache, "BTC-USD").await.unwrap();
    assert!(snap.bids.is_empty());
    assert_eq!(snap.seq, 3);
    cache.clear().await.unwrap();
}

#[tokio::test]
async fn replaying_messages_does_not_double_count() {
    let (p, cache) = processor().await;
    let messages = vec![
        place(order(1, 2, 2_000_000_000, 6_000_000_000, 120)),
        update(1, 0),
        update(1, 500_000_000),
    ];
    run(&p, messages.clone()).await;
    let settled = book_snapshot(&cache, "BTC-USD").await.unwrap();
    assert_eq!(
        (
            settled.asks[0].price.as_str(),
            settled.asks[0].size_quantums,
            settled.seq
        ),
        ("60000", 1_500_000_000, 2)
    );

    // At-least-once delivery redelivers the last message: nothing changes, nothing is announced.
    let again = run(&p, vec![update(1, 500_000_000)]).await;
    assert!(books(&again).is_empty());
    let again = run(
        &p,
        vec![place(order(1, 2, 2_000_000_000, 6_000_000_000, 120))],
    )
    .await;
    assert!(books(&again).is_empty() && subaccount_messages(&again).is_empty());
    assert_eq!(book_snapshot(&cache, "BTC-USD").await.unwrap(), settled);

    // A whole sequence replayed (a consumer restarting behind its last commit) ends in the same
    // book: fills are absolute, so the level converges, and every message carries the level's
    // absolute size.
    let replay = run(&p, messages).await;
    let last = books(&replay).pop().unwrap();
    assert_eq!(last.0, r#"{"asks":[["60000","0.15"]]}"#);
    let snap = book_snapshot(&cache, "BTC-USD").await.unwrap();
    assert_eq!(
        (snap.asks.len(), snap.asks[0].size_quantums),
        (1, 1_500_000_000)
    );
    cache.clear().await.unwrap();
}

#[tokio::test]
async fn invalid_messages_are_dead_lettered_without_touching_state() {
    let (p, cache) = processor().await;
    let mut unknown_market = order(1, 1, 10, 10, 5);
    unknown_market.order_id.as_mut().unwrap().clob_pair_id = 77;
    let zero_size = order(2, 1, 0, 10, 5);
    let nothing = OffChainUpdateV1 {
        update_message: None,
    };
    let bad_status = remove(3, 2, 0);
    let out = run(
        &p,
        vec![
            place(unknown_market),
            place(zero_size),
            nothing,
            bad_status,
            update(9, 10),
            remove(9, 2, 1),
        ],
    )
    .await;
    let reasons: Vec<&str> = out.dead_letters.iter().map(|d| d.reason.as_str()).collect();
    assert_eq!(reasons.len(), 6, "{reasons:?}");
    assert!(reasons[0].contains("unknown market"), "{reasons:?}");
    assert!(reasons[1].contains("size must be positive"));
    assert!(reasons[4].contains("not in the book") && reasons[5].contains("not in the book"));
    assert_eq!(
        out.dead_letters[0].headers.get_str("dead_letter_reason"),
        Some(reasons[0])
    );
    // Nothing was stored; the only output is the reference's "missing order" cancel message.
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", cache.keys().prefix()))
        .query_async(&mut cache.conn())
        .await
        .unwrap();
    assert!(
        keys.iter()
            .all(|k| k.ends_with("v4/streamEpoch") || k.contains("subaccountSeq")),
        "{keys:?}"
    );
    let subs = subaccount_messages(&out);
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].0["orders"][0]["status"], "BEST_EFFORT_CANCELED");
    cache.clear().await.unwrap();
}

#[tokio::test]
async fn replace_moves_the_order_atomically() {
    let (p, cache) = processor().await;
    run(
        &p,
        vec![
            place(order(1, 1, 1_000_000_000, 5_000_000_000, 120)),
            update(1, 0),
        ],
    )
    .await;
    let mut new = order(2, 1, 3_000_000_000, 5_100_000_000, 130);
    new.client_metadata = 5;
    let replace = OffChainUpdateV1 {
        update_message: Some(UpdateMessage::OrderReplace(OrderReplaceV1 {
            old_order_id: Some(id(1, 0)),
            order: Some(new),
            placement_status: 1,
            time_stamp: None,
        })),
    };
    let out = run(&p, vec![replace, update(2, 0)]).await;
    let levels: Vec<String> = books(&out).into_iter().map(|b| b.0).collect();
    assert_eq!(
        levels,
        [
            r#"{"bids":[["50000","0"]]}"#,
            r#"{"bids":[["51000","0.3"]]}"#
        ]
    );
    let subs = subaccount_messages(&out);
    let statuses: Vec<(&str, Option<&str>)> = subs
        .iter()
        .map(|(c, _)| {
            (
                c["orders"][0]["status"].as_str().unwrap(),
                c["orders"][0]["removalReason"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (
                "BEST_EFFORT_CANCELED",
                Some("ORDER_REMOVAL_REASON_REPLACED")
            ),
            ("BEST_EFFORT_OPENED", None)
        ]
    );
    cache.clear().await.unwrap();
}

#[tokio::test]
async fn stateful_orders_are_announced_only_when_confirmed_and_pick_up_early_fills() {
    let (p, cache) = processor().await;
    let mut stateful = order(7, 1, 1_000_000_000, 5_000_000_000, 0);
    stateful.order_id = Some(id(7, 64));
    stateful.good_til_oneof = Some(GoodTilOneof::GoodTilBlockTime(1_700_003_600));
    let early_fill = OffChainUpdateV1 {
        update_message: Some(UpdateMessage::OrderUpdate(OrderUpdateV1 {
            order_id: Some(id(7, 64)),
            total_filled_quantums: 100,
        })),
    };
    let out = run(&p, vec![early_fill.clone()]).await;
    assert!(
        out.outgoing.is_empty() && out.dead_letters.is_empty(),
        "cached, not dead-lettered"
    );

    // The node's best-effort placement is stored silently; ender's confirmation is announced
    // and sends the cached fill back to to-vulcan.
    let best_effort = run(&p, vec![place(stateful.clone())]).await;
    assert!(best_effort.outgoing.is_empty());
    let confirmed = OffChainUpdateV1 {
        update_message: Some(UpdateMessage::OrderPlace(OrderPlaceV1 {
            order: Some(stateful),
            placement_status: 2,
            time_stamp: None,
        })),
    };
    let out = run(&p, vec![confirmed]).await;
    let requeued: Vec<&Outgoing> = out
        .outgoing
        .iter()
        .filter(|m| m.topic == Topic::ToVulcan)
        .collect();
    assert_eq!(requeued.len(), 1);
    assert_eq!(
        OffChainUpdateV1::decode(requeued[0].payload.as_slice()).unwrap(),
        early_fill
    );
    let subs = subaccount_messages(&out);
    assert_eq!(subs[0].0["orders"][0]["status"], "OPEN");
    assert_eq!(
        subs[0].0["orders"][0]["goodTilBlockTime"],
        "2023-11-14T23:13:20.000Z"
    );
    cache.clear().await.unwrap();
}

/// The Postgres side of stateful orders on a fresh, migrated database: a confirmed placement is
/// announced with its row's fields, and an on-chain user cancel is announced from the row (ender
/// owns the status write) while taking the order out of its level.
#[tokio::test]
async fn stateful_orders_are_announced_with_and_canceled_from_their_postgres_rows() {
    use indexer_domain::order_id::{db_order_uuid, subaccount_uuid};
    let db = indexer_testkit::db::TestDb::new().await;
    let (p, cache) = processor().await;
    let p = Processor::new(
        cache.clone(),
        Some(db.pool().clone()),
        p.context().clone(),
        ProcessorSettings::default(),
    );
    let subaccount = IndexerSubaccountId {
        owner: OWNER.into(),
        number: 0,
    };
    sqlx::query(
        r#"INSERT INTO subaccounts (id, address, "subaccountNumber", "updatedAt", "updatedAtHeight")
           VALUES ($1, $2, 0, now(), 90)"#,
    )
    .bind(subaccount_uuid(&subaccount))
    .bind(OWNER)
    .execute(db.pool())
    .await
    .unwrap();
    // Ender's row: created at height 90, updated at 95, 0.1 BTC at 50000, nothing filled.
    sqlx::query(
        r#"INSERT INTO orders (id, "subaccountId", "clientId", "clobPairId", side, size,
               "totalFilled", price, type, status, "timeInForce", "reduceOnly", "orderFlags",
               "goodTilBlockTime", "createdAtHeight", "clientMetadata", "updatedAt",
               "updatedAtHeight", "orderRouterAddress")
           VALUES ($1, $2, 7, 0, 'BUY', 0.1, 0, 50000, 'LIMIT', 'OPEN', 'GTT', false, 64,
               to_timestamp(1700003600), 90, 0, now(), 95, '')"#,
    )
    .bind(db_order_uuid(&id(7, 64)).unwrap())
    .bind(subaccount_uuid(&subaccount))
    .execute(db.pool())
    .await
    .unwrap();

    let mut stateful = order(7, 1, 1_000_000_000, 5_000_000_000, 0);
    stateful.order_id = Some(id(7, 64));
    stateful.good_til_oneof = Some(GoodTilOneof::GoodTilBlockTime(1_700_003_600));
    let confirmed = OffChainUpdateV1 {
        update_message: Some(UpdateMessage::OrderPlace(OrderPlaceV1 {
            order: Some(stateful),
            placement_status: 2,
            time_stamp: None,
        })),
    };
    let rests = OffChainUpdateV1 {
        update_message: Some(UpdateMessage::OrderUpdate(OrderUpdateV1 {
            order_id: Some(id(7, 64)),
            total_filled_quantums: 0,
        })),
    };
    let out = run(&p, vec![confirmed, rests]).await;
    let subs = subaccount_messages(&out);
    let placed = &subs[0].0["orders"][0];
    assert_eq!(
        (
            placed["status"].as_str(),
            placed["createdAtHeight"].as_str(),
            placed["updatedAtHeight"].as_str()
        ),
        (Some("OPEN"), Some("90"), Some("95"))
    );
    assert_eq!(books(&out)[0].0, r#"{"bids":[["50000","0.1"]]}"#);

    let user_cancel = OffChainUpdateV1 {
        update_message: Some(UpdateMessage::OrderRemove(OrderRemoveV1 {
            removed_order_id: Some(id(7, 64)),
            reason: 2,
            removal_status: 2,
            time_stamp: None,
        })),
    };
    let out = run(&p, vec![user_cancel]).await;
    assert_eq!(books(&out)[0].0, r#"{"bids":[["50000","0"]]}"#);
    let subs = subaccount_messages(&out);
    let canceled = &subs[0].0["orders"][0];
    assert_eq!(
        (
            canceled["status"].as_str(),
            canceled["size"].as_str(),
            canceled["price"].as_str(),
            canceled["createdAtHeight"].as_str(),
            canceled["removalReason"].as_str()
        ),
        (
            Some("CANCELED"),
            Some("0.1"),
            Some("50000"),
            Some("90"),
            Some("ORDER_REMOVAL_REASON_USER_CANCELED")
        )
    );
    let status: String = sqlx::query_scalar("SELECT status FROM orders WHERE \"clientId\" = 7")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(
        status, "OPEN",
        "the on-chain cancel's status is ender's to write"
    );
    cache.clear().await.unwrap();
    db.cleanup().await;
}
