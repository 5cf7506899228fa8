//! The whole stack for end-to-end tests and the e2e benchmark: ender, vulcan, socks, comlink and
//! the simulated chain as real processes on free ports, over real Postgres, Redis and Kafka, with
//! a fresh database, unique topic names and a unique Redis key prefix.
//!
//! Shared by `tests/*.rs` (as `mod e2e;`) and `examples/e2e_bench.rs` (through `#[path]`).

#![allow(dead_code)] // each includer uses a different part

pub mod cdp;
pub mod ws;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use indexer_base::config::KafkaSettings;
use indexer_bus::admin::BusAdmin;
use indexer_bus::topics::TopicLayout;
use indexer_testkit::db::TestDb;
use indexer_testkit::kafka::TestTopics;
use indexer_testkit::process::{free_port, http_get, RunningService};

/// The services of the stack in start order (the chain last, once everything listens).
pub const SERVICES: [&str; 5] = ["ender", "vulcan", "socks", "comlink", "devnet"];

/// How the stack is configured.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// `DEVNET_BLOCK_INTERVAL_MS` of the simulated chain.
    pub block_interval_ms: u64,
    pub seed: u64,
    /// Broker, instead of the shared one (`KAFKA_BROKER_URLS` or 127.0.0.1:9092).
    pub brokers: Option<String>,
    /// Redis, instead of the shared one.
    pub redis_url: Option<String>,
    /// Every consumer group unique (no committed offsets survive a restart). Off when services
    /// are restarted against a broker of their own.
    pub unique_groups: bool,
    /// Extra variables for every service.
    pub env: Vec<(String, String)>,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            block_interval_ms: 500,
            seed: 7,
            brokers: None,
            redis_url: None,
            unique_groups: true,
            env: Vec::new(),
        }
    }
}

/// The running stack; dropping it kills every process and removes the database and topics.
pub struct Stack {
    pub db: TestDb,
    pub topics: Topics,
    pub redis_prefix: String,
    pub options: StackOptions,
    pub rest_port: u16,
    pub ws_port: u16,
    services: BTreeMap<&'static str, RunningService>,
}

impl Stack {
    /// Fresh database, topics and Redis prefix; every service started and healthy; socks ready.
    pub async fn start(options: StackOptions) -> Stack {
        ensure_binaries_built();
        progress("creating the database and topics");
        let db = TestDb::new().await;
        let topics = match &options.brokers {
            None => Topics::Shared(TestTopics::new().await),
            Some(brokers) => Topics::own_broker(brokers).await,
        };
        let mut stack = Stack {
            db,
            topics,
            redis_prefix: format!("e2e-{}:", uuid::Uuid::new_v4().simple()),
            options,
            rest_port: free_port(),
            ws_port: free_port(),
            services: BTreeMap::new(),
        };
        for service in SERVICES {
            progress(&format!("starting {service}"));
            stack.start_service(service).await;
        }
        progress("waiting for socks to be ready");
        stack.wait_ready("socks").await;
        progress("stack up");
        stack
    }

