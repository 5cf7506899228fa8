//! Log output as the services produce it, captured in memory.

mod support;

use indexer_base::telemetry::logging;
use serde_json::Value;
use support::{settings, Captured};

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn json_lines_carry_service_level_message_fields_and_spans() {
    let out = Captured::default();
    let pipeline = logging(
        &settings(&[("LOG_FORMAT", "json"), ("SERVICE_NAME", "vulcan")]),
        None,
        out.clone(),
    )
    .unwrap();
    tracing::dispatcher::with_default(&pipeline.dispatch, || {
        let span = tracing::info_span!("block", height = 7_u64);
        let _entered = span.enter();
        tracing::info!(
            txs = 3_u64,
            level = "shadowed",
            service = "vulcan",
            "block processed"
        );
    });
    let lines = json_lines(&out.text());
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert_eq!(line["service"], "vulcan");
    assert_eq!(line["level"], "info");
    assert_eq!(line["message"], "block processed");
    assert_eq!(line["txs"], 3);
    assert_eq!(
        line["field_level"], "shadowed",
        "a field never overwrites a reserved key"
    );
    assert_eq!(line["spans"][0]["name"], "block");
    assert_eq!(line["spans"][0]["height"], 7);
    assert!(line["timestamp"]
        .as_str()
        .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()));
    assert!(line["target"].is_string());
}

#[test]
fn log_level_filters_and_rust_log_overrides_it() {
    let out = Captured::default();
    let warn_only = settings(&[("LOG_FORMAT", "json"), ("LOG_LEVEL", "warning")]);
    let pipeline = logging(&warn_only, None, out.clone()).unwrap();
    tracing::dispatcher::with_default(&pipeline.dispatch, || {
        tracing::info!("hidden");
        tracing::warn!("shown");
    });
    let messages: Vec<Value> = json_lines(&out.text())
        .into_iter()
        .map(|l| l["message"].clone())
        .collect();
    assert_eq!(messages, vec![Value::from("shown")]);

    let out = Captured::default();
    let pipeline = logging(&warn_only, Some("debug"), out.clone()).unwrap();
    tracing::dispatcher::with_default(&pipeline.dispatch, || tracing::debug!("now shown"));
    assert_eq!(json_lines(&out.text())[0]["message"], "now shown");
}

#[test]
fn human_format_is_plain_text() {
    let out = Captured::default();
    let pipeline = logging(&settings(&[("LOG_FORMAT", "human")]), None, out.clone()).unwrap();
    tracing::dispatcher::with_default(&pipeline.dispatch, || {
        tracing::info!(height = 9, "block processed")
    });
    let text = out.text();
    assert!(
        text.contains("INFO") && text.contains("block processed") && text.contains("height=9"),
        "{text}"
    );
    assert!(serde_json::from_str::<Value>(text.trim()).is_err());
}

#[test]
fn an_invalid_log_level_is_a_config_error_naming_the_variable() {
    let err = logging(
        &settings(&[("LOG_LEVEL", "ender=extremely")]),
        None,
        Captured::default(),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("LOG_LEVEL"), "{err}");
}
