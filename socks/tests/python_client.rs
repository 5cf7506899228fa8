//! dYdX's official Python client (`dydx-v4-client` 1.1.5, its `IndexerSocket`) subscribes to every
//! channel it offers and parses every frame socks sends (serve.md §8.2).
//!
//! Python comes from `SOCKS_CLIENT_PYTHON`, else from `tests/python/env.sh`, which creates a venv
//! with the client (from PyPI) under `target/`. Not having it is a failure.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::TestServer;
use serde_json::{json, Value};
use socks::channels::{Channel, ChannelKey};
use socks::ChannelMessage;

const ADDRESS: &str = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art";
/// uuid v5 of `ADDRESS-0` (serve.md §0.4).
const SUBACCOUNT_ID: &str = "8586bcf6-1f58-5ec9-a0bc-e53db273e7b0";

fn python_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python")
}

fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("SOCKS_CLIENT_PYTHON") {
        return PathBuf::from(python);
    }
    let script = python_dir().join("env.sh");
    let output = Command::new("bash")
        .arg(&script)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        output.status.success(),
        "{} failed, so there is no Python with dydx-v4-client:\n{}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

async fn seed_subaccount(server: &TestServer) {
    for statement in [
        r#"INSERT INTO blocks ("blockHeight", "time") VALUES (100, '2024-05-01T12:00:00Z')"#,
        r#"INSERT INTO assets (id, "atomicResolution", "hasMarket", symbol)
           VALUES ('0', -6, false, 'USDC')"#,
    ] {
        sqlx::query(statement)
            .execute(server.db.pool())
            .await
            .unwrap();
    }
    sqlx::query(
        r#"INSERT INTO subaccounts (id, address, "subaccountNumber", "updatedAt", "updatedAtHeight")
           VALUES ($1::uuid, $2, 0, '2024-05-01T12:00:00Z', 90)"#,
    )
    .bind(SUBACCOUNT_ID)
    .bind(ADDRESS)
    .execute(server.db.pool())
    .await
    .unwrap();
    sqlx::query(
        r#"INSERT INTO asset_positions (id, "assetId", "subaccountId", size, "isLong")
           VALUES (gen_random_uuid(), '0', $1::uuid, 1500.25, true)"#,
    )
    .bind(SUBACCOUNT_ID)
    .execute(server.db.pool())
    .await
    .unwrap();
}

fn message(channel: Channel, id: &str, version: &str, contents: &str) -> ChannelMessage {
    ChannelMessage {
        key: ChannelKey::new(channel, id),
        version: version.into(),
        contents: contents.into(),
        subaccount_number: None,
        cursor: None,
        origin_ms: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_official_python_client_subscribes_to_every_channel_and_parses_every_frame() {
    let python = python();
    let server = TestServer::start(&[]).await;
    seed_subaccount(&server).await;
    let mut child = Command::new(&python)
        .arg(python_dir().join("client.py"))
        .arg(&server.url)
        .arg(ADDRESS)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let ready = tokio::time::timeout(std::time::Duration::from_secs(60), lines.recv())
        .await
        .expect("the client answers within the bound")
        .unwrap_or_default();
    if ready != "READY" {
        let output = child.wait_with_output().unwrap();
        panic!(
            "client did not subscribe: {ready}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    let hub = &server.ctx.hub;
    hub.publish(message(
        Channel::Orderbook,
        "BTC-USD",
        "1.0.0",
        r#"{"bids":[["64119","0.75"]]}"#,
    ));
    hub.publish(message(
        Channel::Trades,
        "BTC-USD",
        "2.1.0",
        r#"{"trades":[{"id":"00f1467d0000000200000009","size":"0.5","price":"64120","side":"BUY","createdAt":"2024-05-01T12:34:56.301Z","type":"LIMIT"}]}"#,
    ));
    hub.publish(message(
        Channel::Markets,
        "v4_markets",
        "1.0.0",
        r#"{"trading":{"BTC-USD":{"volume24H":"1000","trades24H":48240}}}"#,
    ));
    hub.publish(message(
        Channel::Candles,
        "BTC-USD/1MIN",
        "1.0.0",
        r#"{"startedAt":"2024-05-01T12:34:00.000Z","ticker":"BTC-USD","resolution":"1MIN","low":"1","high":"2","open":"1","close":"2","baseTokenVolume":"1","usdVolume":"2","trades":1,"startingOpenInterest":"0"}"#,
    ));
    hub.publish(message(
        Channel::Subaccounts,
        &format!("{ADDRESS}/0"),
        "3.0.0",
        r#"{"blockHeight":"101"}"#,
    ));
    hub.flush_batches();

    let report = tokio::time::timeout(std::time::Duration::from_secs(60), lines.recv())
        .await
        .expect("the client reports within the bound")
        .unwrap_or_default();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "client failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_str(&report)
        .unwrap_or_else(|e| panic!("bad client report {report:?}: {e}"));
    assert_eq!(seen["errors"], json!([]));
    assert_eq!(seen["other"], json!([]));
    assert_eq!(seen["connected"].as_array().unwrap().len(), 1);

    let mut subscribed: Vec<(String, Value)> = seen["subscribed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["channel"].as_str().unwrap().to_owned(), s.clone()))
        .collect();
    subscribed.sort_by(|a, b| a.0.cmp(&b.0));
    let channels: Vec<&str> = subscribed.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(
        channels,
        [
            "v4_candles",
            "v4_markets",
            "v4_orderbook",
            "v4_subaccounts",
            "v4_trades"
        ]
    );
    let snapshot = |channel: &str| &subscribed.iter().find(|(c, _)| c == channel).unwrap().1;
    assert_eq!(
        snapshot("v4_orderbook")["contents"],
        json!({"bids": [], "asks": []})
    );
    assert_eq!(snapshot("v4_trades")["contents"], json!({"trades": []}));
    assert_eq!(snapshot("v4_candles")["contents"], json!({"candles": []}));
    assert_eq!(
        snapshot("v4_markets")["contents"]["markets"]["BTC-USD"]["ticker"],
        "BTC-USD"
    );
    let account = &snapshot("v4_subaccounts")["contents"];
    assert_eq!(account["subaccount"]["address"], ADDRESS);
    assert_eq!(
        account["subaccount"]["assetPositions"]["USDC"]["size"],
        "1500.25"
    );
    assert_eq!(account["orders"], json!([]));
    assert_eq!(account["blockHeight"], "100");

    let mut data: Vec<(String, String)> = seen["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["channel"].as_str().unwrap().to_owned(),
                d["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    data.sort();
    assert_eq!(
        data,
        [
            ("v4_candles".to_owned(), "channel_batch_data".to_owned()),
            ("v4_markets".to_owned(), "channel_batch_data".to_owned()),
            ("v4_orderbook".to_owned(), "channel_batch_data".to_owned()),
            ("v4_subaccounts".to_owned(), "channel_data".to_owned()),
            ("v4_trades".to_owned(), "channel_batch_data".to_owned()),
        ]
    );
    server.stop().await;
}