    /// The environment every service of this stack gets.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = vec![
            ("DATABASE_URL".into(), self.db.url().to_owned()),
            (
                "KAFKA_BROKER_URLS".into(),
                self.topics.settings().brokers.clone(),
            ),
            (
                "KAFKA_TOPIC_PREFIX".into(),
                self.topics.settings().topic_prefix.clone(),
            ),
            (
                "KAFKA_ENABLE_UNIQUE_CONSUMER_GROUP_IDS".into(),
                self.options.unique_groups.to_string(),
            ),
            ("KAFKA_SESSION_TIMEOUT_MS".into(), "10000".into()),
            ("KAFKA_HEARTBEAT_INTERVAL_MS".into(), "3000".into()),
            ("REDIS_KEY_PREFIX".into(), self.redis_prefix.clone()),
            ("LOG_LEVEL".into(), "info".into()),
            // Markets appear with the chain's first blocks, after the services started.
            ("MARKET_CACHE_REFRESH_MS".into(), "1000".into()),
            (
                "PERPETUAL_MARKETS_REFRESHER_INTERVAL_MS".into(),
                "1000".into(),
            ),
            ("ENDER_MAX_LAG_MS".into(), "999999999999".into()),
            ("RATE_LIMIT_ENABLED".into(), "false".into()),
            ("HOST".into(), "127.0.0.1".into()),
            ("PORT".into(), self.rest_port.to_string()),
            ("WS_HOST".into(), "127.0.0.1".into()),
            ("WS_PORT".into(), self.ws_port.to_string()),
            ("LIVE_PAGE_WS_URL".into(), self.ws_url()),
            (
                "DEVNET_BLOCK_INTERVAL_MS".into(),
                self.options.block_interval_ms.to_string(),
            ),
            ("DEVNET_SEED".into(), self.options.seed.to_string()),
        ];
        if let Some(redis) = &self.options.redis_url {
            for var in ["REDIS_URL", "REDIS_READONLY_URL", "RATE_LIMIT_REDIS_URL"] {
                env.push((var.into(), redis.clone()));
            }
        }
        env.extend(self.options.env.iter().cloned());
        env
    }

    /// Starts (or restarts) `service` and waits for `/healthz`.
    pub async fn start_service(&mut self, service: &'static str) {
        let env = self.env();
        let binary = binary(service);
        let running = tokio::task::spawn_blocking(move || {
            let refs: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            RunningService::start_healthy(binary.to_str().expect("utf-8 path"), &refs)
        })
        .await
        .expect("service start-up task");
        self.services.insert(service, running);
    }

    /// SIGKILL, as a crashing host does: no shutdown code runs.
    pub async fn kill(&mut self, service: &'static str) {
        if let Some(running) = self.services.remove(service) {
            tokio::task::spawn_blocking(move || drop(running))
                .await
                .expect("kill task");
        }
    }

    /// SIGTERM and wait for the exit.
    pub async fn stop(&mut self, service: &'static str) {
        if let Some(mut running) = self.services.remove(service) {
            tokio::task::spawn_blocking(move || {
                running.terminate();
                running.wait_for_exit(Duration::from_secs(60));
            })
            .await
            .expect("stop task");
        }
    }

    pub fn output(&self, service: &str) -> String {
        self.services
            .get(service)
            .map(RunningService::output)
            .unwrap_or_default()
    }

    pub fn admin(&self, service: &str) -> SocketAddr {
        self.services[service].admin_addr
    }

    pub fn rest_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.rest_port))
    }

    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/v4/ws", self.ws_port)
    }

    /// GET on comlink; `(status, body)`.
    pub async fn rest(&self, path: &str) -> std::io::Result<(u16, String)> {
        let addr = self.rest_addr();
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || http_get(addr, &path).map(|r| (r.status, r.body)))
            .await
            .expect("http task")
    }

    /// The Prometheus text of `service`'s admin server.
    pub async fn metrics(&self, service: &str) -> String {
        let addr = self.admin(service);
        tokio::task::spawn_blocking(move || http_get(addr, "/metrics").map(|r| r.body))
            .await
            .expect("http task")
            .unwrap_or_default()
    }

    /// Waits until `service` answers `/readyz` 200.
    pub async fn wait_ready(&self, service: &str) {
        let addr = self.admin(service);
        let ready = wait_until(Duration::from_secs(120), || async move {
            tokio::task::spawn_blocking(move || http_get(addr, "/readyz").map(|r| r.status))
                .await
                .ok()
                .and_then(Result::ok)
                == Some(200)
        })
        .await;
        assert!(
            ready,
            "{service} never became ready:\n{}",
            self.output(service)
        );
    }

    /// Waits until comlink lists `ticker` (the chain's genesis blocks were indexed).
    pub async fn wait_market(&self, ticker: &str) {
        let listed = wait_until(Duration::from_secs(120), || async {
            matches!(self.rest("/v4/perpetualMarkets").await,
                     Ok((200, body)) if body.contains(&format!("\"{ticker}\"")))
        })
        .await;
        assert!(
            listed,
            "comlink never listed {ticker} (processed height {:?}); ender:\n{}\ncomlink:\n{}\ndevnet:\n{}",
            self.processed_height().await,
            tail(&self.output("ender")),
            tail(&self.output("comlink")),
            tail(&self.output("devnet")),
        );
        assert!(
            self.wait_socks_market(ticker).await,
            "socks never accepted a subscription to {ticker}:\n{}",
            tail(&self.output("socks"))
        );
    }

    /// Waits until socks accepts a subscription to `ticker`'s trades (its market cache has it).
    async fn wait_socks_market(&self, ticker: &str) -> bool {
        wait_until(Duration::from_secs(60), || async {
            let Ok(mut socket) = ws::JsonSocket::connect(&self.ws_url()).await else {
                return false;
            };
            let subscribe =
                serde_json::json!({"type": "subscribe", "channel": "v4_trades", "id": ticker});
            if socket.send(&subscribe).await.is_err() {
                return false;
            }
            while let Some(frame) = socket.next(Duration::from_secs(10)).await {
                match frame["type"].as_str() {
                    Some("subscribed") => return true,
                    Some("error") => return false,
                    _ => continue,
                }
            }
            false
        })
        .await
    }

    /// Ender's last processed height.
    pub async fn processed_height(&self) -> Option<i64> {
        sqlx::query_scalar("SELECT last_processed_height FROM ender_progress")
            .fetch_optional(self.db.pool())
            .await
            .ok()
            .flatten()
    }
}

