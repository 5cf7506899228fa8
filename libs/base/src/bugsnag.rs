//! Ships ERROR events to Bugsnag (the reference pages on-call through Bugsnag, so "error" means
//! actionable here too).
//!
//! [`layer`] returns a `tracing_subscriber::Layer` and a [`BugsnagReporter`]. The layer turns each
//! ERROR event into a Bugsnag notify payload (v5) and hands it to a bounded queue with `try_send`,
//! so the logging thread never waits on the network; when the queue is full the event is dropped
//! and counted. A dedicated sender thread owns a small tokio runtime and POSTs each payload with
//! reqwest. Using a thread rather than a task on the service's runtime means reports still go out
//! while that runtime is panicking or shutting down.
//!
//! Reporting is off entirely when no key is configured: [`BugsnagConfig::from_settings`] returns
//! `None` and no layer, queue or thread exists.

use std::cell::Cell;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

use crate::config::BaseSettings;
use crate::BaseError;

/// Target of the event the panic hook logs; such events are reported as unhandled.
pub const PANIC_TARGET: &str = "panic";

const NOTIFIER_NAME: &str = "indexer-base";
const NOTIFIER_URL: &str = "https://github.com/dydxprotocol/v4-chain";
const DEFAULT_QUEUE_CAPACITY: usize = 256;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What the reporter needs to know; built from [`BaseSettings`] in services.
#[derive(Debug, Clone)]
pub struct BugsnagConfig {
    pub api_key: String,
    /// Base URL of the notify API, e.g. `https://notify.bugsnag.com`; payloads are POSTed to it.
    pub endpoint: String,
    pub service: String,
    pub release_stage: String,
    pub app_version: String,
    /// How many reports may wait for the sender before new ones are dropped.
    pub queue_capacity: usize,
}

impl BugsnagConfig {
    /// `None` when no key is configured (or `SEND_BUGSNAG_ERRORS=false`): reporting is off.
    pub fn from_settings(settings: &BaseSettings) -> Option<Self> {
        let api_key = settings.bugsnag_key.clone()?;
        Some(Self {
            api_key,
            endpoint: settings.bugsnag_endpoint.clone(),
            service: settings.service_name.clone(),
            release_stage: settings.bugsnag_release_stage.clone(),
            app_version: env!("CARGO_PKG_VERSION").to_string(),
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
        })
    }
}

/// Counters shared by the layer, the sender thread and the reporter.
#[derive(Debug, Default)]
struct Counters {
    dropped: AtomicU64,
    sent: AtomicU64,
    failed: AtomicU64,
}

enum Job {
    Notify(Box<Value>),
    Flush(mpsc::Sender<()>),
}

/// The `tracing` layer; add it to the subscriber (with [`crate::telemetry`] this is automatic).
pub struct BugsnagLayer {
    config: Arc<BugsnagConfig>,
    hostname: String,
    queue: SyncSender<Job>,
    counters: Arc<Counters>,
}

/// A cloneable handle to the sender: counters and flushing.
#[derive(Clone)]
pub struct BugsnagReporter {
    queue: SyncSender<Job>,
    counters: Arc<Counters>,
}

/// Starts the sender thread and returns the layer feeding it plus a handle to it.
pub fn layer(config: BugsnagConfig) -> Result<(BugsnagLayer, BugsnagReporter), BaseError> {
    let (queue, jobs) = mpsc::sync_channel(config.queue_capacity.max(1));
    let counters = Arc::new(Counters::default());
    let config = Arc::new(config);
    spawn_sender(Arc::clone(&config), jobs, Arc::clone(&counters))?;
    let layer = BugsnagLayer {
        config,
        hostname: hostname(),
        queue: queue.clone(),
        counters: Arc::clone(&counters),
    };
    Ok((layer, BugsnagReporter { queue, counters }))
}

