//! The admin HTTP server every service runs on `ADMIN_HOST:ADMIN_PORT`.
//!
//! | Route | Meaning |
//! |---|---|
//! | `GET /healthz`, `/health/live` | liveness: 200 `{"ok":true}` while the process serves HTTP |
//! | `GET /readyz`, `/health/ready`, `/health` | readiness: 200 when every registered check passes, else 503 naming the failing checks |
//! | `GET /metrics` | Prometheus text exposition |
//!
//! `/health` answers readiness because load balancers use it to decide whether to send traffic.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::BaseError;

/// A check that has not answered within this is reported as failing.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// How often histogram data is folded in when nobody scrapes, so memory stays bounded.
const METRICS_UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
type CheckFn = Arc<dyn Fn() -> CheckFuture + Send + Sync>;

#[derive(Clone)]
enum Check {
    Flag(Arc<AtomicBool>),
    Probe(CheckFn),
}

/// The readiness checks of one service. Cheap to clone; every clone sees the same checks.
///
/// With no checks registered the service is ready.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Arc<RwLock<BTreeMap<String, Check>>>,
}

/// One check that did not pass, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FailingCheck {
    pub check: String,
    pub reason: String,
}

impl Readiness {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or replaces) an async check, run on every readiness request. A check that
    /// errors or takes longer than [`CHECK_TIMEOUT`] makes the service unready.
    pub fn register<F, Fut, E>(&self, name: impl Into<String>, check: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let probe: CheckFn = Arc::new(move || {
            let fut = check();
            Box::pin(async move { fut.await.map_err(|e| e.to_string()) })
        });
        self.write().insert(name.into(), Check::Probe(probe));
    }

    /// Sets a flag check, for things the service learns by events (partitions assigned,
    /// caught up). Creates the check on first use.
    pub fn set_ready(&self, name: impl Into<String>, ready: bool) {
        let name = name.into();
        if let Some(Check::Flag(flag)) = self.read().get(&name) {
            flag.store(ready, Ordering::SeqCst);
            return;
        }
        self.write()
            .insert(name, Check::Flag(Arc::new(AtomicBool::new(ready))));
    }

    /// Removes a check (e.g. a consumer that was shut down on purpose).
    pub fn remove(&self, name: &str) {
        self.write().remove(name);
    }

    /// Runs every check concurrently; the failing ones, sorted by name (empty = ready).
    pub async fn failing(&self) -> Vec<FailingCheck> {
        let checks: Vec<(String, Check)> = self
            .read()
            .iter()
            .map(|(name, check)| (name.clone(), check.clone()))
            .collect();
        let results =
            futures::future::join_all(checks.into_iter().map(|(name, check)| async move {
                run_check(check).await.err().map(|reason| FailingCheck {
                    check: name,
                    reason,
                })
            }))
            .await;
        results.into_iter().flatten().collect()
    }

    /// Names of the registered checks.
    pub fn names(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Check>> {
        // A panic while holding the lock cannot leave the map half-written; keep serving.
        self.checks
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Check>> {
        self.checks
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

async fn run_check(check: Check) -> Result<(), String> {
    match check {
        Check::Flag(flag) if flag.load(Ordering::SeqCst) => Ok(()),
        Check::Flag(_) => Err("not ready".to_string()),
        Check::Probe(probe) => match tokio::time::timeout(CHECK_TIMEOUT, probe()).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {} ms", CHECK_TIMEOUT.as_millis())),
        },
    }
}

#[derive(Clone)]
struct AdminState {
    readiness: Readiness,
    metrics: PrometheusHandle,
}

/// The admin routes, for embedding or testing without a socket.
pub fn router(readiness: Readiness, metrics: PrometheusHandle) -> Router {
    Router::new()
        .route("/healthz", get(live))
        .route("/health/live", get(live))
        .route("/readyz", get(ready))
        .route("/health/ready", get(ready))
        .route("/health", get(ready))
        .route("/metrics", get(render_metrics))
        .with_state(AdminState { readiness, metrics })
}

async fn live() -> Json<serde_json::Value> {
    Json(json!({ "ok": true }))
}

async fn ready(State(state): State<AdminState>) -> Response {
    let failing = state.readiness.failing().await;
    if failing.is_empty() {
        (
            StatusCode::OK,
            Json(json!({ "ok": true, "checks": state.readiness.names() })),
        )
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "ok": false, "failing": failing })),
        )
            .into_response()
    }
}

async fn render_metrics(State(state): State<AdminState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// A running admin server.
pub struct AdminServer {
    local_addr: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl AdminServer {
    /// Binds `host:port` (port 0 picks a free one) and serves the admin routes in the background.
    pub async fn start(
        host: &str,
        port: u16,
        readiness: Readiness,
        metrics: PrometheusHandle,
    ) -> Result<AdminServer, BaseError> {
        let addr = resolve(host, port).await?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| BaseError::bind(addr, e))?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| BaseError::bind(addr, e))?;
        let stop = CancellationToken::new();
        let app = router(readiness, metrics.clone());
        let task = tokio::spawn(serve(listener, app, metrics, stop.clone()));
        Ok(AdminServer {
            local_addr,
            stop,
            task,
        })
    }

    /// The address actually bound (differs from the configured one when the port was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the server to end.
    pub async fn stop(self) {
        self.stop.cancel();
        if let Err(error) = self.task.await {
            tracing::warn!(%error, "admin server task ended abnormally");
        }
    }
}

/// An IP address as is; a host name (e.g. `localhost`) through the resolver.
async fn resolve(host: &str, port: u16) -> Result<SocketAddr, BaseError> {
    let host = host.trim();
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let invalid = |reason: String| BaseError::AdminAddress {
        host: host.to_string(),
        port,
        reason,
    };
    let mut addrs = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| invalid(e.to_string()))?;
    addrs
        .next()
        .ok_or_else(|| invalid("the name resolves to no address".to_string()))
}

async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    metrics: PrometheusHandle,
    stop: CancellationToken,
) {
    let upkeep = tokio::spawn(run_upkeep(metrics, stop.clone()));
    let shutdown = stop.clone();
    if let Err(error) = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
    {
        tracing::error!(%error, "admin server failed; health checks will fail");
    }
    stop.cancel();
    let _ = upkeep.await;
}

async fn run_upkeep(metrics: PrometheusHandle, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(METRICS_UPKEEP_INTERVAL);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => metrics.run_upkeep(),
        }
    }
}