impl Drop for Stack {
    /// The processes go first: the database cannot be dropped while they hold connections.
    fn drop(&mut self) {
        self.services.clear();
    }
}

/// The stack's topics: unique names on the shared broker (deleted at the end), or on a broker
/// of the test's own (which goes away with it).
pub enum Topics {
    Shared(TestTopics),
    Own(KafkaSettings),
}

impl Topics {
    async fn own_broker(brokers: &str) -> Topics {
        let mut settings =
            indexer_testkit::kafka::settings_with_prefix(&indexer_testkit::kafka::unique_prefix());
        settings.brokers = brokers.to_owned();
        BusAdmin::new(&settings)
            .expect("Kafka admin client")
            .ensure_topics(&TopicLayout::uniform(1))
            .await
            .expect("creating the topics");
        Topics::Own(settings)
    }

    pub fn settings(&self) -> &KafkaSettings {
        match self {
            Topics::Shared(topics) => &topics.settings,
            Topics::Own(settings) => settings,
        }
    }
}

/// Progress on stderr, so a slow run shows where it is.
pub fn progress(what: &str) {
    eprintln!(
        "[e2e {:?}] {what}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
            % 3600
    );
}

/// The last few kilobytes of a process's output.
pub fn tail(text: &str) -> &str {
    let start = text.len().saturating_sub(6000);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    &text[start..]
}

/// Polls `check` every 200 ms until it is true (→ true) or `bound` passes (→ false).
pub async fn wait_until<F, Fut>(bound: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + bound;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The profile directory of this executable (`target/debug` for tests, `target/release` for a
/// release example).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current executable");
    let mut dir = exe.parent().expect("exe directory").to_path_buf();
    // tests live in target/<profile>/deps, examples in target/<profile>/examples
    if dir.ends_with("deps") || dir.ends_with("examples") {
        dir.pop();
    }
    dir
}

pub fn binary(service: &str) -> PathBuf {
    profile_dir().join(service)
}

/// The services' binaries of this profile; built with cargo when missing (a workspace test run
/// has built them already, `cargo nextest run -p devnet` alone has not).
fn ensure_binaries_built() {
    let missing: Vec<&str> = SERVICES
        .iter()
        .copied()
        .filter(|s| !binary(s).exists())
        .collect();
    if missing.is_empty() {
        return;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command.arg("build");
    if profile_dir().ends_with("release") {
        command.arg("--release");
    }
    for service in &missing {
        command.args(["-p", service, "--bin", service]);
    }
    let status = command.status().expect("running cargo build");
    assert!(status.success(), "building {missing:?} failed");
}
