//! End to end through the real Kafka: a producer writes each `to-websockets-*` topic the way
//! ender and vulcan do (protobuf value, seq/epoch/source headers), socks' feed consumes it, and a
//! websocket client receives the frames.

mod common;

use common::{Client, TestServer};
use indexer_bus::{BusProducer, MessageHeaders, StartAt, Topic};
use indexer_proto::protocol::v1::IndexerSubaccountId;
use indexer_proto::socks::{
    BlockHeightMessage, CandleMessage, MarketMessage, OrderbookMessage, SubaccountMessage,
    TradeMessage,
};
use indexer_testkit::kafka::TestTopics;
use prost::Message as _;
use serde_json::json;
use socks::feed::Feed;
use tokio_util::sync::CancellationToken;

struct FeedServer {
    server: TestServer,
    topics: TestTopics,
    producer: BusProducer,
    stop: CancellationToken,
    feed: tokio::task::JoinHandle<()>,
}

impl FeedServer {
    async fn start() -> FeedServer {
        let server = TestServer::start(&[]).await;
        let topics = TestTopics::new().await;
        // Topics are fresh, so reading from the beginning misses nothing produced later.
        let feed = Feed::connect(&topics.settings, StartAt::Beginning)
            .await
            .unwrap();
        let stop = CancellationToken::new();
        let task = tokio::spawn({
            let hub = std::sync::Arc::clone(&server.ctx.hub);
            let markets = server.ctx.markets.clone();
            let stop = stop.clone();
            async move { feed.run(hub, markets, stop).await.unwrap() }
        });
        FeedServer {
            producer: BusProducer::new(&topics.settings).unwrap(),
            server,
            topics,
            stop,
            feed: task,
        }
    }

    async fn send(
        &self,
        topic: Topic,
        key: Option<&[u8]>,
        payload: Vec<u8>,
        headers: MessageHeaders,
    ) {
        self.producer
            .send(topic, key, &payload, &headers)
            .await
            .unwrap();
    }

    async fn stop(self) {
        self.stop.cancel();
        self.feed.await.unwrap();
        drop(self.producer);
        self.topics.cleanup().await.unwrap();
        self.server.stop().await;
    }
}

