//! The Bugsnag layer against a local HTTP receiver.

mod support;

use std::time::Duration;

use indexer_base::bugsnag::{self, BugsnagConfig};
use indexer_base::telemetry::logging;
use support::{settings, Receiver};

const FLUSH: Duration = Duration::from_secs(20);

/// Runs `log` under the pipeline built from `settings`, then waits for Bugsnag to drain.
async fn log_with(settings: indexer_base::config::BaseSettings, log: impl FnOnce()) -> bool {
    let pipeline = logging(&settings, None, std::io::sink).unwrap();
    let enabled = pipeline.bugsnag.is_some();
    tracing::dispatcher::with_default(&pipeline.dispatch, log);
    if let Some(reporter) = pipeline.bugsnag {
        let flushed = tokio::task::spawn_blocking(move || reporter.flush(FLUSH))
            .await
            .unwrap();
        assert!(flushed, "Bugsnag queue did not drain");
    }
    enabled
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_event_arrives_with_the_documented_headers_and_payload() {
    let mut receiver = Receiver::start().await;
    let settings = settings(&[
        ("BUGSNAG_KEY", "test-key-123"),
        ("BUGSNAG_ENDPOINT", &receiver.endpoint),
        ("BUGSNAG_RELEASE_STAGE", "staging"),
    ]);
    log_with(settings, || {
        let error = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        tracing::error!(target: "ender::blocks", height = 42_u64, error = %error, "block processing failed");
    })
    .await;

    let requests = receiver.drain();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = &requests[0];
    assert_eq!(request.headers["bugsnag-api-key"], "test-key-123");
    assert_eq!(request.headers["bugsnag-payload-version"], "5");
    let sent_at = request.headers["bugsnag-sent-at"].to_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(sent_at).is_ok(),
        "{sent_at}"
    );
    assert!(request.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));

    let body = &request.body;
    assert_eq!(body["apiKey"], "test-key-123");
    assert_eq!(body["payloadVersion"], "5");
    assert_eq!(body["notifier"]["name"], "indexer-base");
    assert!(body["notifier"]["version"].is_string() && body["notifier"]["url"].is_string());
    let event = &body["events"][0];
    let exception = &event["exceptions"][0];
    assert_eq!(exception["errorClass"], "ender::blocks");
    assert_eq!(
        exception["message"],
        "block processing failed: connection refused"
    );
    assert_eq!(exception["stacktrace"], serde_json::json!([]));
    assert_eq!(event["severity"], "error");
    assert_eq!(event["unhandled"], false);
    assert_eq!(event["app"]["releaseStage"], "staging");
    assert!(event["app"]["version"].is_string());
    assert!(event["device"]["hostname"]
        .as_str()
        .is_some_and(|h| !h.is_empty()));
    assert_eq!(event["metaData"]["log"]["height"], 42);
    assert_eq!(event["metaData"]["log"]["service"], "ender");
    assert_eq!(
        event["groupingHash"],
        "block processing failed ender::blocks ender"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_and_warn_events_are_not_reported() {
    let mut receiver = Receiver::start().await;
    let settings = settings(&[
        ("BUGSNAG_KEY", "k"),
        ("BUGSNAG_ENDPOINT", &receiver.endpoint),
    ]);
    log_with(settings, || {
        tracing::info!("block processed");
        tracing::warn!("slow block");
        tracing::error!("the only page");
    })
    .await;
    let requests = receiver.drain();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].body["events"][0]["exceptions"][0]["message"],
        "the only page"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_reported_even_when_logs_are_filtered_out() {
    let mut receiver = Receiver::start().await;
    let settings = settings(&[
        ("BUGSNAG_KEY", "k"),
        ("BUGSNAG_ENDPOINT", &receiver.endpoint),
        ("LOG_LEVEL", "off"),
    ]);
    log_with(settings, || tracing::error!("still paged")).await;
    assert_eq!(receiver.drain().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_key_nothing_is_sent() {
    let mut receiver = Receiver::start().await;
    for pairs in [
        vec![("BUGSNAG_ENDPOINT", receiver.endpoint.as_str())],
        vec![
            ("BUGSNAG_ENDPOINT", receiver.endpoint.as_str()),
            ("BUGSNAG_KEY", "k"),
            ("SEND_BUGSNAG_ERRORS", "false"),
        ],
    ] {
        let enabled = log_with(settings(&pairs), || tracing::error!("nobody hears this")).await;
        assert!(!enabled, "reporting must be off for {pairs:?}");
    }
    // Nothing was built that could send: no reporter, no sender thread.
    assert!(receiver.drain().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_and_counts_instead_of_blocking() {
    let mut receiver = Receiver::start_gated().await;
    let config = BugsnagConfig {
        api_key: "k".into(),
        endpoint: receiver.endpoint.clone(),
        service: "vulcan".into(),
        release_stage: "test".into(),
        app_version: "0".into(),
        queue_capacity: 1,
    };
    let (layer, reporter) = bugsnag::layer(config).unwrap();
    use tracing_subscriber::layer::SubscriberExt;
    let subscriber = tracing_subscriber::registry().with(layer);
    const EVENTS: u64 = 10;
    // The receiver holds every request, so at most one report is in flight and one queued.
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..EVENTS {
            tracing::error!(i, "storm");
        }
    });
    assert!(
        reporter.dropped() >= EVENTS - 2,
        "dropped {}",
        reporter.dropped()
    );

    receiver.gate.add_permits(EVENTS as usize);
    let flusher = reporter.clone();
    assert!(tokio::task::spawn_blocking(move || flusher.flush(FLUSH))
        .await
        .unwrap());
    assert_eq!(reporter.sent() + reporter.dropped(), EVENTS);
    assert_eq!(receiver.drain().len() as u64, reporter.sent());
}
