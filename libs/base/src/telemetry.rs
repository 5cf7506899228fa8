//! Logging, metrics and panic reporting for one service process.
//!
//! [`init`] installs, once per process:
//! - a `tracing` subscriber writing to stdout, human-readable or one JSON object per line (every
//!   line carries `service`), filtered by `RUST_LOG` when set, else `LOG_LEVEL`;
//! - the Bugsnag layer when a key is configured (ERROR events only, regardless of the log filter,
//!   so turning logs down never hides pages);
//! - the Prometheus recorder behind the `metrics` macros; the handle renders `/metrics`;
//! - a panic hook that logs the panic at ERROR (so Bugsnag gets it, marked unhandled), waits
//!   briefly for the report to go out, then runs the default hook.
//!
//! The pieces ([`log_filter`], [`fmt_layer`], [`metrics_recorder`]) are public so tests can build
//! them without installing anything globally.
//!
//! Metric names: `<service>_<what>_<unit>` in Prometheus style, e.g.
//! `ender_block_processing_seconds`, `socks_forwarded_messages_total`. Histograms whose name ends
//! in `_seconds` or `_bytes` get the bucket sets below; other histograms render as summaries.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use serde_json::{Map, Value};
use tracing::{Dispatch, Event, Level, Subscriber};
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use crate::bugsnag::{self, BugsnagConfig, BugsnagReporter, FieldCollector, PANIC_TARGET};
use crate::config::{BaseSettings, ConfigError};
use crate::BaseError;

/// Buckets for `*_seconds` histograms: 1 ms to 1 min, dense where block and message latencies sit.
pub const LATENCY_BUCKETS_SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Buckets for `*_bytes` histograms: 256 B to 4 MiB (the largest Kafka message).
pub const SIZE_BUCKETS_BYTES: &[f64] = &[
    256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
];

/// How long the panic hook waits for the Bugsnag report before the process goes on dying.
const PANIC_REPORT_TIMEOUT: Duration = Duration::from_secs(3);

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// What [`init`] installed. Keep it for the life of the process: it holds the metrics handle
/// `/metrics` renders and the Bugsnag reporter to flush before exit.
#[derive(Clone)]
pub struct TelemetryGuard {
    metrics: PrometheusHandle,
    bugsnag: Option<BugsnagReporter>,
}

impl TelemetryGuard {
    /// Renders the Prometheus text exposition.
    pub fn metrics(&self) -> PrometheusHandle {
        self.metrics.clone()
    }

    /// The Bugsnag reporter, `None` when reporting is off.
    pub fn bugsnag(&self) -> Option<&BugsnagReporter> {
        self.bugsnag.as_ref()
    }

    /// Waits (blocking, at most `timeout`) until queued Bugsnag reports have been sent.
    /// True when there was nothing to wait for or everything went out in time.
    pub fn flush(&self, timeout: Duration) -> bool {
        self.bugsnag
            .as_ref()
            .is_none_or(|reporter| reporter.flush(timeout))
    }
}

/// Installs logging, Bugsnag, the metrics recorder and the panic hook for this process.
/// A second call returns [`BaseError::TelemetryAlreadyInstalled`] and changes nothing.
pub fn init(settings: &BaseSettings) -> Result<TelemetryGuard, BaseError> {
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return Err(BaseError::TelemetryAlreadyInstalled {
            what: "telemetry::init was already called",
        });
    }
    let rust_log = std::env::var("RUST_LOG").ok();
    let ansi = !settings.log_json && std::io::stdout().is_terminal();
    let Logging { dispatch, bugsnag } =
        build_logging(settings, rust_log.as_deref(), std::io::stdout, ansi)?;
    dispatch
        .try_init()
        .map_err(|_| BaseError::TelemetryAlreadyInstalled {
            what: "a global tracing subscriber",
        })?;

    let recorder = metrics_recorder()?;
    let metrics = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|_| BaseError::TelemetryAlreadyInstalled {
        what: "a global metrics recorder",
    })?;
    record_build_info(&settings.service_name);

    install_panic_hook(bugsnag.clone());
    Ok(TelemetryGuard { metrics, bugsnag })
}

