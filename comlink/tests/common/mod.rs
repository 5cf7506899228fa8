//! The test harness: a fresh database (seeded before the server starts, so the market cache sees
//! the markets), a unique Redis key prefix, and the real comlink server on an ephemeral port.

#![allow(dead_code)]

pub mod ingest;
pub mod python;
pub mod seed;

use std::time::Duration;

use comlink::app;
use comlink::config::ComlinkSettings;
use comlink::state::AppState;
use indexer_base::config::Env;
use indexer_testkit::db::TestDb;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use seed::Seed;

/// A fresh database holding blocks `heights` and the standard markets, where most tests start.
pub async fn db_with_markets(heights: std::ops::RangeInclusive<i64>) -> TestDb {
    let db = TestDb::new().await;
    let seed = Seed { pool: db.pool() };
    seed.blocks(heights).await;
    seed.standard_markets().await;
    db
}

/// A running server over its own database and Redis prefix.
pub struct TestApp {
    pub db: TestDb,
    pub state: AppState,
    pub base_url: String,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    background: Vec<JoinHandle<()>>,
}

/// A response: status, headers and JSON body.
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestApp {
    /// Starts the server with default test settings.
    pub async fn start(db: TestDb) -> Self {
        Self::start_with(db, &[]).await
    }

    /// Starts the server with extra environment variables.
    pub async fn start_with(db: TestDb, vars: &[(&str, &str)]) -> Self {
        let prefix = format!("test-{}:", uuid::Uuid::new_v4().simple());
        let mut env: Vec<(String, String)> = vec![
            ("DATABASE_URL".into(), db.url().to_owned()),
            ("REDIS_KEY_PREFIX".into(), prefix),
            ("RATE_LIMIT_ENABLED".into(), "false".into()),
            ("PG_POOL_MAX".into(), "4".into()),
            ("MIN_HEIGHT_WAIT_MS".into(), "200".into()),
        ];
        if let Ok(url) = std::env::var("TEST_REDIS_URL") {
            env.push(("REDIS_URL".into(), url));
        }
        for (key, value) in vars {
            env.retain(|(k, _)| k != key);
            env.push(((*key).into(), (*value).into()));
        }
        let settings = ComlinkSettings::from_env(&Env::from_pairs(env)).expect("test settings");
        let state = app::connect(settings).await.expect("connecting comlink");
        let background = app::spawn_background(&state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let server_state = state.clone();
        let server = tokio::spawn(async move {
            app::serve(listener, server_state, async move {
                let _ = stopped.await;
            })
            .await
            .expect("serving");
        });
        Self {
            db,
            state,
            base_url,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            stop: Some(stop),
            server: Some(server),
            background,
        }
    }

    /// GET `path` (with its query string) and parse the JSON body.
    pub async fn get(&self, path: &str) -> Reply {
        self.get_with(path, &[]).await
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.client.get(format!("{}{}", self.base_url, path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body read");
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("GET {path}: body is not JSON ({e}): {text}"));
        Reply {
            status,
            headers,
            body,
        }
    }

    /// GET `path` and return the raw body text (to check key order).
    pub async fn get_text(&self, path: &str) -> String {
        self.client
            .get(format!("{}{}", self.base_url, path))
            .send()
            .await
            .expect("request sent")
            .text()
            .await
            .expect("body read")
    }

    /// The Redis key builder of this app (with its unique prefix).
    pub fn keys(&self) -> &indexer_cache::Keys {
        self.state.cache().keys()
    }

    pub fn redis(&self) -> redis::aio::ConnectionManager {
        self.state.cache().conn()
    }

    /// Stops the server, removes the Redis keys and drops the database.
    pub async fn stop(self) {
        let TestApp {
            db,
            state,
            stop,
            server,
            background,
            ..
        } = self;
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
        if let Some(server) = server {
            let _ = server.await;
        }
        background.iter().for_each(|task| task.abort());
        let _ = state.cache().clear().await;
        state.pools().close().await;
        db.cleanup().await;
    }
}

/// Asserts that the first occurrences of `"key":` in `raw` come in the given order (JSON values
/// parsed into `serde_json::Value` lose key order).
pub fn assert_key_order(raw: &str, keys: &[&str]) {
    let positions: Vec<usize> = keys
        .iter()
        .map(|key| {
            raw.find(&format!("\"{key}\":"))
                .unwrap_or_else(|| panic!("key {key} missing in {raw}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "keys out of order: {keys:?} at {positions:?} in {raw}"
    );
}

/// A valid dYdX address (bech32 of 20 bytes of `seed`).
pub fn address(seed: u8) -> String {
    cosmrs::AccountId::new("dydx", &[seed; 20])
        .expect("valid account id")
        .to_string()
}
