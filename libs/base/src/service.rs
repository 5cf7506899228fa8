//! The one way a service starts: settings, telemetry, the shutdown listener and the admin server.
//!
//! ```no_run
//! # async fn run() -> Result<(), indexer_base::BaseError> {
//! let service = indexer_base::start("ender", 9001).await?;
//! service.readiness().set_ready("kafka", false);
//! service.shutdown().wait().await;
//! service.finish().await;
//! # Ok(()) }
//! ```

use std::fmt::Display;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::PrometheusHandle;
use tokio::task::JoinSet;

use crate::admin::{AdminServer, Readiness};
use crate::config::{BaseSettings, Env};
use crate::shutdown::{run_until_shutdown, Shutdown, ShutdownReport};
use crate::telemetry::{self, TelemetryGuard};
use crate::BaseError;

/// The version every service reports (the workspace shares one version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// How long exit waits for queued Bugsnag reports.
const BUGSNAG_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// A started service: what its own code needs from the base.
pub struct Service {
    settings: BaseSettings,
    readiness: Readiness,
    shutdown: Shutdown,
    telemetry: TelemetryGuard,
    admin: AdminServer,
    started: Instant,
}

/// Loads [`BaseSettings`] from the process environment, then starts the service.
pub async fn start(service_name: &str, default_admin_port: u16) -> Result<Service, BaseError> {
    start_with_env(&Env::process(), service_name, default_admin_port).await
}

/// [`start`] with explicit variables. Telemetry is still installed process-wide, so a process
/// starts at most one service.
pub async fn start_with_env(
    env: &Env,
    service_name: &str,
    default_admin_port: u16,
) -> Result<Service, BaseError> {
    let settings = BaseSettings::from_env(env, service_name, default_admin_port)?;
    let telemetry = telemetry::init(&settings)?;
    match start_runtime_parts(&settings, &telemetry).await {
        Ok((shutdown, readiness, admin)) => {
            tracing::info!(
                service = %settings.service_name,
                version = VERSION,
                environment = %settings.environment,
                admin_addr = %admin.local_addr(),
                bugsnag = telemetry.bugsnag().is_some(),
                "service started"
            );
            Ok(Service {
                settings,
                readiness,
                shutdown,
                telemetry,
                admin,
                started: Instant::now(),
            })
        }
        Err(error) => {
            tracing::error!(service = %settings.service_name, %error, "service failed to start");
            flush_in_background(&telemetry).await;
            Err(error)
        }
    }
}

async fn start_runtime_parts(
    settings: &BaseSettings,
    telemetry: &TelemetryGuard,
) -> Result<(Shutdown, Readiness, AdminServer), BaseError> {
    // Signals first: once /healthz answers, a SIGTERM must already mean a clean stop.
    let shutdown = Shutdown::new();
    shutdown.listen_for_signals()?;
    let readiness = Readiness::new();
    let admin = AdminServer::start(
        &settings.admin_host,
        settings.admin_port,
        readiness.clone(),
        telemetry.metrics(),
    )
    .await?;
    Ok((shutdown, readiness, admin))
}

async fn flush_in_background(telemetry: &TelemetryGuard) {
    let telemetry = telemetry.clone();
    // Flushing blocks on the sender thread; keep it off the async workers.
    let _ = tokio::task::spawn_blocking(move || telemetry.flush(BUGSNAG_FLUSH_TIMEOUT)).await;
}

impl Service {
    pub fn settings(&self) -> &BaseSettings {
        &self.settings
    }

    /// Register readiness checks here; `/readyz` reports them.
    pub fn readiness(&self) -> Readiness {
        self.readiness.clone()
    }

    /// Triggered by SIGTERM/SIGINT or by the service itself.
    pub fn shutdown(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// The address the admin server actually listens on.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin.local_addr()
    }

    /// The Prometheus handle behind `/metrics`.
    pub fn metrics(&self) -> PrometheusHandle {
        self.telemetry.metrics()
    }

    /// Runs `tasks` until shutdown and waits up to `SHUTDOWN_TIMEOUT_MS` for them to stop.
    pub async fn run_until_shutdown<E>(&self, tasks: JoinSet<Result<(), E>>) -> ShutdownReport
    where
        E: Display + 'static,
    {
        run_until_shutdown(&self.shutdown, tasks, self.settings.shutdown_timeout).await
    }

    /// Clean exit: stops the admin server, logs the exit line, and flushes Bugsnag.
    pub async fn finish(self) {
        self.admin.stop().await;
        tracing::info!(
            service = %self.settings.service_name,
            version = VERSION,
            uptime_s = self.started.elapsed().as_secs(),
            "service stopped"
        );
        flush_in_background(&self.telemetry).await;
    }
}