/// A subscriber as [`init`] builds it, not installed: use it with
/// `tracing::dispatcher::with_default` in tests, or install it yourself.
pub struct Logging {
    pub dispatch: Dispatch,
    /// The Bugsnag sender feeding from `dispatch`; `None` when reporting is off.
    pub bugsnag: Option<BugsnagReporter>,
}

/// Builds the logging pipeline [`init`] installs (stdout replaced by `writer`, no colours).
/// `rust_log` stands for the `RUST_LOG` variable.
pub fn logging<W>(
    settings: &BaseSettings,
    rust_log: Option<&str>,
    writer: W,
) -> Result<Logging, BaseError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    build_logging(settings, rust_log, writer, false)
}

fn build_logging<W>(
    settings: &BaseSettings,
    rust_log: Option<&str>,
    writer: W,
    ansi: bool,
) -> Result<Logging, BaseError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = log_filter(rust_log, &settings.log_level)?;
    let (bugsnag_layer, bugsnag) = match BugsnagConfig::from_settings(settings) {
        Some(config) => {
            let (layer, reporter) = bugsnag::layer(config)?;
            // Its own filter: ERROR events reach Bugsnag whatever the log filter says.
            (Some(layer.with_filter(LevelFilter::ERROR)), Some(reporter))
        }
        None => (None, None),
    };
    let subscriber = tracing_subscriber::registry()
        .with(build_fmt_layer(settings, writer, ansi).with_filter(filter))
        .with(bugsnag_layer);
    Ok(Logging {
        dispatch: Dispatch::new(subscriber),
        bugsnag,
    })
}

/// The log filter: `RUST_LOG` when set, else `LOG_LEVEL`. A bare syslog level as the
/// reference uses (`emerg` … `debug`, `warning`, `notice`) maps to the nearest tracing level.
pub fn log_filter(rust_log: Option<&str>, log_level: &str) -> Result<EnvFilter, ConfigError> {
    let (var, value) = match rust_log.map(str::trim).filter(|v| !v.is_empty()) {
        Some(rust_log) => ("RUST_LOG", rust_log),
        None => ("LOG_LEVEL", log_level.trim()),
    };
    let directives = syslog_to_tracing(value).unwrap_or(value);
    EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .parse(directives)
        .map_err(|e| ConfigError::Invalid {
            var: var.to_string(),
            value: value.to_string(),
            reason: e.to_string(),
        })
}

fn syslog_to_tracing(level: &str) -> Option<&'static str> {
    Some(match level.to_ascii_lowercase().as_str() {
        "emerg" | "alert" | "crit" | "critical" | "err" | "error" => "error",
        "warning" | "warn" => "warn",
        "notice" | "info" => "info",
        "debug" => "debug",
        "trace" => "trace",
        _ => return None,
    })
}

/// The stdout layer as [`init`] builds it (no colours), writing to `writer`.
pub fn fmt_layer<S, W>(settings: &BaseSettings, writer: W) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    build_fmt_layer(settings, writer, false)
}

fn build_fmt_layer<S, W>(
    settings: &BaseSettings,
    writer: W,
    ansi: bool,
) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    if settings.log_json {
        tracing_subscriber::fmt::layer()
            .fmt_fields(JsonFields::new())
            .event_format(JsonLines {
                service: settings.service_name.clone(),
            })
            .with_writer(writer)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_ansi(ansi)
            .with_writer(writer)
            .boxed()
    }
}

/// One JSON object per line: `timestamp`, `level` (lowercase, as the reference's log filters
/// expect `"level":"error"`), `service`, `target`, `message`, the event's fields at top level,
/// and `spans` (outermost first, each with its name and fields).
pub struct JsonLines {
    service: String,
}

