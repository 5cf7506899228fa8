//! GraphQL (serve.md §6): queries return the REST values, nested collections are batched,
//! depth and complexity limits reject with clear errors, and a subscription over a real
//! `graphql-transport-ws` WebSocket receives an update produced to real Kafka.

mod common;

use std::time::Duration;

use common::seed::{book_level, FillSeed};
use common::{address, Seed, TestApp};
use futures::{SinkExt, StreamExt};
use indexer_bus::{BusProducer, MessageHeaders, Topic};
use indexer_cache::BookSide;
use indexer_proto::socks::BlockHeightMessage;
use indexer_testkit::kafka::TestTopics;
use prost::Message as _;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// POSTs a GraphQL operation and returns the JSON body.
async fn graphql(app: &TestApp, query: &str, variables: Value) -> Value {
    let response = app
        .client
        .post(format!("{}/v4/graphql", app.base_url))
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.expect("JSON body")
}

fn no_errors(body: &Value) -> &Value {
    assert!(body.get("errors").is_none(), "unexpected errors: {body}");
    &body["data"]
}

#[tokio::test]
async fn market_queries_return_the_rest_values() {
    let app = TestApp::start(common::db_with_markets(1..=12).await).await;
    let cache = app.state.cache();
    book_level(cache, "BTC-USD", BookSide::Buy, "49990", 12_345_000_000, 10).await;
    book_level(
        cache,
        "BTC-USD",
        BookSide::Sell,
        "50020",
        30_012_000_000,
        10,
    )
    .await;

    let body = graphql(
        &app,
        r#"query {
            height { height time }
            time { iso }
            perpetualMarkets { ticker clobPairId oraclePrice priceChange24H volume24H
                initialMarginFraction tickSize stepSize atomicResolution marketType }
            orderbook(ticker: "BTC-USD") { ticker bids { price size } asks { price size } }
        }"#,
        json!({}),
    )
    .await;
    let data = no_errors(&body);

    let height = app.get("/v4/height").await.body;
    assert_eq!(data["height"]["height"], height["height"]);
    assert_eq!(data["height"]["time"], height["time"]);
    assert!(data["time"]["iso"].as_str().unwrap().ends_with('Z'));

    let rest = app.get("/v4/perpetualMarkets").await.body;
    let markets = data["perpetualMarkets"].as_array().unwrap();
    assert_eq!(markets.len(), 2);
    for market in markets {
        let ticker = market["ticker"].as_str().unwrap();
        let expected = &rest["markets"][ticker];
        for field in [
            "clobPairId",
            "oraclePrice",
            "priceChange24H",
            "volume24H",
            "initialMarginFraction",
            "tickSize",
            "stepSize",
            "atomicResolution",
            "marketType",
        ] {
            assert_eq!(market[field], expected[field], "{ticker} {field}");
        }
    }

    let book = app.get("/v4/orderbooks/perpetualMarket/BTC-USD").await.body;
    assert_eq!(data["orderbook"]["bids"], book["bids"]);
    assert_eq!(data["orderbook"]["asks"], book["asks"]);
    assert_eq!(data["orderbook"]["bids"][0]["size"], "1.2345");
    app.stop().await;
}

#[tokio::test]
async fn unknown_ticker_and_bad_arguments_are_clear_errors() {
    let app = TestApp::start(common::db_with_markets(1..=3).await).await;
    let body = graphql(
        &app,
        r#"{ orderbook(ticker: "NOPE-USD") { ticker } }"#,
        json!({}),
    )
    .await;
    assert_eq!(
        body["errors"][0]["message"],
        "NOPE-USD not found in markets of type PERPETUAL"
    );
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");

    let body = graphql(
        &app,
        r#"{ trades(ticker: "BTC-USD", limit: 1001) { items { id } } }"#,
        json!({}),
    )
    .await;
    let error = &body["errors"][0];
    assert_eq!(
        error["message"],
        "limit must be a positive integer that is not greater than max: 1000"
    );
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(error["extensions"]["param"], "limit");

    let body = graphql(
        &app,
        r#"{ address(address: "not-an-address") { address } }"#,
        json!({}),
    )
    .await;
    assert_eq!(
        body["errors"][0]["message"],
        "address must be a valid dydx address"
    );

    // Unknown accounts are null, not errors.
    let body = graphql(
        &app,
        r#"query($a: String!) { subaccount(address: $a, subaccountNumber: 0) { equity } }"#,
        json!({ "a": address(9) }),
    )
    .await;
    assert_eq!(no_errors(&body)["subaccount"], Value::Null);
    app.stop().await;
}