impl BugsnagReporter {
    /// Reports dropped because the queue was full or the sender had stopped.
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }

    /// Reports Bugsnag accepted (2xx).
    pub fn sent(&self) -> u64 {
        self.counters.sent.load(Ordering::Relaxed)
    }

    /// Reports that could not be delivered (network error or non-2xx answer).
    pub fn failed(&self) -> u64 {
        self.counters.failed.load(Ordering::Relaxed)
    }

    /// Waits until every report queued before this call has been attempted, or `timeout` passes.
    /// Returns whether the queue drained in time. Blocking: call it from a plain thread, the panic
    /// hook, or `spawn_blocking`.
    pub fn flush(&self, timeout: Duration) -> bool {
        if ON_SENDER_THREAD.with(Cell::get) {
            // The sender cannot wait for itself.
            return false;
        }
        let deadline = Instant::now() + timeout;
        let (ack, acked) = mpsc::channel();
        let mut job = Job::Flush(ack);
        loop {
            match self.queue.try_send(job) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(back)) => {
                    if Instant::now() >= deadline {
                        return false;
                    }
                    job = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        !matches!(
            acked.recv_timeout(remaining),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected)
        )
    }
}

thread_local! {
    /// Set on the sender thread so that anything reqwest logs there is never reported again.
    static ON_SENDER_THREAD: Cell<bool> = const { Cell::new(false) };
}

impl<S: Subscriber> Layer<S> for BugsnagLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if *event.metadata().level() != Level::ERROR || ON_SENDER_THREAD.with(Cell::get) {
            return;
        }
        let captured = CapturedEvent::from_event(event, Utc::now());
        let payload = notification(&self.config, &self.hostname, &captured);
        match self.queue.try_send(Job::Notify(Box::new(payload))) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                metrics::counter!(format!(
                    "{}_bugsnag_dropped_reports_total",
                    self.config.service
                ))
                .increment(1);
            }
        }
    }
}

/// The parts of a `tracing` event a report is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct CapturedEvent {
    pub message: String,
    pub target: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub fields: Map<String, Value>,
    pub time: DateTime<Utc>,
}

impl CapturedEvent {
    fn from_event(event: &Event<'_>, time: DateTime<Utc>) -> Self {
        let mut visitor = FieldCollector::default();
        event.record(&mut visitor);
        let meta = event.metadata();
        Self {
            message: visitor.message.unwrap_or_default(),
            target: meta.target().to_string(),
            file: meta.file().map(str::to_string),
            line: meta.line(),
            fields: visitor.fields,
            time,
        }
    }

    /// Panics are reported as unhandled: the process is about to die.
    pub fn is_unhandled(&self) -> bool {
        self.target == PANIC_TARGET
    }
}

/// Collects event fields as JSON values, keeping `message` apart.
#[derive(Default)]
pub(crate) struct FieldCollector {
    pub(crate) message: Option<String>,
    pub(crate) fields: Map<String, Value>,
}

impl FieldCollector {
    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = Some(match value {
                Value::String(text) => text,
                other => other.to_string(),
            });
        } else {
            self.fields.insert(field.name().to_string(), value);
        }
    }
}

impl Visit for FieldCollector {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, json!(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, json!(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, json!(value));
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.put(field, Value::String(value.to_string()));
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.put(field, Value::String(value.to_string()));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, json!(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_string()));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::String(error_chain(value)));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }
}

