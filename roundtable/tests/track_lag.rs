//! track_lag against local stand-ins answering CometBFT's `/status` (JSON-RPC over HTTP), with
//! our latest block in a real Postgres; the lags are checked in the exported metrics.

mod common;

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, TimeDelta, Utc};
use common::*;
use roundtable::config::LagUrls;
use roundtable::jobs::track_lag::TrackLag;
use roundtable::scheduler::Job;
use serde_json::{json, Value};

/// Installs the Prometheus recorder for this test process (once) and returns its handle.
fn prometheus() -> &'static metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: OnceLock<metrics_exporter_prometheus::PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = indexer_base::telemetry::metrics_recorder().unwrap();
        let handle = recorder.handle();
        metrics::set_global_recorder(recorder).unwrap();
        handle
    })
}

/// The `result` of a CometBFT `status` call reporting `height` at `time`.
fn status(height: i64, time: DateTime<Utc>) -> Value {
    json!({
        "node_info": {
            "protocol_version": {"p2p": "8", "block": "11", "app": "0"},
            "id": "eb277d0093f0a454f87558b962ae0ba6a0675691",
            "listen_addr": "tcp://0.0.0.0:26656",
            "network": "dydx-local",
            "version": "0.38.17",
            "channels": "40202122233038606100",
            "moniker": "stand-in",
            "other": {"tx_index": "on", "rpc_address": "tcp://0.0.0.0:26657"}
        },
        "sync_info": {
            "latest_block_hash": "D18444A13CC9F798A4B57FDCD3C486EB7FF1F4EF73DF6234764226DDED75A394",
            "latest_app_hash": "0000000000000000",
            "latest_block_height": height.to_string(),
            "latest_block_time": time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            "earliest_block_hash": "44C37753BF31FD4238227E19213F042699F62416D4E5422BBA59095FC4BEE039",
            "earliest_app_hash": "",
            "earliest_block_height": "1",
            "earliest_block_time": "2024-01-01T00:00:00.000000000Z",
            "catching_up": false
        },
        "validator_info": {
            "address": "ABA577531E6D6F4119E7E1E0EE1909B908A8346D",
            "pub_key": {
                "type": "tendermint/PubKeyEd25519",
                "value": "f+7sWZojwd8xbxZ+GJL+x/zKr1wyM0NMJkp8tCnA4t0="
            },
            "voting_power": "0"
        }
    })
}

/// A stand-in node: JSON-RPC `status` on POST / and the URI form GET /status.
async fn stand_in(height: i64, time: DateTime<Utc>) -> SocketAddr {
    let result = status(height, time);
    let uri_result = result.clone();
    let app = Router::new()
        .route(
            "/",
            post(move |Json(request): Json<Value>| {
                let result = result.clone();
                async move {
                    assert_eq!(request["method"], "status");
                    Json(json!({"jsonrpc": "2.0", "id": request["id"], "result": result}))
                }
            }),
        )
        .route(
            "/status",
            get(move || {
                let result = uri_result.clone();
                async move { Json(json!({"jsonrpc": "2.0", "id": -1, "result": result})) }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn gauge(text: &str, name: &str, label: &str) -> Option<f64> {
    let prefix = format!("{name}{{{label}}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map(|value| value.trim().parse().unwrap())
}

#[tokio::test]
async fn lag_between_the_nodes_and_our_latest_block_is_exported_and_silent_nodes_fail_the_run() {
    let prometheus = prometheus();
    let env = TestEnv::new().await;
    let ours = Utc::now() - TimeDelta::minutes(5);
    env.write(genesis(ours - TimeDelta::minutes(1))).await;
    env.write(block(1000, ours)).await;
    let validator = stand_in(1050, ours + TimeDelta::seconds(30)).await;
    let full_node = stand_in(1040, ours + TimeDelta::seconds(20)).await;
    let urls = LagUrls {
        indexer_full_node: Some(format!("http://{full_node}")),
        validator: Some(format!("http://{validator}")),
        other_full_node: None,
    };

    TrackLag::new(env.deps.clone(), &urls, Duration::from_secs(10))
        .run(&ctx())
        .await
        .unwrap();

    let text = prometheus.render();
    let lag = |lag_type: &str| {
        (
            gauge(
                &text,
                "roundtable_block_lag_blocks",
                &format!("lag_type=\"{lag_type}\""),
            ),
            gauge(
                &text,
                "roundtable_time_lag_seconds",
                &format!("lag_type=\"{lag_type}\""),
            ),
        )
    };
    assert_eq!(
        lag("validator_to_indexer"),
        (Some(50.0), Some(30.0)),
        "{text}"
    );
    assert_eq!(
        lag("indexer_full_node_to_indexer"),
        (Some(40.0), Some(20.0))
    );
    assert_eq!(
        lag("validator_to_indexer_full_node"),
        (Some(10.0), Some(10.0))
    );
    assert_eq!(
        lag("validator_to_other_full_node"),
        (None, None),
        "no such node configured"
    );
    assert_eq!(
        gauge(&text, "roundtable_block_height", "source=\"indexer\""),
        Some(1000.0)
    );
    assert_eq!(
        gauge(&text, "roundtable_block_height", "source=\"validator\""),
        Some(1050.0)
    );

    // A node that does not answer fails the run, naming its URL. Nothing listens on this port
    // any more.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let urls = LagUrls {
        validator: Some(format!("http://{closed}")),
        ..Default::default()
    };
    let error = TrackLag::new(env.deps.clone(), &urls, Duration::from_secs(10))
        .run(&ctx())
        .await
        .unwrap_err();
    assert!(error.to_string().contains(&closed.to_string()), "{error}");
    env.cleanup().await;
}
