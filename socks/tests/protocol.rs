//! serve.md §5 as a client sees it: a real websocket client against a running server backed by
//! the real Postgres and Redis. Channel messages are injected through the hub's publish API (the
//! same call the Kafka feed makes; the feed itself is tested in `feed.rs`).

mod common;

use common::{book_update, Client, Seen, TestServer};
use indexer_cache::BookSide;
use serde_json::json;

#[tokio::test]
async fn connected_subscribed_and_unsubscribed_frames() {
    let server = TestServer::start(&[]).await;
    server
        .put_level("BTC-USD", BookSide::Buy, "64000", 5_000_000_000)
        .await;
    server
        .put_level("BTC-USD", BookSide::Sell, "64010", 10_000_000)
        .await;
    server.set_book_seq("BTC-USD", 12, "epoch-a").await;

    let mut client = Client::connect(&server.url).await;
    let connected = client.next_json().await;
    let id = connected["connection_id"].as_str().unwrap().to_owned();
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 4);
    assert_eq!(
        connected,
        json!({"type": "connected", "connection_id": id, "message_id": 0})
    );

    let subscribed = client
        .subscribe(json!({"type": "subscribe", "channel": "v4_orderbook", "id": "BTC-USD"}))
        .await;
    assert_eq!(
        subscribed,
        json!({
            "type": "subscribed", "connection_id": id, "message_id": 1,
            "channel": "v4_orderbook", "id": "BTC-USD",
            "contents": {"bids": [{"price": "64000", "size": "0.5"}],
                         "asks": [{"price": "64010", "size": "0.001"}]},
            "epoch": "epoch-a", "seq": 12
        })
    );

    client
        .send(json!({"type": "unsubscribe", "channel": "v4_orderbook", "id": "BTC-USD"}))
        .await;
    assert_eq!(
        client.next_json().await,
        json!({"type": "unsubscribed", "connection_id": id, "message_id": 2,
               "channel": "v4_orderbook", "id": "BTC-USD"})
    );
    // Unsubscribing from something not subscribed still answers.
    client
        .send(json!({"type": "unsubscribe", "channel": "v4_markets"}))
        .await;
    assert_eq!(
        client.next_json().await,
        json!({"type": "unsubscribed", "connection_id": id, "message_id": 3,
               "channel": "v4_markets"})
    );
    server.stop().await;
}

