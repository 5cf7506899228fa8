//! `telemetry::init` installs process-wide state, so this file is its own test process with one
//! test.

mod support;

use indexer_base::telemetry;
use indexer_base::BaseError;
use support::{settings, Receiver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_installs_metrics_logging_and_a_panic_hook_that_reports_to_bugsnag() {
    let mut receiver = Receiver::start().await;
    let settings = settings(&[
        ("SERVICE_NAME", "roundtable"),
        ("BUGSNAG_KEY", "k"),
        ("BUGSNAG_ENDPOINT", &receiver.endpoint),
    ]);
    let guard = telemetry::init(&settings).unwrap();

    let again = telemetry::init(&settings).err().unwrap();
    assert!(
        matches!(again, BaseError::TelemetryAlreadyInstalled { .. }),
        "{again}"
    );

    metrics::counter!("roundtable_task_runs_total", "task" => "market_updater").increment(1);
    let text = guard.metrics().render();
    assert!(
        text.contains("roundtable_task_runs_total{task=\"market_updater\"} 1"),
        "{text}"
    );
    assert!(text.contains("roundtable_build_info{version="), "{text}");

    // The hook reports and flushes before the thread finishes dying.
    let crashed = tokio::task::spawn_blocking(|| {
        std::thread::Builder::new()
            .name("doomed".into())
            .spawn(|| panic!("kaboom"))
            .unwrap()
            .join()
    })
    .await
    .unwrap();
    assert!(crashed.is_err());

    let requests = receiver.drain();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let event = &requests[0].body["events"][0];
    assert_eq!(event["unhandled"], true);
    assert_eq!(event["exceptions"][0]["errorClass"], "panic");
    assert_eq!(event["exceptions"][0]["message"], "panic: kaboom");
    assert_eq!(event["metaData"]["log"]["thread"], "doomed");
    assert!(event["metaData"]["log"]["panic_location"]
        .as_str()
        .unwrap()
        .contains("telemetry_init.rs"));
    assert!(guard.flush(std::time::Duration::from_secs(5)));
}
