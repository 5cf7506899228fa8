//! A socks server running in the test process against the real Postgres and Redis, and a real
//! websocket client.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use indexer_base::config::{Env, RedisSettings};
use indexer_cache::{BookSide, Cache};
use indexer_testkit::db::TestDb;
use serde_json::Value;
use socks::markets::MarketDirectory;
use socks::protocol::{Cursor, StreamId};
use socks::snapshot::StoreSnapshots;
use socks::{ChannelMessage, Context, Server, SocksConfig};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Upper bound on waiting for one frame; a guard against hangs, not a speed requirement.
pub const FRAME_WAIT: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub server: Option<Server>,
    pub ctx: Arc<Context>,
    pub db: TestDb,
    pub cache: Cache,
    pub url: String,
}

/// Settings for tests: every default of the spec, except that the batch timer never fires by
/// itself (tests flush explicitly) and anything in `overrides`.
pub fn config(overrides: &[(&str, &str)]) -> SocksConfig {
    let mut pairs: Vec<(String, String)> = vec![
        ("WS_HOST".into(), "127.0.0.1".into()),
        ("WS_PORT".into(), "0".into()),
        ("BATCH_SEND_INTERVAL_MS".into(), "3600000".into()),
    ];
    for (k, v) in overrides {
        pairs.retain(|(key, _)| key != k);
        pairs.push(((*k).into(), (*v).into()));
    }
    SocksConfig::from_env(&Env::from_pairs(pairs)).unwrap()
}

impl TestServer {
    pub async fn start(overrides: &[(&str, &str)]) -> TestServer {
        let db = TestDb::new().await;
        seed_markets(&db).await;
        let prefix = format!("socks-test-{}:", uuid::Uuid::new_v4().simple());
        let mut redis = RedisSettings::from_env(&Env::process()).unwrap();
        redis.key_prefix = prefix;
        let cache = Cache::connect(&redis).await.unwrap();
        let markets = MarketDirectory::default();
        markets.refresh(db.pool()).await.unwrap();
        let config = config(overrides);
        let snapshots = StoreSnapshots::with_compliance(
            db.pool().clone(),
            cache.clone(),
            markets.clone(),
            config.compliance.clone(),
        );
        let ctx = Context::new(config, markets, snapshots);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Server::start(Arc::clone(&ctx), listener);
        let url = format!("ws://{}/v4/ws", server.local_addr());
        TestServer {
            server: Some(server),
            ctx,
            db,
            cache,
            url,
        }
    }

    pub async fn client(&self) -> Client {
        Client::connect(&self.url).await
    }

    /// Stores an order-book level the way vulcan does (levels hash + lastUpdated hash).
    pub async fn put_level(&self, ticker: &str, side: BookSide, price: &str, quantums: i64) {
        let keys = self.cache.keys();
        let mut conn = self.cache.conn();
        let _: () = redis::cmd("HSET")
            .arg(keys.orderbook_levels(ticker, side))
            .arg(price)
            .arg(quantums)
            .query_async(&mut conn)
            .await
            .unwrap();
        let _: () = redis::cmd("HSET")
            .arg(keys.orderbook_levels_last_updated(ticker, side))
            .arg(price)
            .arg(1_700_000_000)
            .query_async(&mut conn)
            .await
            .unwrap();
    }

    /// Sets the order-book seq of `ticker` and the stream epoch.
    pub async fn set_book_seq(&self, ticker: &str, seq: u64, epoch: &str) {
        let keys = self.cache.keys();
        let mut conn = self.cache.conn();
        let _: () = redis::cmd("SET")
            .arg(keys.orderbook_seq(ticker))
            .arg(seq)
            .query_async(&mut conn)
            .await
            .unwrap();
        let _: () = redis::cmd("SET")
            .arg(keys.stream_epoch())
            .arg(epoch)
            .query_async(&mut conn)
            .await
            .unwrap();
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
        self.cache.clear().await.unwrap();
        self.db.cleanup().await;
    }
}

