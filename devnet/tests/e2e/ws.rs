//! A websocket client speaking JSON frames, for talking to socks (and to Chromium's DevTools).

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub struct JsonSocket {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl JsonSocket {
    pub async fn connect(url: &str) -> anyhow::Result<JsonSocket> {
        let (stream, _) = tokio_tungstenite::connect_async(url).await?;
        Ok(JsonSocket { stream })
    }

    pub async fn send(&mut self, frame: &Value) -> anyhow::Result<()> {
        self.stream.send(Message::text(frame.to_string())).await?;
        Ok(())
    }

    /// The next JSON text frame (pings are answered by tungstenite); `None` on close or after
    /// `bound` without a frame.
    pub async fn next(&mut self, bound: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            let message = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .ok()??
                .ok()?;
            match message {
                Message::Text(text) => return serde_json::from_str(text.as_str()).ok(),
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }
}
