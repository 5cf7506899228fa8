//! The process contract every service keeps: `/healthz` answers, `/metrics` serves
//! Prometheus text, and SIGTERM ends the process with status 0.

#[test]
fn starts_serves_health_and_metrics_and_exits_cleanly_on_sigterm() {
    indexer_testkit::process::assert_service_lifecycle(env!("CARGO_BIN_EXE_ender"));
}