/// BTC-USD (clobPairId 0, atomic resolution -10) and ETH-USD (1, -9).
pub async fn seed_markets(db: &TestDb) {
    for statement in [
        r#"INSERT INTO liquidity_tiers (id, name, "initialMarginPpm", "maintenanceFractionPpm")
           VALUES (0, 'Large-Cap', 50000, 600000)"#,
        r#"INSERT INTO markets (id, pair, exponent, "minPriceChangePpm", "oraclePrice")
           VALUES (0, 'BTC-USD', -5, 1000, 64000), (1, 'ETH-USD', -6, 1000, 3000)"#,
        r#"INSERT INTO perpetual_markets (id, "clobPairId", ticker, "marketId", status,
             "priceChange24H", "volume24H", "trades24H", "nextFundingRate", "openInterest",
             "quantumConversionExponent", "atomicResolution", "subticksPerTick", "stepBaseQuantums")
           VALUES (0, 0, 'BTC-USD', 0, 'ACTIVE', 0, 0, 0, 0, 0, -9, -10, 10000, 1000000),
                  (1, 1, 'ETH-USD', 1, 'ACTIVE', 0, 0, 0, 0, 0, -9, -9, 100000, 1000000)"#,
    ] {
        sqlx::query(statement).execute(db.pool()).await.unwrap();
    }
}

/// An order-book update as vulcan publishes it, with seq in epoch `epoch`.
pub fn book_update(ticker: &str, seq: u64, epoch: &str, price: &str, size: &str) -> ChannelMessage {
    ChannelMessage {
        key: socks::channels::ChannelKey::new(socks::channels::Channel::Orderbook, ticker),
        version: "1.0.0".into(),
        contents: format!(r#"{{"bids":[["{price}","{size}"]]}}"#).into(),
        subaccount_number: None,
        cursor: Some(book_cursor(epoch, seq)),
        origin_ms: None,
    }
}

/// A position in a single-stream channel id (everything but subaccounts).
pub fn book_cursor(epoch: &str, seq: u64) -> Cursor {
    Cursor {
        stream: StreamId::default(),
        epoch: epoch.into(),
        seq,
    }
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What the client saw next.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    Json(Value),
    Close(u16, String),
    Ended,
}

impl Client {
    pub async fn connect(url: &str) -> Client {
        Client::connect_with_headers(url, &[]).await
    }

    /// Connects with extra headers on the upgrade request (the edge's geo headers).
    pub async fn connect_with_headers(url: &str, headers: &[(&'static str, &str)]) -> Client {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = url.into_client_request().unwrap();
        for (name, value) in headers {
            request.headers_mut().insert(*name, value.parse().unwrap());
        }
        let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        Client { ws }
    }

    pub async fn send(&mut self, value: Value) {
        self.send_text(&value.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    /// The next text frame or close, skipping control frames.
    pub async fn next_seen(&mut self) -> Seen {
        loop {
            let next = tokio::time::timeout(FRAME_WAIT, self.ws.next())
                .await
                .expect("a frame within the wait bound");
            match next {
                Some(Ok(Message::Text(text))) => {
                    return Seen::Json(serde_json::from_str(text.as_str()).unwrap())
                }
                Some(Ok(Message::Close(frame))) => {
                    return match frame {
                        Some(f) => Seen::Close(u16::from(f.code), f.reason.to_string()),
                        None => Seen::Close(1005, String::new()),
                    }
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Seen::Ended,
            }
        }
    }

    pub async fn next_json(&mut self) -> Value {
        match self.next_seen().await {
            Seen::Json(value) => value,
            other => panic!("expected a JSON frame, got {other:?}"),
        }
    }

    pub async fn expect_close(&mut self) -> (u16, String) {
        loop {
            match self.next_seen().await {
                Seen::Close(code, reason) => return (code, reason),
                Seen::Json(_) => continue,
                Seen::Ended => panic!("connection ended without a close frame"),
            }
        }
    }

    /// Connects and returns the connected frame's connection id.
    pub async fn connected(url: &str) -> (Client, String) {
        let mut client = Client::connect(url).await;
        let frame = client.next_json().await;
        assert_eq!(frame["type"], "connected");
        let id = frame["connection_id"].as_str().unwrap().to_owned();
        (client, id)
    }

    /// Subscribes and returns the `subscribed` (or error) answer.
    pub async fn subscribe(&mut self, request: Value) -> Value {
        self.send(request).await;
        self.next_json().await
    }
}