#[tokio::test]
async fn every_bad_input_gets_its_error_text_and_the_connection_stays_open() {
    let server = TestServer::start(&[("RATE_LIMIT_INVALID_MESSAGE_POINTS", "100")]).await;
    let (mut client, id) = Client::connected(&server.url).await;
    let error = |message: &str, message_id: u64| json!({"type": "error", "message": message, "connection_id": id, "message_id": message_id});
    let cases: Vec<(String, serde_json::Value)> = vec![
        (
            "{not json".into(),
            error("Invalid message: could not parse", 0),
        ),
        (
            r#"{"channel":"v4_trades"}"#.into(),
            error("Invalid message: type is required", 0),
        ),
        (
            r#"{"type":"hello"}"#.into(),
            error("Invalid message type: hello", 0),
        ),
        (
            r#"{"type":"subscribe"}"#.into(),
            error("Invalid subscribe message: channel is required", 0),
        ),
        (
            r#"{"type":"unsubscribe","channel":""}"#.into(),
            error("Invalid subscribe message: channel is required", 0),
        ),
        (
            r#"{"type":"subscribe","channel":"v4_foo"}"#.into(),
            error("Invalid channel: v4_foo", 0),
        ),
        (
            r#"{"type":"subscribe","channel":"v4_trades"}"#.into(),
            error("Invalid id: undefined", 0),
        ),
        (
            r#"{"type":"subscribe","channel":"v4_trades","id":5}"#.into(),
            error("Invalid id: 5", 0),
        ),
        // Step B errors use the incremented message id.
        (
            r#"{"type":"subscribe","channel":"v4_trades","id":"DOGE-USD"}"#.into(),
            error(
                "Invalid subscription id for channel: (v4_trades-DOGE-USD)",
                1,
            ),
        ),
        (
            r#"{"type":"subscribe","channel":"v4_candles","id":"BTC-USD/2MINS"}"#.into(),
            error(
                "Invalid subscription id for channel: (v4_candles-BTC-USD/2MINS)",
                2,
            ),
        ),
        (
            r#"{"type":"subscribe","channel":"v4_subaccounts","id":"dydx1abc/128000"}"#.into(),
            error(
                "Invalid subscription id for channel: (v4_subaccounts-dydx1abc/128000)",
                3,
            ),
        ),
        (
            r#"{"type":"subscribe","channel":"v4_parent_subaccounts","id":"dydx1abc/128"}"#.into(),
            error(
                "Invalid subscription id for channel: (v4_parent_subaccounts-dydx1abc/128)",
                4,
            ),
        ),
    ];
    for (request, expected) in cases {
        client.send_text(&request).await;
        assert_eq!(client.next_json().await, expected, "answer to {request}");
    }
    // Still open and working: a JSON ping is silent, a subscribe succeeds.
    client.send(json!({"type": "ping", "id": 1})).await;
    let subscribed = client
        .subscribe(json!({"type": "subscribe", "channel": "v4_orderbook", "id": "ETH-USD"}))
        .await;
    assert_eq!(subscribed["type"], "subscribed");
    assert_eq!(subscribed["message_id"], 5);
    let duplicate = client
        .subscribe(json!({"type": "subscribe", "channel": "v4_orderbook", "id": "ETH-USD"}))
        .await;
    assert_eq!(
        duplicate,
        json!({"type": "error",
               "message": "Invalid subscribe message: already subscribed (v4_orderbook-ETH-USD)",
               "connection_id": id, "message_id": 6,
               "channel": "v4_orderbook", "id": "ETH-USD"})
    );
    server.stop().await;
}

#[tokio::test]
async fn a_failed_snapshot_is_an_error_with_channel_and_id() {
    // No block is indexed yet, so the block-height snapshot cannot be read.
    let server = TestServer::start(&[]).await;
    let (mut client, id) = Client::connected(&server.url).await;
    let answer = client
        .subscribe(json!({"type": "subscribe", "channel": "v4_block_height"}))
        .await;
    assert_eq!(
        answer,
        json!({"type": "error",
               "message": "Internal error, could not fetch data for subscription: v4_block_height.",
               "connection_id": id, "message_id": 1,
               "channel": "v4_block_height", "id": "v4_block_height"})
    );
    // The failed attempt does not hold a subscription.
    sqlx::query(
        r#"INSERT INTO blocks ("blockHeight", "time") VALUES (7, '2024-05-01T12:00:00.5Z')"#,
    )
    .execute(server.db.pool())
    .await
    .unwrap();
    let answer = client
        .subscribe(json!({"type": "subscribe", "channel": "v4_block_height", "id": "ignored"}))
        .await;
    assert_eq!(
        answer,
        json!({"type": "subscribed", "connection_id": id, "message_id": 2,
               "channel": "v4_block_height", "id": "v4_block_height",
               "contents": {"height": "7", "time": "2024-05-01T12:00:00.500Z"}})
    );
    server.stop().await;
}

