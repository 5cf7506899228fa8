//! The outbox relay against the real Postgres, Kafka and Redis: committed blocks' messages reach
//! their topics in order with their channel `seq` and `epoch`, Redis effects are applied exactly
//! once, and the outbox is emptied.

use std::time::Duration;

use ender::block::RedisEffect;
use ender::consumer::{Ender, GateSettings, Verdict};
use ender::pipeline::BlockInputs;
use ender::redis_io::{applied_marker_key, apply_effect};
use ender::relay::Relay;
use ender::state::ProcessSettings;
use indexer_base::config::RedisSettings;
use indexer_bus::consumer::{BusConsumer, ConsumerOptions, Decoder, StartAt};
use indexer_bus::producer::BusProducer;
use indexer_bus::topics::Topic;
use indexer_cache::Cache;
use indexer_proto::events as ev;
use indexer_proto::indexer_manager::indexer_tendermint_event::{BlockEvent, OrderingWithinBlock};
use indexer_proto::indexer_manager::{IndexerTendermintBlock, IndexerTendermintEvent};
use indexer_proto::socks;
use indexer_testkit::db::TestDb;
use indexer_testkit::kafka::TestTopics;
use prost::Message;
use redis::AsyncCommands;

fn event(
    subtype: &str,
    ordering: OrderingWithinBlock,
    index: u32,
    version: u32,
    payload: impl Message,
) -> IndexerTendermintEvent {
    IndexerTendermintEvent {
        subtype: subtype.into(),
        ordering_within_block: Some(ordering),
        event_index: index,
        version,
        data_bytes: payload.encode_to_vec(),
    }
}

fn tx(index: u32, subtype: &str, version: u32, payload: impl Message) -> IndexerTendermintEvent {
    event(
        subtype,
        OrderingWithinBlock::TransactionIndex(0),
        index,
        version,
        payload,
    )
}

fn block(height: u32, events: Vec<IndexerTendermintEvent>) -> Vec<u8> {
    IndexerTendermintBlock {
        height,
        time: Some(prost_types::Timestamp {
            seconds: 1_704_067_200 + i64::from(height),
            nanos: 0,
        }),
        events,
        tx_hashes: vec!["HASH".into()],
    }
    .encode_to_vec()
}

fn genesis() -> Vec<u8> {
    use ev::market_event_v1::Event;
    let owner = "dydx1n88uc38xhjgxzw9nwre4ep2c8ga4fjxc565lnf";
    block(
        0,
        vec![
            tx(
                0,
                "market",
                1,
                ev::MarketEventV1 {
                    market_id: 0,
                    event: Some(Event::MarketCreate(ev::MarketCreateEventV1 {
                        base: Some(ev::MarketBaseEventV1 {
                            pair: "BTC-USD".into(),
                            min_price_change_ppm: 50,
                        }),
                        exponent: -5,
                    })),
                },
            ),
            tx(
                1,
                "market",
                1,
                ev::MarketEventV1 {
                    market_id: 0,
                    event: Some(Event::PriceUpdate(ev::MarketPriceUpdateEventV1 {
                        price_with_exponent: 5_000_000_000,
                    })),
                },
            ),
            tx(
                2,
                "liquidity_tier",
                2,
                ev::LiquidityTierUpsertEventV2 {
                    id: 0,
                    name: "Large-Cap".into(),
                    initial_margin_ppm: 50_000,
                    maintenance_fraction_ppm: 600_000,
                    ..Default::default()
                },
            ),
            tx(
                3,
                "perpetual_market",
                3,
                ev::PerpetualMarketCreateEventV3 {
                    id: 0,
                    clob_pair_id: 0,
                    ticker: "BTC-USD".into(),
                    market_id: 0,
                    status: 1,
                    quantum_conversion_exponent: -9,
                    atomic_resolution: -10,
                    subticks_per_tick: 100_000,
                    step_base_quantums: 1_000_000,
                    liquidity_tier: 0,
                    market_type: 1,
                    default_funding8hr_ppm: 0,
                },
            ),
            tx(
                4,
                "subaccount_update",
                1,
                ev::SubaccountUpdateEventV1 {
                    subaccount_id: Some(indexer_proto::protocol::v1::IndexerSubaccountId {
                        owner: owner.into(),
                        number: 0,
                    }),
                    updated_perpetual_positions: vec![
                        indexer_proto::protocol::v1::IndexerPerpetualPosition {
                            perpetual_id: 0,
                            quantums: indexer_domain::serializable_int::encode(
                                &1_000_000_000.into(),
                            ),
                            ..Default::default()
                        },
                    ],
                    updated_asset_positions: vec![],
                },
            ),
            event(
                "funding_values",
                OrderingWithinBlock::BlockEvent(BlockEvent::EndBlock as i32),
                0,
                1,
                ev::FundingEventV1 {
                    updates: vec![ev::FundingUpdateV1 {
                        perpetual_id: 0,
                        funding_value_ppm: 10,
                        funding_index: vec![],
                    }],
                    r#type: 1,
                },
            ),
        ],
    )
}

