//! The admin server over real HTTP on 127.0.0.1.

use indexer_base::admin::{AdminServer, Readiness};
use indexer_base::telemetry::metrics_recorder;
use indexer_base::BaseError;
use metrics_exporter_prometheus::PrometheusRecorder;
use reqwest::StatusCode;
use serde_json::{json, Value};

struct Running {
    server: AdminServer,
    readiness: Readiness,
    recorder: PrometheusRecorder,
    base: String,
}

async fn running() -> Running {
    let readiness = Readiness::new();
    let recorder = metrics_recorder().unwrap();
    let server = AdminServer::start("127.0.0.1", 0, readiness.clone(), recorder.handle())
        .await
        .unwrap();
    let base = format!("http://{}", server.local_addr());
    Running {
        server,
        readiness,
        recorder,
        base,
    }
}

async fn get(url: String) -> (StatusCode, String) {
    let response = reqwest::get(&url).await.unwrap();
    let status = response.status();
    (status, response.text().await.unwrap())
}

async fn get_json(url: String) -> (StatusCode, Value) {
    let (status, text) = get(url).await;
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")),
    )
}

#[tokio::test]
async fn liveness_answers_ok_on_every_alias() {
    let admin = running().await;
    for path in ["/healthz", "/health/live"] {
        let (status, body) = get_json(format!("{}{path}", admin.base)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(body, json!({ "ok": true }), "{path}");
    }
}

#[tokio::test]
async fn readiness_follows_flags_on_every_alias() {
    let admin = running().await;
    for path in ["/readyz", "/health/ready", "/health"] {
        let (status, _) = get_json(format!("{}{path}", admin.base)).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "no checks registered means ready ({path})"
        );
    }

    admin
        .readiness
        .set_ready("kafka_partitions_assigned", false);
    admin.readiness.set_ready("postgres", true);
    for path in ["/readyz", "/health/ready", "/health"] {
        let (status, body) = get_json(format!("{}{path}", admin.base)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(body["ok"], false);
        assert_eq!(
            body["failing"],
            json!([{ "check": "kafka_partitions_assigned", "reason": "not ready" }])
        );
    }

    admin
        .readiness
        .clone()
        .set_ready("kafka_partitions_assigned", true);
    let (status, body) = get_json(format!("{}/readyz", admin.base)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["checks"],
        json!(["kafka_partitions_assigned", "postgres"])
    );
}

#[tokio::test]
async fn async_checks_run_on_each_request_and_name_the_failure() {
    let admin = running().await;
    let healthy = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let probe = healthy.clone();
    admin.readiness.register("redis", move || {
        let up = probe.load(std::sync::atomic::Ordering::SeqCst);
        async move {
            if up {
                Ok(())
            } else {
                Err("connection refused")
            }
        }
    });

    let (status, body) = get_json(format!("{}/readyz", admin.base)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body["failing"],
        json!([{ "check": "redis", "reason": "connection refused" }])
    );

    healthy.store(true, std::sync::atomic::Ordering::SeqCst);
    let (status, _) = get_json(format!("{}/readyz", admin.base)).await;
    assert_eq!(status, StatusCode::OK);

    admin.readiness.remove("redis");
    assert!(admin.readiness.names().is_empty());
}

#[tokio::test]
async fn metrics_render_prometheus_text() {
    let admin = running().await;
    metrics::with_local_recorder(&admin.recorder, || {
        metrics::counter!("ender_blocks_processed_total").increment(3);
        metrics::histogram!("ender_block_processing_seconds").record(0.02);
    });
    let response = reqwest::get(format!("{}/metrics", admin.base))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = response.text().await.unwrap();
    assert!(
        text.contains("# TYPE ender_blocks_processed_total counter"),
        "{text}"
    );
    assert!(text.contains("ender_blocks_processed_total 3"), "{text}");
    // `_seconds` histograms get buckets, so they aggregate across instances.
    assert!(
        text.contains("# TYPE ender_block_processing_seconds histogram"),
        "{text}"
    );
    assert!(
        text.contains("ender_block_processing_seconds_bucket{le=\"0.025\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn a_taken_port_is_named_in_the_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let recorder = metrics_recorder().unwrap();
    let err = AdminServer::start("127.0.0.1", port, Readiness::new(), recorder.handle())
        .await
        .err()
        .unwrap();
    assert!(matches!(err, BaseError::AdminPortInUse { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("port {port} is already in use")),
        "{err}"
    );
}

#[tokio::test]
async fn a_bad_host_is_a_clear_error() {
    let recorder = metrics_recorder().unwrap();
    let err = AdminServer::start("not a host!", 0, Readiness::new(), recorder.handle())
        .await
        .err()
        .unwrap();
    assert!(matches!(err, BaseError::AdminAddress { .. }), "{err:?}");
}

#[tokio::test]
async fn stop_closes_the_port() {
    let admin = running().await;
    let addr = admin.server.local_addr();
    admin.server.stop().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