#[tokio::test]
async fn per_channel_subscription_limits() {
    let server = TestServer::start(&[("V4_ORDERBOOK_CHANNEL_LIMIT", "1")]).await;
    sqlx::query(r#"INSERT INTO blocks ("blockHeight", "time") VALUES (1, now())"#)
        .execute(server.db.pool())
        .await
        .unwrap();
    let (mut client, id) = Client::connected(&server.url).await;
    let first = client
        .subscribe(json!({"type": "subscribe", "channel": "v4_orderbook", "id": "BTC-USD"}))
        .await;
    assert_eq!(first["type"], "subscribed");
    let second = client
        .subscribe(json!({"type": "subscribe", "channel": "v4_orderbook", "id": "ETH-USD"}))
        .await;
    assert_eq!(
        second,
        json!({"type": "error",
               "message": "Per-connection subscription limit reached for v4_orderbook (limit=1).",
               "connection_id": id, "message_id": 2})
    );
    // Block height allows one by default.
    let height = client
        .subscribe(json!({"type": "subscribe", "channel": "v4_block_height"}))
        .await;
    assert_eq!(height["type"], "subscribed");
    client
        .send(json!({"type": "unsubscribe", "channel": "v4_block_height"}))
        .await;
    assert_eq!(client.next_json().await["type"], "unsubscribed");
    let again = client
        .subscribe(json!({"type": "subscribe", "channel": "v4_block_height"}))
        .await;
    assert_eq!(
        again["type"], "subscribed",
        "room again after unsubscribing"
    );
    let over = client
        .subscribe(json!({"type": "subscribe", "channel": "v4_orderbook", "id": "ETH-USD"}))
        .await;
    assert_eq!(
        over["message"],
        "Per-connection subscription limit reached for v4_orderbook (limit=1)."
    );
    server.stop().await;
}

#[tokio::test]
async fn third_subscribe_to_the_same_channel_id_within_the_window_closes_the_connection() {
    // A one-minute window so the three attempts surely fall into it.
    let server = TestServer::start(&[("RATE_LIMIT_SUBSCRIBE_DURATION_MS", "60000")]).await;
    let (mut client, id) = Client::connected(&server.url).await;
    let subscribe = json!({"type": "subscribe", "channel": "v4_orderbook", "id": "BTC-USD"});
    assert_eq!(
        client.subscribe(subscribe.clone()).await["type"],
        "subscribed"
    );
    assert_eq!(
        client.subscribe(subscribe.clone()).await["message"],
        "Invalid subscribe message: already subscribed (v4_orderbook-BTC-USD)"
    );
    assert_eq!(
        client.subscribe(subscribe).await,
        json!({"type": "error",
               "message": "Too many subscribe attempts for channel v4_orderbook-BTC-USD. Please  reconnect and try again.",
               "connection_id": id, "message_id": 3})
    );
    assert_eq!(
        client.expect_close().await,
        (1008, r#"{"message":"Rate limited"}"#.to_string())
    );
    server.stop().await;
}

#[tokio::test]
async fn third_invalid_message_within_the_window_closes_the_connection() {
    let server = TestServer::start(&[("RATE_LIMIT_INVALID_MESSAGE_DURATION_MS", "60000")]).await;
    let (mut client, id) = Client::connected(&server.url).await;
    client.send_text("nope").await;
    assert_eq!(
        client.next_json().await["message"],
        "Invalid message: could not parse"
    );
    client.send(json!({"type": "what"})).await;
    assert_eq!(
        client.next_json().await["message"],
        "Invalid message type: what"
    );
    client.send(json!({"no": "type"})).await;
    assert_eq!(
        client.next_json().await,
        json!({"type": "error",
               "message": "Too many invalid messages. Please reconnect and try again.",
               "connection_id": id, "message_id": 0})
    );
    assert_eq!(
        client.expect_close().await,
        (1008, r#"{"message":"Rate limited"}"#.to_string())
    );
    server.stop().await;
}

#[tokio::test]
async fn json_pings_beyond_the_limit_close_the_connection() {
    let server = TestServer::start(&[
        ("RATE_LIMIT_PING_POINTS", "2"),
        ("RATE_LIMIT_PING_DURATION_MS", "60000"),
        ("WS_REPLY_TO_PING", "true"),
    ])
    .await;
    let (mut client, id) = Client::connected(&server.url).await;
    client.send(json!({"type": "ping", "id": 9})).await;
    assert_eq!(
        client.next_json().await,
        json!({"type": "pong", "connection_id": id, "message_id": 0, "id": 9})
    );
    client.send(json!({"type": "ping"})).await;
    assert_eq!(client.next_json().await["type"], "pong");
    client.send(json!({"type": "ping"})).await;
    assert_eq!(
        client.next_json().await["message"],
        "Too many ping messages. Please reconnect and try again."
    );
    assert_eq!(client.expect_close().await.0, 1008);
    server.stop().await;
}

#[tokio::test]
async fn frames_above_the_size_cap_close_with_1009() {
    let server = TestServer::start(&[("WS_MAX_FRAME_BYTES", "1024")]).await;
    let (mut client, _) = Client::connected(&server.url).await;
    let big = format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(2048));
    client.send_text(&big).await;
    assert_eq!(client.expect_close().await.0, 1009);
    server.stop().await;
}

#[tokio::test]
async fn unbatched_updates_carry_seq_and_drop_duplicates_and_what_the_snapshot_reflects() {
    let server = TestServer::start(&[]).await;
    server.set_book_seq("BTC-USD", 2, "e1").await;
    let (mut client, id) = Client::connected(&server.url).await;
    let subscribed = client
        .subscribe(json!({"type": "subscribe", "channel": "v4_orderbook", "id": "BTC-USD"}))
        .await;
    assert_eq!(subscribed["seq"], 2);
    let hub = &server.ctx.hub;
    // seq 2 is already in the snapshot; 3 is new; 3 again is a duplicate (outbox replay).
    hub.publish(book_update("BTC-USD", 2, "e1", "100", "1"));
    hub.publish(book_update("BTC-USD", 3, "e1", "101", "2"));
    hub.publish(book_update("BTC-USD", 3, "e1", "101", "2"));
    hub.publish(book_update("BTC-USD", 4, "e1", "102", "3"));
    assert_eq!(
        client.next_json().await,
        json!({"type": "channel_data", "connection_id": id, "message_id": 2,
               "id": "BTC-USD", "channel": "v4_orderbook", "version": "1.0.0",
               "contents": {"bids": [["101", "2"]]},
               "epoch": "e1", "seq": 3})
    );
    let next = client.next_json().await;
    assert_eq!(
        (next["seq"].clone(), next["message_id"].clone()),
        (json!(4), json!(3))
    );
    // Another market's messages do not reach this subscriber.
    hub.publish(book_update("ETH-USD", 1, "e1", "5", "5"));
    hub.publish(book_update("BTC-USD", 5, "e1", "103", "4"));
    assert_eq!(client.next_json().await["seq"], 5);
    server.stop().await;
}

#[tokio::test]
async fn batched_subscribers_get_one_frame_per_flush_and_unbatched_one_per_message() {
    let server = TestServer::start(&[]).await;
    let (mut batched, batched_id) = Client::connected(&server.url).await;
    let (mut single, _) = Client::connected(&server.url).await;
    let sub = |batched: bool| json!({"type": "subscribe", "channel": "v4_orderbook", "id": "BTC-USD", "batched": batched});
    assert_eq!(batched.subscribe(sub(true)).await["type"], "subscribed");
    assert_eq!(single.subscribe(sub(false)).await["type"], "subscribed");
    let hub = &server.ctx.hub;
    for seq in 1..=3 {
        hub.publish(book_update("BTC-USD", seq, "e1", &format!("10{seq}"), "1"));
    }
    for seq in 1..=3 {
        let frame = single.next_json().await;
        assert_eq!(
            (frame["type"].clone(), frame["seq"].clone()),
            (json!("channel_data"), json!(seq))
        );
    }
    hub.flush_batches();
    assert_eq!(
        batched.next_json().await,
        json!({"type": "channel_batch_data", "connection_id": batched_id, "message_id": 2,
               "id": "BTC-USD", "channel": "v4_orderbook", "version": "1.0.0",
               "contents": [{"bids": [["101", "1"]]}, {"bids": [["102", "1"]]}, {"bids": [["103", "1"]]}],
               "epoch": "e1", "seq": 3, "first_seq": 1})
    );
    // Nothing new: a flush sends nothing; the next message is in the next batch alone.
    hub.flush_batches();
    hub.publish(book_update("BTC-USD", 4, "e1", "104", "1"));
    hub.flush_batches();
    let frame = batched.next_json().await;
    assert_eq!(frame["contents"], json!([{"bids": [["104", "1"]]}]));
    assert_eq!(frame["seq"], 4);
    assert!(frame.get("first_seq").is_none());
    server.stop().await;
}

#[tokio::test]
async fn batches_are_split_by_version() {
    let server = TestServer::start(&[]).await;
    let (mut client, _) = Client::connected(&server.url).await;
    let subscribed = client
        .subscribe(json!({"type": "subscribe", "channel": "v4_markets", "batched": true}))
        .await;
    assert_eq!(subscribed["type"], "subscribed");
    assert!(
        subscribed.get("id").is_none(),
        "v4_markets frames have no id"
    );
    let tickers: Vec<&String> = subscribed["contents"]["markets"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(tickers, ["BTC-USD", "ETH-USD"]);
    let subscribed = client
        .subscribe(json!({"type": "subscribe", "channel": "v4_orderbook", "id": "ETH-USD", "batched": true}))
        .await;
    assert_eq!(subscribed["type"], "subscribed");
    let hub = &server.ctx.hub;
    let mut old = book_update("ETH-USD", 1, "e1", "1", "1");
    old.version = "0.9.0".into();
    hub.publish(old);
    hub.publish(book_update("ETH-USD", 2, "e1", "2", "1"));
    let mut old_again = book_update("ETH-USD", 3, "e1", "3", "1");
    old_again.version = "0.9.0".into();
    hub.publish(old_again);
    hub.flush_batches();
    let first = client.next_json().await;
    let second = client.next_json().await;
    assert_eq!(first["version"], "0.9.0");
    assert_eq!(
        first["contents"],
        json!([{"bids": [["1", "1"]]}, {"bids": [["3", "1"]]}])
    );
    assert_eq!(second["version"], "1.0.0");
    assert_eq!(second["contents"], json!([{"bids": [["2", "1"]]}]));
    server.stop().await;
}

#[tokio::test]
async fn resume_replays_on_a_hit_and_gives_a_fresh_snapshot_on_a_miss_or_epoch_change() {
    let server = TestServer::start(&[("WS_HISTORY_MAX_MESSAGES", "4")]).await;
    server.set_book_seq("BTC-USD", 8, "e1").await;
    let hub = &server.ctx.hub;
    for seq in 1..=8 {
        hub.publish(book_update("BTC-USD", seq, "e1", &format!("{seq}"), "1"));
    }
    let resume = |epoch: &str, seq: u64| {
        json!({"type": "subscribe", "channel": "v4_orderbook", "id": "BTC-USD",
               "resume": {"epoch": epoch, "seq": seq}})
    };

    // Hit: seqs 6..8 are held (4 kept: 5..8).
    let (mut client, id) = Client::connected(&server.url).await;
    assert_eq!(
        client.subscribe(resume("e1", 5)).await,
        json!({"type": "subscribed", "connection_id": id, "message_id": 1,
               "channel": "v4_orderbook", "id": "BTC-USD", "recovered": true})
    );
    for seq in 6..=8 {
        let frame = client.next_json().await;
        assert_eq!(
            (frame["type"].clone(), frame["seq"].clone()),
            (json!("channel_data"), json!(seq))
        );
    }
    hub.publish(book_update("BTC-USD", 9, "e1", "9", "1"));
    assert_eq!(client.next_json().await["seq"], 9, "live after the replay");

    // Miss: seq 3 is no longer held.
    let (mut late, _) = Client::connected(&server.url).await;
    let answer = late.subscribe(resume("e1", 3)).await;
    assert_eq!(answer["recovered"], false);
    assert_eq!(answer["contents"], json!({"bids": [], "asks": []}));
    assert_eq!(answer["seq"], 8);

    // Epoch changed (Redis was reset): fresh snapshot.
    let (mut other, _) = Client::connected(&server.url).await;
    let answer = other.subscribe(resume("e0", 8)).await;
    assert_eq!(answer["recovered"], false);
    assert!(answer.get("contents").is_some());
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_cannot_keep_up_is_told_it_lagged_and_unsubscribed() {
    let server = TestServer::start(&[("WS_SEND_QUEUE_FRAMES", "8")]).await;
    let (mut client, id) = Client::connected(&server.url).await;
    let subscribed = client
        .subscribe(json!({"type": "subscribe", "channel": "v4_orderbook", "id": "BTC-USD"}))
        .await;
    assert_eq!(subscribed["type"], "subscribed");
    // The client reads nothing while 20 MB are published: the socket buffers fill, the send
    // queue fills, and the subscription is dropped.
    let padding = "9".repeat(10_000);
    let hub = &server.ctx.hub;
    for seq in 1..=2000 {
        let mut update = book_update("BTC-USD", seq, "e1", &padding, "1");
        update.contents = format!(r#"{{"bids":[["{padding}","{seq}"]]}}"#).into();
        hub.publish(update);
        tokio::task::yield_now().await;
    }
    let mut last_seq = 0;
    let lagged = loop {
        let frame = client.next_json().await;
        match frame["type"].as_str() {
            Some("channel_data") => {
                let seq = frame["seq"].as_u64().unwrap();
                assert_eq!(seq, last_seq + 1, "no gap before the lagged notice");
                last_seq = seq;
            }
            Some("error") => break frame,
            other => panic!("unexpected frame {other:?}"),
        }
    };
    assert!(last_seq < 2000, "the client lagged before the end");
    assert_eq!(lagged["message"], "lagged");
    assert_eq!(lagged["connection_id"], json!(id));
    assert_eq!(lagged["channel"], "v4_orderbook");
    assert_eq!(lagged["id"], "BTC-USD");
    assert_eq!(
        lagged["seq"], last_seq,
        "the notice says where to resume from"
    );
    assert_eq!(lagged["epoch"], "e1");
    // Unsubscribed: later messages do not come; the connection itself still works.
    hub.publish(book_update("BTC-USD", 2001, "e1", "1", "1"));
    client
        .send(json!({"type": "unsubscribe", "channel": "v4_trades", "id": "BTC-USD"}))
        .await;
    assert_eq!(client.next_json().await["type"], "unsubscribed");
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_does_not_answer_pings_is_closed_with_1011() {
    let server = TestServer::start(&[
        ("WS_HEARTBEAT_INTERVAL_MS", "100"),
        ("WS_HEARTBEAT_TIMEOUT_MS", "100"),
    ])
    .await;
    // Not reading means not answering pings (the client library answers while reading).
    let client = Client::connect(&server.url).await;
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let mut client = client;
    assert_eq!(
        client.expect_close().await,
        (1011, "Heartbeat timeout".to_string())
    );
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_answers_pings_stays_connected() {
    let server = TestServer::start(&[
        ("WS_HEARTBEAT_INTERVAL_MS", "50"),
        ("WS_HEARTBEAT_TIMEOUT_MS", "200"),
    ])
    .await;
    let (mut client, _) = Client::connected(&server.url).await;
    // Reading answers pings; keep reading across many heartbeat periods.
    let reading =
        tokio::time::timeout(std::time::Duration::from_millis(800), client.next_seen()).await;
    assert!(reading.is_err(), "nothing but pings arrived: {reading:?}");
    client
        .send(json!({"type": "subscribe", "channel": "v4_orderbook", "id": "BTC-USD"}))
        .await;
    assert_eq!(client.next_json().await["type"], "subscribed");
    server.stop().await;
}

#[tokio::test]
async fn shutdown_closes_every_connection_with_1012() {
    let server = TestServer::start(&[]).await;
    let (mut a, _) = Client::connected(&server.url).await;
    let (mut b, _) = Client::connected(&server.url).await;
    let mut server = server;
    server.server.take().unwrap().stop().await;
    for client in [&mut a, &mut b] {
        assert_eq!(
            client.expect_close().await,
            (1012, r#"{"message":"Service restarting"}"#.to_string())
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn any_path_is_accepted() {
    let server = TestServer::start(&[]).await;
    let root = server.url.trim_end_matches("/v4/ws").to_string();
    let mut client = Client::connect(&root).await;
    assert!(matches!(client.next_seen().await, Seen::Json(v) if v["type"] == "connected"));
    server.stop().await;
}

#[tokio::test]
async fn a_subaccount_snapshot_carries_the_positions_of_both_its_streams() {
    let server = TestServer::start(&[]).await;
    let address = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art";
    let pool = server.db.pool();
    let (epoch,): (uuid::Uuid,) = sqlx::query_as(
        "INSERT INTO ender_progress (last_processed_height, start_height) VALUES (10, 1) RETURNING epoch",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO channel_sequences (channel, channel_id, seq) VALUES ('v4_subaccounts', $1, 41)")
        .bind(format!("{address}/3"))
        .execute(pool)
        .await
        .unwrap();
    let keys = server.cache.keys();
    let mut conn = server.cache.conn();
    let _: () = redis::cmd("MSET")
        .arg(keys.stream_epoch())
        .arg("redis-epoch")
        .arg(keys.subaccount_vulcan_seq(address, 3))
        .arg(9)
        .query_async(&mut conn)
        .await
        .unwrap();
    let (mut client, _) = Client::connected(&server.url).await;
    let subscribed = client
        .subscribe(
            json!({"type": "subscribe", "channel": "v4_subaccounts", "id": format!("{address}/3")}),
        )
        .await;
    assert_eq!(subscribed["contents"], json!({}), "no such subaccount yet");
    assert_eq!(
        subscribed["cursors"],
        json!([
            {"stream": "ender", "epoch": epoch.to_string(), "seq": 41},
            {"stream": "vulcan", "epoch": "redis-epoch", "seq": 9}
        ])
    );
    // Messages the snapshot reflects are not delivered again; later ones are, per stream.
    let update = |source: &str, epoch: &str, seq: u64| socks::ChannelMessage {
        key: socks::channels::ChannelKey::new(
            socks::channels::Channel::Subaccounts,
            format!("{address}/3"),
        ),
        version: "3.0.0".into(),
        contents: format!(r#"{{"blockHeight":"{seq}"}}"#).into(),
        subaccount_number: None,
        cursor: Some(socks::protocol::Cursor {
            stream: socks::protocol::StreamId {
                source: Some(source.into()),
                child: None,
            },
            epoch: epoch.into(),
            seq,
        }),
        origin_ms: None,
    };
    let hub = &server.ctx.hub;
    hub.publish(update("ender", &epoch.to_string(), 41));
    hub.publish(update("vulcan", "redis-epoch", 9));
    hub.publish(update("vulcan", "redis-epoch", 10));
    hub.publish(update("ender", &epoch.to_string(), 42));
    let first = client.next_json().await;
    assert_eq!(
        (first["stream"].clone(), first["seq"].clone()),
        (json!("vulcan"), json!(10))
    );
    let second = client.next_json().await;
    assert_eq!(
        (second["stream"].clone(), second["seq"].clone()),
        (json!("ender"), json!(42))
    );
    server.stop().await;
}

#[tokio::test]
async fn a_close_from_the_client_is_answered() {
    let server = TestServer::start(&[]).await;
    let (mut client, _) = Client::connected(&server.url).await;
    client.ws.close(None).await.unwrap();
    assert!(
        matches!(client.next_seen().await, Seen::Close(..)),
        "the server answers the close handshake"
    );
    server.stop().await;
}