/// Three subaccounts with fills at heights 2..=5 in BTC-USD.
async fn seed_account(app: &TestApp, owner: &str) {
    let seed = Seed {
        pool: app.db.pool(),
    };
    for number in 0..3u32 {
        let subaccount = seed.subaccount(owner, number, 5).await;
        seed.usdc(subaccount, "1000", true).await;
        for height in 2..=5i64 {
            let event = seed.event(height, number, 0).await;
            seed.fill(FillSeed {
                subaccount,
                side: "BUY",
                liquidity: "TAKER",
                fill_type: "LIMIT",
                clob_pair_id: 0,
                size: &format!("0.{height}{number}"),
                price: "50000",
                fee: "0.5",
                height,
                event,
                order_id: None,
            })
            .await;
        }
    }
}

#[tokio::test]
async fn nested_fills_of_every_subaccount_come_from_one_batched_read() {
    let app = TestApp::start(common::db_with_markets(1..=6).await).await;
    let owner = address(3);
    seed_account(&app, &owner).await;

    let batches_before = comlink::graphql::loaders::fills_batches();
    let body = graphql(
        &app,
        r#"query($a: String!) {
            address(address: $a) {
                address totalTradingRewards
                subaccounts { subaccountNumber equity freeCollateral
                    assetPositions { symbol size side }
                    fills(limit: 2) { items { id size price fee createdAtHeight market } pageSize }
                }
            }
        }"#,
        json!({ "a": owner }),
    )
    .await;
    let data = no_errors(&body);
    assert_eq!(
        comlink::graphql::loaders::fills_batches() - batches_before,
        1,
        "three subaccounts' fills must be read in one batch"
    );
    let subaccounts = data["address"]["subaccounts"].as_array().unwrap();
    assert_eq!(subaccounts.len(), 3);
    let rest_address = app.get(&format!("/v4/addresses/{owner}")).await.body;
    for (index, subaccount) in subaccounts.iter().enumerate() {
        let number = subaccount["subaccountNumber"].as_i64().unwrap();
        assert_eq!(number, index as i64);
        let rest = &rest_address["subaccounts"][index];
        assert_eq!(subaccount["equity"], rest["equity"]);
        assert_eq!(subaccount["freeCollateral"], rest["freeCollateral"]);
        assert_eq!(
            subaccount["assetPositions"][0]["size"],
            rest["assetPositions"]["USDC"]["size"]
        );

        // Per subaccount: its own two newest fills, exactly as REST returns them.
        let fills = app
            .get(&format!(
                "/v4/fills?address={owner}&subaccountNumber={number}&limit=2"
            ))
            .await
            .body;
        let items = subaccount["fills"]["items"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        for (got, want) in items.iter().zip(fills["fills"].as_array().unwrap()) {
            for field in ["id", "size", "price", "fee", "createdAtHeight", "market"] {
                assert_eq!(got[field], want[field], "subaccount {number} {field}");
            }
        }
        assert_eq!(items[0]["size"], format!("0.5{number}"));
        assert_eq!(subaccount["fills"]["pageSize"], Value::Null);
    }

    // Paged: pageSize/totalResults/offset per subaccount, oldest first.
    let body = graphql(
        &app,
        r#"query($a: String!) { subaccount(address: $a, subaccountNumber: 1) {
            fills(limit: 3, page: 2) { items { createdAtHeight } pageSize totalResults offset } } }"#,
        json!({ "a": owner }),
    )
    .await;
    let page = &no_errors(&body)["subaccount"]["fills"];
    assert_eq!(page["totalResults"], 4);
    assert_eq!(page["pageSize"], 3);
    assert_eq!(page["offset"], 3);
    assert_eq!(page["items"], json!([{ "createdAtHeight": "5" }]));

    // Trade history and rewards: the REST values.
    let seed = Seed {
        pool: app.db.pool(),
    };
    seed.wallet(&owner, "1.25").await;
    seed.trading_reward(&owner, 4, "1.25").await;
    let body = graphql(
        &app,
        r#"query($a: String!) {
            subaccount(address: $a, subaccountNumber: 2) {
                tradeHistory(limit: 10) { items { id action side prevSize additionalSize value netFee }
                    pageSize totalResults offset } }
            address(address: $a) { historicalBlockTradingRewards { tradingReward createdAtHeight } }
        }"#,
        json!({ "a": owner }),
    )
    .await;
    let data = no_errors(&body);
    let rest = app
        .get(&format!(
            "/v4/tradeHistory?address={owner}&subaccountNumber=2&limit=10"
        ))
        .await
        .body;
    let history = &data["subaccount"]["tradeHistory"];
    assert_eq!(history["totalResults"], rest["totalResults"]);
    let rows = history["items"].as_array().unwrap();
    assert!(!rows.is_empty());
    for (got, want) in rows.iter().zip(rest["tradeHistory"].as_array().unwrap()) {
        for field in [
            "id",
            "action",
            "side",
            "prevSize",
            "additionalSize",
            "value",
            "netFee",
        ] {
            assert_eq!(got[field], want[field], "trade history {field}");
        }
    }
    let rewards = app
        .get(&format!("/v4/historicalBlockTradingRewards/{owner}"))
        .await
        .body;
    assert_eq!(
        data["address"]["historicalBlockTradingRewards"][0]["tradingReward"],
        rewards["rewards"][0]["tradingReward"]
    );
    app.stop().await;
}