fn sequenced(source: Option<&str>, epoch: &str, seq: u64) -> MessageHeaders {
    let headers = MessageHeaders::new()
        .with("seq", seq.to_string())
        .with("epoch", epoch)
        .with("message_received_timestamp", "1700000000000");
    match source {
        Some(source) => headers.with("source", source),
        None => headers,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn orderbook_topic_reaches_unbatched_and_batched_subscribers_without_duplicates() {
    let feed = FeedServer::start().await;
    let (mut single, _) = Client::connected(&feed.server.url).await;
    let (mut batched, _) = Client::connected(&feed.server.url).await;
    let sub = |batched: bool| json!({"type": "subscribe", "channel": "v4_orderbook", "id": "BTC-USD", "batched": batched});
    assert_eq!(single.subscribe(sub(false)).await["type"], "subscribed");
    assert_eq!(batched.subscribe(sub(true)).await["type"], "subscribed");
    let level = |price: &str| {
        OrderbookMessage {
            contents: format!(r#"{{"bids":[["{price}","0.5"]]}}"#),
            clob_pair_id: "0".into(),
            version: "1.0.0".into(),
        }
        .encode_to_vec()
    };
    // Vulcan numbers order-book messages without a source header.
    for (seq, price) in [(1, "64000"), (1, "64000"), (2, "64001")] {
        feed.send(
            Topic::ToWebsocketsOrderbooks,
            None,
            level(price),
            sequenced(None, "r1", seq),
        )
        .await;
    }
    let first = single.next_json().await;
    assert_eq!(first["type"], "channel_data");
    assert_eq!(first["id"], "BTC-USD");
    assert_eq!(first["contents"], json!({"bids": [["64000", "0.5"]]}));
    assert_eq!(
        (first["epoch"].clone(), first["seq"].clone()),
        (json!("r1"), json!(1))
    );
    assert!(first.get("stream").is_none());
    let second = single.next_json().await;
    assert_eq!(second["seq"], 2, "the duplicate seq 1 was dropped");

    feed.server.ctx.hub.flush_batches();
    let batch = batched.next_json().await;
    assert_eq!(batch["type"], "channel_batch_data");
    assert_eq!(
        batch["contents"],
        json!([{"bids": [["64000", "0.5"]]}, {"bids": [["64001", "0.5"]]}])
    );
    assert_eq!(
        (batch["first_seq"].clone(), batch["seq"].clone()),
        (json!(1), json!(2))
    );
    feed.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn trades_topic() {
    let feed = FeedServer::start().await;
    let (mut client, id) = Client::connected(&feed.server.url).await;
    let subscribed = client
        .subscribe(json!({"type": "subscribe", "channel": "v4_trades", "id": "ETH-USD"}))
        .await;
    assert_eq!(subscribed["contents"], json!({"trades": []}));
    let contents = r#"{"trades":[{"id":"00f1467d0000000200000009","size":"0.5","price":"3001","side":"BUY","createdAt":"2024-05-01T12:34:56.301Z","type":"LIMIT"}]}"#;
    let message = TradeMessage {
        block_height: "15813001".into(),
        contents: contents.into(),
        clob_pair_id: "1".into(),
        version: "2.1.0".into(),
    };
    feed.send(
        Topic::ToWebsocketsTrades,
        None,
        message.encode_to_vec(),
        sequenced(Some("ender"), "pg-epoch", 1),
    )
    .await;
    assert_eq!(
        client.next_json().await,
        json!({"type": "channel_data", "connection_id": id, "message_id": 2,
               "id": "ETH-USD", "channel": "v4_trades", "version": "2.1.0",
               "contents": serde_json::from_str::<serde_json::Value>(contents).unwrap(),
               "epoch": "pg-epoch", "seq": 1})
    );
    feed.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn markets_topic() {
    let feed = FeedServer::start().await;
    let (mut client, _) = Client::connected(&feed.server.url).await;
    let subscribed = client
        .subscribe(json!({"type": "subscribe", "channel": "v4_markets"}))
        .await;
    assert_eq!(
        subscribed["contents"]["markets"]["BTC-USD"]["clobPairId"],
        "0"
    );
    let contents = r#"{"oraclePrices":{"BTC-USD":{"oraclePrice":"64000.5","effectiveAt":"2024-05-01T12:34:56.301Z","effectiveAtHeight":"15813001","marketId":0}}}"#;
    let message = MarketMessage {
        contents: contents.into(),
        version: "1.0.0".into(),
    };
    feed.send(
        Topic::ToWebsocketsMarkets,
        None,
        message.encode_to_vec(),
        MessageHeaders::new(),
    )
    .await;
    let frame = client.next_json().await;
    assert_eq!(frame["type"], "channel_data");
    assert_eq!(frame["channel"], "v4_markets");
    assert!(frame.get("id").is_none(), "v4_markets frames have no id");
    assert!(
        frame.get("seq").is_none(),
        "an unsequenced message has no seq"
    );
    assert_eq!(
        frame["contents"]["oraclePrices"]["BTC-USD"]["oraclePrice"],
        "64000.5"
    );
    feed.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn candles_topic() {
    let feed = FeedServer::start().await;
    let (mut client, _) = Client::connected(&feed.server.url).await;
    let subscribed = client
        .subscribe(json!({"type": "subscribe", "channel": "v4_candles", "id": "BTC-USD/1HOUR"}))
        .await;
    assert_eq!(subscribed["contents"], json!({"candles": []}));
    let candle = |resolution: i32, close: &str| {
        CandleMessage {
            contents: format!(r#"{{"ticker":"BTC-USD","close":"{close}"}}"#),
            clob_pair_id: "0".into(),
            resolution,
            version: "1.0.0".into(),
        }
        .encode_to_vec()
    };
    // A 1MIN candle is another channel id; the 1HOUR one (enum 4) reaches the subscriber.
    feed.send(
        Topic::ToWebsocketsCandles,
        None,
        candle(0, "1"),
        MessageHeaders::new(),
    )
    .await;
    feed.send(
        Topic::ToWebsocketsCandles,
        None,
        candle(4, "2"),
        MessageHeaders::new(),
    )
    .await;
    let frame = client.next_json().await;
    assert_eq!(frame["id"], "BTC-USD/1HOUR");
    assert_eq!(frame["contents"]["close"], "2");
    feed.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn block_height_topic() {
    let feed = FeedServer::start().await;
    sqlx::query(r#"INSERT INTO blocks ("blockHeight", "time") VALUES (15813000, '2024-05-01T12:34:55.120Z')"#)
        .execute(feed.server.db.pool())
        .await
        .unwrap();
    let (mut client, _) = Client::connected(&feed.server.url).await;
    let subscribed = client
        .subscribe(json!({"type": "subscribe", "channel": "v4_block_height"}))
        .await;
    assert_eq!(
        subscribed["contents"],
        json!({"height": "15813000", "time": "2024-05-01T12:34:55.120Z"})
    );
    let message = BlockHeightMessage {
        block_height: "15813001".into(),
        time: "2024-05-01T12:34:56.301Z".into(),
        version: "1.0.0".into(),
    };
    feed.send(
        Topic::ToWebsocketsBlockHeight,
        None,
        message.encode_to_vec(),
        sequenced(Some("ender"), "pg", 1),
    )
    .await;
    let frame = client.next_json().await;
    assert_eq!(frame["id"], "v4_block_height");
    assert_eq!(
        frame["contents"],
        json!({"blockHeight": "15813001", "time": "2024-05-01T12:34:56.301Z"})
    );
    feed.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn subaccounts_topic_reaches_the_subaccount_and_its_parent() {
    let feed = FeedServer::start().await;
    let owner = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art";
    let (mut child, _) = Client::connected(&feed.server.url).await;
    let (mut parent, _) = Client::connected(&feed.server.url).await;
    // Neither exists yet: subscribing still succeeds, with empty contents.
    let subscribed = child
        .subscribe(
            json!({"type": "subscribe", "channel": "v4_subaccounts", "id": format!("{owner}/128")}),
        )
        .await;
    assert_eq!(subscribed["contents"], json!({}));
    let subscribed = parent
        .subscribe(json!({"type": "subscribe", "channel": "v4_parent_subaccounts", "id": format!("{owner}/0")}))
        .await;
    assert_eq!(subscribed["contents"], json!({}));
    let contents = format!(
        r#"{{"transfers":{{"sender":{{"address":"{owner}","subaccountNumber":0}},"recipient":{{"address":"{owner}","subaccountNumber":128}},"symbol":"USDC","size":"5"}},"blockHeight":"15813001"}}"#
    );
    let message = SubaccountMessage {
        block_height: "15813001".into(),
        transaction_index: 0,
        event_index: 0,
        contents: contents.clone(),
        subaccount_id: Some(IndexerSubaccountId {
            owner: owner.into(),
            number: 128,
        }),
        version: "3.0.0".into(),
    };
    let key = b"subaccount-key".as_slice();
    feed.send(
        Topic::ToWebsocketsSubaccounts,
        Some(key),
        message.encode_to_vec(),
        sequenced(Some("ender"), "pg", 7),
    )
    .await;
    let frame = child.next_json().await;
    assert_eq!(frame["id"], format!("{owner}/128"));
    assert_eq!(frame["version"], "3.0.0");
    assert_eq!(
        frame["contents"],
        serde_json::from_str::<serde_json::Value>(&contents).unwrap()
    );
    assert!(frame.get("subaccountNumber").is_none());
    assert_eq!(
        (frame["stream"].clone(), frame["seq"].clone()),
        (json!("ender"), json!(7))
    );

    let frame = parent.next_json().await;
    assert_eq!(frame["channel"], "v4_parent_subaccounts");
    assert_eq!(frame["id"], format!("{owner}/0"));
    assert_eq!(frame["subaccountNumber"], 128);
    assert_eq!(
        frame["contents"],
        json!({"blockHeight": "15813001"}),
        "a transfer between children of one parent is not shown on the parent"
    );
    assert_eq!(frame["seq"], 7);
    feed.stop().await;
}