/// `outer: inner: root`, so the cause is visible without a stack trace.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The notify payload (v5) for one event. The grouping hash is message + target + service, so
/// one error class is one Bugsnag issue however its fields vary.
pub fn notification(config: &BugsnagConfig, hostname: &str, event: &CapturedEvent) -> Value {
    let mut metadata = event.fields.clone();
    metadata.insert("service".into(), json!(config.service));
    metadata.insert("target".into(), json!(event.target));
    if let (Some(file), Some(line)) = (&event.file, event.line) {
        metadata.insert("location".into(), json!(format!("{file}:{line}")));
    }
    let message = match event.fields.get("error") {
        Some(Value::String(error)) if !event.message.is_empty() => {
            format!("{}: {error}", event.message)
        }
        Some(Value::String(error)) => error.clone(),
        _ => event.message.clone(),
    };
    let unhandled = event.is_unhandled();
    json!({
        "apiKey": config.api_key,
        "payloadVersion": "5",
        "notifier": {
            "name": NOTIFIER_NAME,
            "version": env!("CARGO_PKG_VERSION"),
            "url": NOTIFIER_URL,
        },
        "events": [{
            "exceptions": [{
                "errorClass": event.target,
                "message": message,
                "stacktrace": [],
            }],
            "context": event.target,
            "severity": "error",
            "severityReason": { "type": if unhandled { "unhandledPanic" } else { "log" } },
            "unhandled": unhandled,
            "app": { "releaseStage": config.release_stage, "version": config.app_version },
            "device": { "hostname": hostname, "time": rfc3339(event.time) },
            "metaData": { "log": metadata },
            "groupingHash": format!("{} {} {}", event.message, event.target, config.service),
        }],
    })
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The machine name Bugsnag shows; containers set `HOSTNAME`.
fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

fn spawn_sender(
    config: Arc<BugsnagConfig>,
    jobs: Receiver<Job>,
    counters: Arc<Counters>,
) -> Result<(), BaseError> {
    std::thread::Builder::new()
        .name("bugsnag-sender".into())
        .spawn(move || {
            ON_SENDER_THREAD.with(|flag| flag.set(true));
            run_sender(&config, jobs, &counters);
        })
        .map(|_| ())
        .map_err(BaseError::BugsnagWorker)
}

/// Sends queued reports one by one until every queue handle is gone.
fn run_sender(config: &BugsnagConfig, jobs: Receiver<Job>, counters: &Counters) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::warn!(%error, "Bugsnag reporting disabled: cannot build the sender runtime");
            return;
        }
    };
    let client = match reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build() {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(%error, "Bugsnag reporting disabled: cannot build the HTTP client");
            return;
        }
    };
    while let Ok(job) = jobs.recv() {
        match job {
            Job::Flush(ack) => {
                let _ = ack.send(());
            }
            Job::Notify(payload) => {
                let delivered = runtime.block_on(post(&client, config, &payload));
                let counter = if delivered {
                    &counters.sent
                } else {
                    &counters.failed
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// One POST; failures are logged at warn (never error, which would report itself).
async fn post(client: &reqwest::Client, config: &BugsnagConfig, payload: &Value) -> bool {
    let result = client
        .post(&config.endpoint)
        .header("Bugsnag-Api-Key", &config.api_key)
        .header("Bugsnag-Payload-Version", "5")
        .header("Bugsnag-Sent-At", rfc3339(Utc::now()))
        .json(payload)
        .send()
        .await;
    match result {
        Ok(response) if response.status().is_success() => true,
        Ok(response) => {
            tracing::warn!(status = %response.status(), endpoint = %config.endpoint, "Bugsnag rejected a report");
            false
        }
        Err(error) => {
            tracing::warn!(error = %error_chain(&error), endpoint = %config.endpoint, "cannot reach Bugsnag");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> BugsnagConfig {
        BugsnagConfig {
            api_key: "k".into(),
            endpoint: "http://127.0.0.1:1".into(),
            service: "ender".into(),
            release_stage: "staging".into(),
            app_version: "1.2.3".into(),
            queue_capacity: 4,
        }
    }

    fn event(target: &str) -> CapturedEvent {
        let mut fields = Map::new();
        fields.insert("height".into(), json!(12));
        fields.insert("error".into(), json!("connection refused"));
        CapturedEvent {
            message: "block failed".into(),
            target: target.into(),
            file: Some("src/x.rs".into()),
            line: Some(7),
            fields,
            time: Utc::now(),
        }
    }

    #[test]
    fn payload_names_the_error_and_groups_by_message_target_service() {
        let payload = notification(&config(), "host-1", &event("ender::blocks"));
        let e = &payload["events"][0];
        assert_eq!(
            e["exceptions"][0]["message"],
            "block failed: connection refused"
        );
        assert_eq!(e["exceptions"][0]["errorClass"], "ender::blocks");
        assert_eq!(e["groupingHash"], "block failed ender::blocks ender");
        assert_eq!(e["metaData"]["log"]["height"], 12);
        assert_eq!(e["metaData"]["log"]["service"], "ender");
        assert_eq!(e["metaData"]["log"]["location"], "src/x.rs:7");
        assert_eq!(e["app"]["releaseStage"], "staging");
        assert_eq!(e["device"]["hostname"], "host-1");
        assert_eq!(e["unhandled"], false);
    }

    #[test]
    fn panics_are_unhandled() {
        let payload = notification(&config(), "h", &event(PANIC_TARGET));
        assert_eq!(payload["events"][0]["unhandled"], true);
        assert_eq!(
            payload["events"][0]["severityReason"]["type"],
            "unhandledPanic"
        );
    }

    #[test]
    fn flush_reports_false_when_the_sender_is_gone() {
        let (queue, jobs) = mpsc::sync_channel(1);
        drop(jobs);
        let reporter = BugsnagReporter {
            queue,
            counters: Arc::default(),
        };
        assert!(!reporter.flush(Duration::from_millis(10)));
    }
}