const RESERVED_KEYS: [&str; 6] = [
    "timestamp",
    "level",
    "service",
    "target",
    "message",
    "spans",
];

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let mut collector = FieldCollector::default();
        event.record(&mut collector);
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            Value::String(Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)),
        );
        line.insert(
            "level".into(),
            Value::String(level_name(*meta.level()).into()),
        );
        line.insert("service".into(), Value::String(self.service.clone()));
        line.insert("target".into(), Value::String(meta.target().into()));
        line.insert(
            "message".into(),
            Value::String(collector.message.unwrap_or_default()),
        );
        for (name, value) in collector.fields {
            if !RESERVED_KEYS.contains(&name.as_str()) {
                line.insert(name, value);
            } else if line.get(&name) != Some(&value) {
                // Never overwrite a reserved key; repeating the same value adds nothing.
                line.insert(format!("field_{name}"), value);
            }
        }
        let spans = span_objects(ctx);
        if !spans.is_empty() {
            line.insert("spans".into(), Value::Array(spans));
        }
        let text = serde_json::to_string(&line).map_err(|_| std::fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

/// The current span scope as JSON objects; span fields were stored as JSON by `JsonFields`.
fn span_objects<S, N>(ctx: &FmtContext<'_, S, N>) -> Vec<Value>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    let Some(scope) = ctx.event_scope() else {
        return Vec::new();
    };
    scope
        .from_root()
        .map(|span| {
            let mut object = span
                .extensions()
                .get::<FormattedFields<N>>()
                .and_then(|fields| serde_json::from_str::<Map<String, Value>>(fields).ok())
                .unwrap_or_default();
            object.insert("name".into(), Value::String(span.name().into()));
            Value::Object(object)
        })
        .collect()
}

/// The Prometheus recorder with this crate's bucket conventions, not installed anywhere.
pub fn metrics_recorder() -> Result<PrometheusRecorder, BaseError> {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS_SECONDS)
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Suffix("_bytes".into()), SIZE_BUCKETS_BYTES)
        })
        .map_err(|e| BaseError::Metrics(e.to_string()))?;
    Ok(builder.build_recorder())
}

/// `<service>` made safe as a Prometheus name prefix (`[a-zA-Z0-9_]`).
pub fn metric_prefix(service: &str) -> String {
    service
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `<service>_build_info{version}` = 1, so every scrape shows what is running.
fn record_build_info(service: &str) {
    let name = format!("{}_build_info", metric_prefix(service));
    metrics::describe_gauge!(
        name.clone(),
        "Always 1; the version label says which build is running"
    );
    metrics::gauge!(name, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
}

fn install_panic_hook(bugsnag: Option<BugsnagReporter>) {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".to_string());
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()));
        let thread = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_string();
        let backtrace = std::backtrace::Backtrace::force_capture();
        tracing::error!(
            target: PANIC_TARGET,
            panic_location = location.as_deref(),
            thread = %thread,
            backtrace = %backtrace,
            "panic: {payload}"
        );
        if let Some(reporter) = &bugsnag {
            reporter.flush(PANIC_REPORT_TIMEOUT);
        }
        default_hook(info);
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syslog_levels_map_to_tracing_levels() {
        assert_eq!(syslog_to_tracing("warning"), Some("warn"));
        assert_eq!(syslog_to_tracing("NOTICE"), Some("info"));
        assert_eq!(syslog_to_tracing("crit"), Some("error"));
        assert_eq!(syslog_to_tracing("ender=debug"), None);
    }

    #[test]
    fn rust_log_wins_over_log_level() {
        let filter = log_filter(Some("warn"), "debug").unwrap();
        assert_eq!(filter.max_level_hint(), Some(LevelFilter::WARN));
        let filter = log_filter(Some("  "), "debug").unwrap();
        assert_eq!(filter.max_level_hint(), Some(LevelFilter::DEBUG));
    }

    #[test]
    fn bad_filter_names_the_variable() {
        let err = log_filter(None, "ender=loud").unwrap_err();
        assert!(
            matches!(err, ConfigError::Invalid { ref var, .. } if var == "LOG_LEVEL"),
            "{err}"
        );
    }

    #[test]
    fn metric_prefix_is_a_valid_prometheus_name() {
        assert_eq!(metric_prefix("indexer-ender.v2"), "indexer_ender_v2");
    }
}
