//! Shared test helpers: a local HTTP receiver standing in for Bugsnag, and settings builders.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use indexer_base::config::{BaseSettings, Env};
use tokio::sync::{mpsc, Semaphore};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: serde_json::Value,
}

/// An axum server on 127.0.0.1:0 that records every POST.
pub struct Receiver {
    pub endpoint: String,
    pub requests: mpsc::UnboundedReceiver<Received>,
    /// Each request waits for a permit before being answered; `open()` makes it a no-op.
    pub gate: Arc<Semaphore>,
}

impl Receiver {
    /// Answers at once.
    pub async fn start() -> Self {
        let receiver = Self::start_gated().await;
        receiver.gate.add_permits(Semaphore::MAX_PERMITS / 2);
        receiver
    }

    /// Holds every request until permits are added to `gate`.
    pub async fn start_gated() -> Self {
        let (tx, requests) = mpsc::unbounded_channel();
        let gate = Arc::new(Semaphore::new(0));
        let app = Router::new()
            .route("/", post(record))
            .with_state((tx, Arc::clone(&gate)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            endpoint,
            requests,
            gate,
        }
    }

    /// Everything received so far.
    pub fn drain(&mut self) -> Vec<Received> {
        let mut all = Vec::new();
        while let Ok(request) = self.requests.try_recv() {
            all.push(request);
        }
        all
    }
}

async fn record(
    State((tx, gate)): State<(mpsc::UnboundedSender<Received>, Arc<Semaphore>)>,
    headers: HeaderMap,
    body: Bytes,
) -> &'static str {
    let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let _ = tx.send(Received { headers, body });
    gate.acquire().await.unwrap().forget();
    "OK"
}

pub fn settings(pairs: &[(&str, &str)]) -> BaseSettings {
    BaseSettings::from_env(&Env::from_pairs(pairs.iter().copied()), "ender", 9001).unwrap()
}

/// A `MakeWriter` collecting log output in memory.
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'w> tracing_subscriber::fmt::MakeWriter<'w> for Captured {
    type Writer = Captured;
    fn make_writer(&'w self) -> Self::Writer {
        self.clone()
    }
}
