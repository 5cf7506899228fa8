//! permessage-deflate (RFC 7692) on the wire: a raw client that offers it sees compressed frames
//! (RSV1) that inflate with an independent inflater to the exact frames, can send compressed
//! frames itself, and a client that does not offer it (or a server with it off) gets plain ones.
//! The Python `websockets` library and Node's `ws` (v4-client-js's transport under Node), which
//! both offer deflate by default, decode every frame.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{TestServer, FRAME_WAIT};
use flate2::{Decompress, FlushDecompress};
use serde_json::{json, Value};
use socks::channels::{Channel, ChannelKey};
use socks::ChannelMessage;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const OFFER: &str = "permessage-deflate; client_max_window_bits";

/// A websocket client over a raw socket, so the test sees every frame's bits.
struct RawClient {
    socket: TcpStream,
    buf: Vec<u8>,
    response: String,
}

/// One server frame as it was on the wire.
struct WireFrame {
    rsv1: bool,
    opcode: u8,
    payload: Vec<u8>,
}

impl WireFrame {
    /// The frame's text: inflated with flate2 (not socks' own inflater) when RSV1 is set.
    fn text(&self) -> String {
        let data = if self.rsv1 {
            let mut input = self.payload.clone();
            input.extend_from_slice(&[0, 0, 0xff, 0xff]);
            let mut out = Vec::with_capacity(1 << 20);
            Decompress::new(false)
                .decompress_vec(&input, &mut out, FlushDecompress::Sync)
                .expect("valid raw deflate");
            out
        } else {
            self.payload.clone()
        };
        String::from_utf8(data).unwrap()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.text()).unwrap()
    }
}

impl RawClient {
    async fn connect(url: &str, extensions: Option<&str>) -> RawClient {
        let addr = url.trim_start_matches("ws://").split('/').next().unwrap();
        let mut socket = TcpStream::connect(addr).await.unwrap();
        let mut request = format!(
            "GET /v4/ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        );
        if let Some(extensions) = extensions {
            request.push_str(&format!("Sec-WebSocket-Extensions: {extensions}\r\n"));
        }
        request.push_str("\r\n");
        socket.write_all(request.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let end = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            let mut chunk = [0u8; 4096];
            let n = socket.read(&mut chunk).await.unwrap();
            assert!(n > 0, "server closed during the handshake");
            buf.extend_from_slice(&chunk[..n]);
        };
        let response = String::from_utf8(buf[..end].to_vec()).unwrap();
        assert!(response.starts_with("HTTP/1.1 101"), "{response}");
        RawClient {
            socket,
            buf: buf[end..].to_vec(),
            response,
        }
    }

    fn extensions(&self) -> Option<&str> {
        self.response
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Extensions: "))
    }

    /// Sends a masked text frame, compressed (RSV1) when `compressed`.
    async fn send(&mut self, text: &str, compressed: bool) {
        let payload = if compressed {
            socks::ws::deflate::compress(text.as_bytes())
        } else {
            text.as_bytes().to_vec()
        };
        let mask = [1u8, 2, 3, 4];
        let mut frame = vec![0x80 | if compressed { 0x40 } else { 0 } | 0x1];
        assert!(payload.len() < 126);
        frame.push(0x80 | payload.len() as u8);
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.socket.write_all(&frame).await.unwrap();
    }

    async fn next_frame(&mut self) -> WireFrame {
        tokio::time::timeout(FRAME_WAIT, async {
            loop {
                if let Some((frame, used)) = parse_server_frame(&self.buf) {
                    self.buf.drain(..used);
                    return frame;
                }
                let mut chunk = [0u8; 65536];
                let n = self.socket.read(&mut chunk).await.unwrap();
                assert!(n > 0, "server closed");
                self.buf.extend_from_slice(&chunk[..n]);
            }
        })
        .await
        .expect("a frame within the bound")
    }

    /// The next frame of `kind`, skipping others.
    async fn next_of(&mut self, kind: &str) -> WireFrame {
        loop {
            let frame = self.next_frame().await;
            if frame.opcode == 1 && frame.json()["type"] == kind {
                return frame;
            }
        }
    }
}

fn parse_server_frame(buf: &[u8]) -> Option<(WireFrame, usize)> {
    if buf.len() < 2 {
        return None;
    }
    assert_eq!(buf[1] & 0x80, 0, "server frames are not masked");
    let (len, start) = match buf[1] & 0x7f {
        126 => (u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?]) as usize, 4),
        127 => (
            u64::from_be_bytes(buf.get(2..10)?.try_into().unwrap()) as usize,
            10,
        ),
        n => (n as usize, 2),
    };
    let payload = buf.get(start..start + len)?.to_vec();
    assert_ne!(buf[0] & 0x80, 0, "socks does not fragment");
    let frame = WireFrame {
        rsv1: buf[0] & 0x40 != 0,
        opcode: buf[0] & 0x0f,
        payload,
    };
    Some((frame, start + len))
}