fn raw_decoder() -> Decoder<Vec<u8>> {
    Box::new(|bytes: &[u8]| Ok(bytes.to_vec()))
}

async fn read_all(
    topics: &TestTopics,
    topic: Topic,
    count: usize,
) -> Vec<indexer_bus::consumer::Received<Vec<u8>>> {
    let options = ConsumerOptions::new(
        format!("ender-relay-test-{}", uuid::Uuid::new_v4()),
        [topic],
    );
    let consumer = BusConsumer::assign(
        &topics.settings,
        &options,
        StartAt::Beginning,
        raw_decoder(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    while out.len() < count {
        let received = tokio::time::timeout(Duration::from_secs(20), consumer.next())
            .await
            .expect("message within 20 s")
            .unwrap();
        out.push(received);
    }
    out
}

#[tokio::test]
async fn relay_publishes_sequenced_messages_and_applies_redis_effects_once() {
    let db = TestDb::new().await;
    let topics = TestTopics::new().await;
    let redis_settings = RedisSettings {
        key_prefix: format!("test-{}:", uuid::Uuid::new_v4().simple()),
        ..RedisSettings::from_env(&indexer_base::config::Env::process()).unwrap()
    };
    let cache = Cache::connect(&redis_settings).await.unwrap();
    let mut ender = Ender::start(
        db.pool().clone(),
        GateSettings::default(),
        ProcessSettings::default(),
    )
    .await
    .unwrap();
    assert!(matches!(
        ender.handle(&genesis(), BlockInputs::default()).await,
        Ok(Verdict::Processed { height: 0, .. })
    ));
    assert!(matches!(
        ender
            .handle(&block(1, vec![]), BlockInputs::default())
            .await,
        Ok(Verdict::Processed { height: 1, .. })
    ));

    let relay = Relay::new(
        db.pool().clone(),
        BusProducer::new(&topics.settings).unwrap(),
        cache.clone(),
    );
    let published = relay.publish_batch().await.unwrap();
    assert!(
        published >= 5,
        "block heights, markets, subaccount and the Redis effect: {published}"
    );
    assert_eq!(
        relay.publish_batch().await.unwrap(),
        0,
        "the outbox is empty once published"
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM ender_outbox")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(left, 0);

    let epoch: uuid::Uuid = sqlx::query_scalar("SELECT epoch FROM ender_progress")
        .fetch_one(db.pool())
        .await
        .unwrap();
    let heights = read_all(&topics, Topic::ToWebsocketsBlockHeight, 2).await;
    let decoded: Vec<(String, String, String)> = heights
        .iter()
        .map(|m| {
            let message = socks::BlockHeightMessage::decode(m.payload.as_slice()).unwrap();
            (
                message.block_height,
                m.meta.headers.get_str("seq").unwrap().to_owned(),
                m.meta.headers.get_str("epoch").unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        decoded,
        [
            ("0".into(), "1".into(), epoch.to_string()),
            ("1".into(), "2".into(), epoch.to_string())
        ]
    );
    let subaccounts = read_all(&topics, Topic::ToWebsocketsSubaccounts, 1).await;
    assert_eq!(
        subaccounts[0].meta.headers.get_str("channel"),
        Some("v4_subaccounts/dydx1n88uc38xhjgxzw9nwre4ep2c8ga4fjxc565lnf/0")
    );
    assert_eq!(subaccounts[0].meta.headers.get_str("source"), Some("ender"));
    let contents = socks::SubaccountMessage::decode(subaccounts[0].payload.as_slice())
        .unwrap()
        .contents;
    // Genesis applies the ordered events (the price) first: 0.1 × (50000 − entry 0).
    assert!(
        contents.contains("\"unrealizedPnl\":\"5000\""),
        "{contents}"
    );

    let key = format!("{}v4/nextFunding/BTC-USD", redis_settings.key_prefix);
    let samples: Vec<String> = cache.conn().lrange(&key, 0, -1).await.unwrap();
    assert_eq!(samples, ["0.00000125"]);
    // A relay that crashed after applying but before deleting re-applies the same row: no-op.
    let marker = applied_marker_key(&cache, &epoch);
    let applied_id: i64 = cache.conn().get(&marker).await.unwrap();
    let effect = RedisEffect::PushNextFundingSample {
        ticker: "BTC-USD".into(),
        rate: "0.00000125".parse().unwrap(),
    };
    assert!(!apply_effect(&cache, &marker, applied_id, &effect)
        .await
        .unwrap());
    let samples: Vec<String> = cache.conn().lrange(&key, 0, -1).await.unwrap();
    assert_eq!(samples.len(), 1);

    let _: () = cache.conn().del(&[key, marker]).await.unwrap();
    drop(relay);
    topics.cleanup().await.unwrap();
    db.cleanup().await;
}