#[tokio::test]
async fn depth_and_complexity_limits_reject_with_clear_errors() {
    let db = common::db_with_markets(1..=3).await;
    let app = TestApp::start_with(db, &[("GRAPHQL_MAX_DEPTH", "4")]).await;

    let deep = r#"{ address(address: "dydx1") { subaccounts { fills { items { id } } } } }"#;
    let body = graphql(&app, deep, json!({})).await;
    assert_eq!(body["errors"][0]["message"], "Query is nested too deep.");
    assert!(body.get("data").is_none_or(Value::is_null));

    // Eleven lists of 1000 trades cost more than the 10 000 allowed.
    let fields: String = (0..11)
        .map(|i| format!(r#"t{i}: trades(ticker: "BTC-USD") {{ items {{ id }} }} "#))
        .collect();
    let body = graphql(&app, &format!("{{ {fields} }}"), json!({})).await;
    assert_eq!(body["errors"][0]["message"], "Query is too complex.");

    // More than 20 root fields are refused before anything is read.
    let fields: String = (0..21)
        .map(|i| format!("h{i}: height {{ height }} "))
        .collect();
    let body = graphql(&app, &format!("{{ {fields} }}"), json!({})).await;
    assert_eq!(
        body["errors"][0]["message"],
        "Query has 21 root fields; at most 20 are allowed."
    );

    // The same lists with small limits pass.
    let fields: String = (0..11)
        .map(|i| format!(r#"t{i}: trades(ticker: "BTC-USD", limit: 10) {{ items {{ id }} }} "#))
        .collect();
    let body = graphql(&app, &format!("{{ {fields} }}"), json!({})).await;
    no_errors(&body);
    app.stop().await;
}

#[tokio::test]
async fn graphiql_page_and_schema_are_served() {
    let app = TestApp::start(common::db_with_markets(1..=2).await).await;
    let page = app.get_text("/v4/graphql").await;
    assert!(page.contains("graphiql"), "{page}");
    let sdl = app.get_text("/v4/graphql/schema.graphql").await;
    assert!(sdl.contains("scalar Decimal"));
    assert!(sdl.contains("priceChange24H: Decimal!"));
    assert!(sdl.contains("type Subscription"));
    // GET with a query string executes.
    let reply = app.get("/graphql?query=%7Bheight%7Bheight%7D%7D").await;
    assert_eq!(reply.body["data"]["height"]["height"], "2");
    app.stop().await;
}

/// A `graphql-transport-ws` client over a real WebSocket.
struct WsClient {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl WsClient {
    async fn connect(app: &TestApp) -> Self {
        let url = format!("{}/v4/graphql", app.base_url.replace("http://", "ws://"));
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let (socket, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket connects");
        assert_eq!(
            response.headers()["sec-websocket-protocol"],
            "graphql-transport-ws"
        );
        let mut client = Self { socket };
        client
            .send(json!({ "type": "connection_init", "payload": {} }))
            .await;
        assert_eq!(client.next().await["type"], "connection_ack");
        client
    }

    async fn send(&mut self, message: Value) {
        self.socket
            .send(WsMessage::Text(message.to_string().into()))
            .await
            .expect("websocket send");
    }

    /// The next protocol message (pings answered), or panics after 20 s.
    async fn next(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(20), self.socket.next())
                .await
                .expect("a websocket message within 20 s")
                .expect("the socket is open")
                .expect("a valid frame");
            if let WsMessage::Text(text) = frame {
                let message: Value = serde_json::from_str(&text).unwrap();
                if message["type"] == "ping" {
                    self.send(json!({ "type": "pong" })).await;
                    continue;
                }
                return message;
            }
        }
    }

    async fn subscribe(&mut self, id: &str, query: &str) {
        self.send(json!({ "id": id, "type": "subscribe", "payload": { "query": query } }))
            .await;
    }
}

fn block_height_message(height: i64) -> Vec<u8> {
    BlockHeightMessage {
        block_height: height.to_string(),
        time: format!("2024-05-01T00:{:02}:00.000Z", height % 60),
        version: "1.0.0".into(),
    }
    .encode_to_vec()
}

/// The sequencing headers ender and vulcan set.
fn sequenced(seq: u64) -> MessageHeaders {
    MessageHeaders::new()
        .with("seq", seq.to_string())
        .with("epoch", "epoch-1")
        .with("source", "ender")
        .with("message_received_timestamp", "1714521600000")
}

/// Produces `message(i)` for i = 0, 1, … until the subscription delivers something, and returns
/// that. The feed's consumer starts at the end of each partition, and a message produced while
/// that end offset is still being resolved may be skipped, so one message is not enough.
async fn produce_until_next(
    client: &mut WsClient,
    subscription: &str,
    producer: &BusProducer,
    topic: Topic,
    mut message: impl FnMut(usize) -> (Vec<u8>, MessageHeaders),
) -> Value {
    for i in 0..20 {
        let (payload, headers) = message(i);
        producer
            .send(topic, None, &payload, &headers)
            .await
            .expect("produced");
        let deadline = tokio::time::Instant::now() + Duration::from_millis(700);
        while let Ok(next) = tokio::time::timeout_at(deadline, client.next()).await {
            // Late events of an earlier, completed subscription are skipped.
            if next["id"] == subscription {
                return next;
            }
        }
    }
    panic!("no update after 20 messages");
}

/// A server with Kafka subscriptions over fresh topics and a database with blocks 1..=12.
async fn app_with_kafka(topics: &TestTopics) -> TestApp {
    let db = common::db_with_markets(1..=12).await;
    let brokers = topics.settings.brokers.clone();
    let prefix = topics.settings.topic_prefix.clone();
    TestApp::start_with(
        db,
        &[
            ("KAFKA_BROKER_URLS", &brokers),
            ("KAFKA_TOPIC_PREFIX", &prefix),
        ],
    )
    .await
}

/// Stops the server, waits for the feed's consumer to stop (within a second), then deletes the
/// topics (a consumer of a deleted tansu topic can crash the process).
async fn stop_with_kafka(app: TestApp, topics: TestTopics) {
    app.stop().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = topics.cleanup().await;
}

#[tokio::test]
async fn block_height_subscription_receives_a_message_produced_to_kafka() {
    let topics = TestTopics::new().await;
    let db = common::db_with_markets(1..=12).await;
    let brokers = topics.settings.brokers.clone();
    let prefix = topics.settings.topic_prefix.clone();
    let app = TestApp::start_with(
        db,
        &[
            ("KAFKA_BROKER_URLS", &brokers),
            ("KAFKA_TOPIC_PREFIX", &prefix),
        ],
    )
    .await;
    let mut client = WsClient::connect(&app).await;
    client
        .subscribe(
            "h",
            "subscription { blockHeight { kind height time seq epoch position { source } } }",
        )
        .await;
    let first = client.next().await;
    assert_eq!(first["type"], "next", "{first}");
    assert_eq!(first["id"], "h");
    let snapshot = &first["payload"]["data"]["blockHeight"];
    assert_eq!(snapshot["kind"], "SNAPSHOT");
    assert_eq!(snapshot["height"], "12");

    let producer = BusProducer::new(&topics.settings).expect("producer");
    let mut produced = Vec::new();
    let update = produce_until_next(
        &mut client,
        "h",
        &producer,
        Topic::ToWebsocketsBlockHeight,
        |i| {
            let height = 13 + i as i64;
            produced.push(height);
            (block_height_message(height), sequenced(height as u64))
        },
    )
    .await;
    assert_eq!(update["type"], "next", "{update}");
    let event = &update["payload"]["data"]["blockHeight"];
    assert_eq!(event["kind"], "UPDATE");
    let height: i64 = event["height"].as_str().unwrap().parse().unwrap();
    assert!(produced.contains(&height), "{event}");
    assert_eq!(event["seq"], height.to_string());
    assert_eq!(event["epoch"], "epoch-1");
    assert_eq!(event["position"]["source"], "ender");
    assert_eq!(
        event["time"],
        format!("2024-05-01T00:{:02}:00.000Z", height % 60)
    );

    client.send(json!({ "id": "h", "type": "complete" })).await;
    drop(client);
    drop(producer);
    stop_with_kafka(app, topics).await;
}

#[tokio::test]
async fn orderbook_and_subaccount_subscriptions_start_with_a_snapshot_then_stream_updates() {
    let topics = TestTopics::new().await;
    let app = app_with_kafka(&topics).await;
    book_level(
        app.state.cache(),
        "BTC-USD",
        BookSide::Buy,
        "49990",
        12_345_000_000,
        10,
    )
    .await;
    let owner = address(7);
    let seed = Seed {
        pool: app.db.pool(),
    };
    let subaccount = seed.subaccount(&owner, 0, 12).await;
    seed.usdc(subaccount, "250.5", true).await;

    let mut client = WsClient::connect(&app).await;
    client
        .subscribe(
            "b",
            r#"subscription { orderbook(ticker: "BTC-USD") {
            kind ticker seq epoch bids { price size } asks { price size } } }"#,
        )
        .await;
    let snapshot = client.next().await;
    let book = &snapshot["payload"]["data"]["orderbook"];
    assert_eq!(book["kind"], "SNAPSHOT", "{snapshot}");
    assert_eq!(
        book["bids"],
        json!([{ "price": "49990", "size": "1.2345" }])
    );

    let producer = BusProducer::new(&topics.settings).expect("producer");
    let update = produce_until_next(
        &mut client,
        "b",
        &producer,
        Topic::ToWebsocketsOrderbooks,
        |i| {
            let message = indexer_proto::socks::OrderbookMessage {
                contents: r#"{"bids":[["49980","0.5"]],"asks":[["50010","0"]]}"#.into(),
                clob_pair_id: "0".into(),
                version: "1.0.0".into(),
            };
            (message.encode_to_vec(), sequenced(100 + i as u64))
        },
    )
    .await;
    let book = &update["payload"]["data"]["orderbook"];
    assert_eq!(book["kind"], "UPDATE", "{update}");
    assert_eq!(book["ticker"], "BTC-USD");
    assert_eq!(book["epoch"], "epoch-1");
    assert_eq!(book["bids"], json!([{ "price": "49980", "size": "0.5" }]));
    assert_eq!(book["asks"], json!([{ "price": "50010", "size": "0" }]));
    client.send(json!({ "id": "b", "type": "complete" })).await;

    let query = format!(
        r#"subscription {{ subaccount(address: "{owner}", subaccountNumber: 0) {{
            kind id seq blockHeight subaccount {{ equity assetPositions {{ size }} }} update }} }}"#
    );
    client.subscribe("s", &query).await;
    let snapshot = loop {
        // Orderbook updates still in flight for the completed subscription are skipped.
        let message = client.next().await;
        if message["id"] == "s" {
            break message;
        }
    };
    let event = &snapshot["payload"]["data"]["subaccount"];
    assert_eq!(event["kind"], "SNAPSHOT", "{snapshot}");
    assert_eq!(event["id"], format!("{owner}/0"));
    assert_eq!(event["subaccount"]["assetPositions"][0]["size"], "250.5");
    let rest = app
        .get(&format!("/v4/addresses/{owner}/subaccountNumber/0"))
        .await
        .body;
    assert_eq!(event["subaccount"]["equity"], rest["subaccount"]["equity"]);

    let contents = json!({ "assetPositions": [{ "symbol": "USDC", "size": "240.5" }] });
    let update = produce_until_next(
        &mut client,
        "s",
        &producer,
        Topic::ToWebsocketsSubaccounts,
        |i| {
            let message = indexer_proto::socks::SubaccountMessage {
                block_height: "13".into(),
                contents: contents.to_string(),
                subaccount_id: Some(indexer_proto::protocol::v1::IndexerSubaccountId {
                    owner: owner.clone(),
                    number: 0,
                }),
                version: "3.0.0".into(),
                ..Default::default()
            };
            (message.encode_to_vec(), sequenced(200 + i as u64))
        },
    )
    .await;
    let event = &update["payload"]["data"]["subaccount"];
    assert_eq!(event["kind"], "UPDATE", "{update}");
    assert_eq!(event["blockHeight"], "13");
    assert_eq!(
        event["update"]["assetPositions"],
        contents["assetPositions"]
    );
    assert!(event["seq"].as_str().unwrap().parse::<u64>().unwrap() >= 200);

    drop(client);
    drop(producer);
    stop_with_kafka(app, topics).await;
}

#[tokio::test]
async fn subscriptions_without_kafka_answer_a_clear_error() {
    let app = TestApp::start(common::db_with_markets(1..=2).await).await;
    let mut client = WsClient::connect(&app).await;
    client
        .subscribe("1", "subscription { blockHeight { height } }")
        .await;
    // An execution error: `next` with the error (graphql-transport-ws), then `complete`.
    let message = client.next().await;
    assert_eq!(message["type"], "next", "{message}");
    assert_eq!(message["id"], "1");
    let error = &message["payload"]["errors"][0];
    assert_eq!(
        error["message"],
        comlink::graphql::subscription::SUBSCRIPTIONS_DISABLED
    );
    assert_eq!(error["extensions"]["code"], "SUBSCRIPTIONS_DISABLED");
    assert_eq!(client.next().await["type"], "complete");
    // Queries still work.
    let body = graphql(&app, "{ height { height } }", json!({})).await;
    assert_eq!(no_errors(&body)["height"]["height"], "2");
    app.stop().await;
}