/// An order-book update long enough to be compressed.
fn big_book_message(seq_hint: usize) -> ChannelMessage {
    let bids: Vec<String> = (0..40)
        .map(|i| format!("[\"{}\",\"{}.5\"]", 64000 + i, seq_hint + i))
        .collect();
    ChannelMessage {
        key: ChannelKey::new(Channel::Orderbook, "BTC-USD"),
        version: "1.0.0".into(),
        contents: format!("{{\"bids\":[{}]}}", bids.join(",")).into(),
        subaccount_number: None,
        cursor: None,
        origin_ms: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_offering_client_gets_compressed_frames_that_inflate_to_the_exact_frames() {
    let server = TestServer::start(&[]).await;
    let mut client = RawClient::connect(&server.url, Some(OFFER)).await;
    assert_eq!(
        client.extensions(),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    );
    let connected = client.next_frame().await;
    assert!(!connected.rsv1, "a short frame goes uncompressed");
    assert_eq!(connected.json()["type"], "connected");

    // A compressed request from the client is read like a plain one.
    client
        .send(r#"{"type":"subscribe","channel":"v4_markets"}"#, true)
        .await;
    let markets = client.next_of("subscribed").await;
    assert!(markets.rsv1, "the markets snapshot is compressed");
    assert!(markets.payload.len() < markets.text().len());
    assert_eq!(
        markets.json()["contents"]["markets"]["BTC-USD"]["ticker"],
        "BTC-USD"
    );

    client
        .send(
            r#"{"type":"subscribe","channel":"v4_orderbook","id":"BTC-USD"}"#,
            false,
        )
        .await;
    let book = client.next_of("subscribed").await;
    assert_eq!(book.json()["id"], "BTC-USD");

    let message = big_book_message(1);
    server.ctx.hub.publish(message.clone());
    let data = client.next_of("channel_data").await;
    assert!(data.rsv1, "a long data frame is compressed");
    assert!(
        data.payload.len() * 2 < data.text().len(),
        "{} bytes on the wire for {}",
        data.payload.len(),
        data.text().len()
    );
    let frame = data.json();
    let contents: Value = serde_json::from_str(&message.contents).unwrap();
    assert_eq!(frame["contents"], contents);
    assert_eq!(
        frame["message_id"], 3,
        "connected is 0, two subscribed, then this"
    );
    assert_eq!(frame["id"], "BTC-USD");
    assert!(frame["connection_id"].is_string());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shared_compressed_tail_serves_two_connections_with_their_own_heads() {
    let server = TestServer::start(&[]).await;
    let mut clients = Vec::new();
    for _ in 0..2 {
        let mut client = RawClient::connect(&server.url, Some(OFFER)).await;
        client
            .send(
                r#"{"type":"subscribe","channel":"v4_orderbook","id":"BTC-USD"}"#,
                false,
            )
            .await;
        client.next_of("subscribed").await;
        clients.push(client);
    }
    server.ctx.hub.publish(big_book_message(7));
    let mut ids = Vec::new();
    for client in &mut clients {
        let frame = client.next_of("channel_data").await;
        assert!(frame.rsv1);
        let json = frame.json();
        assert_eq!(json["contents"]["bids"][0], json!(["64000", "7.5"]));
        ids.push(json["connection_id"].as_str().unwrap().to_owned());
    }
    assert_ne!(ids[0], ids[1], "each connection has its own head");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn clients_not_offering_deflate_or_a_server_with_it_off_get_plain_frames() {
    let server = TestServer::start(&[]).await;
    let mut plain = RawClient::connect(&server.url, None).await;
    assert_eq!(plain.extensions(), None);
    plain
        .send(r#"{"type":"subscribe","channel":"v4_markets"}"#, false)
        .await;
    let markets = plain.next_of("subscribed").await;
    assert!(!markets.rsv1);
    // A compressed frame without the extension is a protocol error (1002).
    plain
        .send(
            r#"{"type":"subscribe","channel":"v4_trades","id":"BTC-USD"}"#,
            true,
        )
        .await;
    let close = loop {
        let frame = plain.next_frame().await;
        if frame.opcode == 0x8 {
            break frame;
        }
    };
    assert_eq!(
        u16::from_be_bytes([close.payload[0], close.payload[1]]),
        1002
    );
    server.stop().await;

    let off = TestServer::start(&[("WS_PERMESSAGE_DEFLATE", "false")]).await;
    let mut client = RawClient::connect(&off.url, Some(OFFER)).await;
    assert_eq!(client.extensions(), None, "the offer is declined");
    client
        .send(r#"{"type":"subscribe","channel":"v4_markets"}"#, false)
        .await;
    assert!(!client.next_of("subscribed").await.rsv1);
    off.stop().await;
}

fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("SOCKS_CLIENT_PYTHON") {
        return PathBuf::from(python);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/env.sh");
    let output = Command::new("bash").arg(&script).output().unwrap();
    assert!(
        output.status.success(),
        "{} failed:\n{}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

/// Runs a client program that prints READY once subscribed to the BTC-USD order book, publishes
/// two long updates, and returns the JSON report it prints last.
async fn drive(mut command: Command, server: &TestServer) -> Value {
    let mut child = command
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
    loop {
        let line = tokio::time::timeout(std::time::Duration::from_secs(60), lines.recv())
            .await
            .expect("the client answers within the bound");
        match line.as_deref() {
            Some("READY") => break,
            Some(_) => continue,
            None => {
                let output = child.wait_with_output().unwrap();
                panic!(
                    "client did not subscribe:\n{}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
        }
    }
    server.ctx.hub.publish(big_book_message(1));
    server.ctx.hub.publish(big_book_message(2));
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
    serde_json::from_str(&report).unwrap_or_else(|e| panic!("bad report {report:?}: {e}"))
}

fn assert_deflated_and_decoded(seen: &Value, subscriptions: usize) {
    assert!(
        seen["extensions"]
            .as_str()
            .is_some_and(|e| e.starts_with("permessage-deflate")),
        "{seen}"
    );
    let frames = seen["frames"].as_array().unwrap();
    let types: Vec<&str> = frames.iter().map(|f| f["type"].as_str().unwrap()).collect();
    let mut expected = vec!["connected"];
    expected.extend(std::iter::repeat_n("subscribed", subscriptions));
    expected.extend(["channel_data", "channel_data"]);
    assert_eq!(types, expected);
    let data = &frames[1 + subscriptions..];
    assert_eq!(data[0]["contents"]["bids"][0], json!(["64000", "1.5"]));
    assert_eq!(data[1]["contents"]["bids"][0], json!(["64000", "2.5"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_websockets_library_negotiates_deflate_and_decodes_every_frame() {
    let server = TestServer::start(&[]).await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/deflate_client.py");
    let mut command = Command::new(python());
    command.arg(&script).arg(&server.url);
    let seen = drive(command, &server).await;
    assert_deflated_and_decoded(&seen, 2);
    server.stop().await;
}

/// The `node_modules` with `ws` (installed by `tests/node/env.sh` from the npm registry).
fn node_modules() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node/env.sh");
    let output = Command::new("bash").arg(&script).output().unwrap();
    assert!(
        output.status.success(),
        "{} failed:\n{}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_node_ws_library_negotiates_deflate_and_decodes_every_frame() {
    let modules = node_modules();
    let server = TestServer::start(&[]).await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node/deflate_client.js");
    let mut command = Command::new("node");
    command
        .env("NODE_PATH", modules)
        .arg(&script)
        .arg(&server.url);
    let seen = drive(command, &server).await;
    assert_deflated_and_decoded(&seen, 1);
    server.stop().await;
}
