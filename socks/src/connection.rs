//! One websocket connection: the read loop (client frames, validation, limits), the write loop
//! (everything queued written as one batch and flushed once) and the heartbeat
//! (serve.md §5.1–5.5, §5.7).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

use crate::channels::{address, is_valid_id, ChannelKey};
use crate::hub::Begin;
use crate::limits::WindowLimiter;
use crate::outbound::{ConnectionHandle, Outgoing};
use crate::protocol::{
    close_codes, parse_client_frame, parse_resume, texts, ClientFrame, Render, SubscribeFields,
};
use crate::server::Context;
use crate::snapshot::SnapshotError;

/// How long the writer tries to answer a peer's close frame.
const CLOSE_REPLY_BOUND: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs a connection until either side ends it.
pub async fn serve<S>(ws: WebSocketStream<S>, handle: Arc<ConnectionHandle>, ctx: Arc<Context>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    metrics::gauge!("socks_connections").increment(1.0);
    metrics::counter!("socks_connections_total").increment(1);
    handle.send_control(Render::connected(handle.connection_id()));
    let (sink, stream) = ws.split();
    let done = CancellationToken::new();
    let pongs = Arc::new(AtomicU64::new(0));
    let writer = tokio::spawn(write_loop(
        sink,
        Arc::clone(&handle),
        Arc::clone(&ctx),
        Arc::clone(&pongs),
        done.clone(),
    ));
    let mut reader = Reader::new(Arc::clone(&handle), Arc::clone(&ctx));
    reader.run(stream, &pongs, &done).await;
    ctx.hub.remove_connection(handle.serial());
    if !handle.is_closing() {
        // The peer closed (or the socket failed): the writer answers the close and stops.
        done.cancel();
    }
    // Let the writer send what is queued (our close frame, an error) before the socket goes.
    let grace = ctx
        .config
        .heartbeat_timeout
        .min(std::time::Duration::from_secs(2));
    let _ = tokio::time::timeout(grace, writer).await;
    done.cancel();
    metrics::gauge!("socks_connections").decrement(1.0);
}

async fn write_loop<S>(
    mut sink: futures::stream::SplitSink<WebSocketStream<S>, Message>,
    handle: Arc<ConnectionHandle>,
    ctx: Arc<Context>,
    pongs: Arc<AtomicU64>,
    done: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let heartbeat = ctx.config.heartbeat_interval;
    let mut ping_timer =
        tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
    // (deadline, pong count when the ping was sent)
    let mut awaiting: Option<(tokio::time::Instant, u64)> = None;
    let mut batch = Vec::new();
    loop {
        let deadline = awaiting.map(|(d, _)| d);
        tokio::select! {
            _ = done.cancelled() => {
                // Completes the close handshake if the peer started it (bounded: it may be gone).
                let _ = tokio::time::timeout(CLOSE_REPLY_BOUND, sink.close()).await;
                break;
            }
            _ = handle.queued() => {}
            _ = ping_timer.tick() => {
                if awaiting.is_none() {
                    if sink.send(Message::Ping(Default::default())).await.is_err() {
                        break;
                    }
                    awaiting = Some((
                        tokio::time::Instant::now() + ctx.config.heartbeat_timeout,
                        pongs.load(Ordering::Acquire),
                    ));
                }
                continue;
            }
            _ = async { tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)).await }, if deadline.is_some() => {
                let before = awaiting.take().map(|(_, before)| before);
                if before == Some(pongs.load(Ordering::Acquire)) {
                    tracing::debug!(connection_id = handle.connection_id(), "heartbeat timeout");
                    metrics::counter!("socks_heartbeat_timeouts_total").increment(1);
                    handle.close(close_codes::HEARTBEAT_TIMEOUT, texts::HEARTBEAT_TIMEOUT_REASON);
                }
            }
        }
        if pongs.load(Ordering::Acquire) != awaiting.map_or(0, |(_, b)| b) {
            awaiting = None;
        }
        batch.clear();
        handle.drain_into(&mut batch);
        if batch.is_empty() {
            continue;
        }
        // A peer that stops reading blocks the write; past a heartbeat period and its timeout
        // it counts as dead (the heartbeat cannot run while the writer is blocked).
        let stall_limit = ctx.config.heartbeat_interval + ctx.config.heartbeat_timeout;
        let written =
            tokio::time::timeout(stall_limit, write_batch(&mut sink, &handle, &mut batch));
        let Ok(written) = written.await else {
            tracing::debug!(
                connection_id = handle.connection_id(),
                "writes stalled; dropping the connection"
            );
            metrics::counter!("socks_write_stalls_total").increment(1);
            break;
        };
        match written {
            Ok(WriteEnd::Continue) => {}
            Ok(WriteEnd::Closed) => break,
            Err(error) => {
                tracing::debug!(connection_id = handle.connection_id(), %error, "send failed");
                metrics::counter!("socks_send_errors_total").increment(1);
                let _ = sink
                    .send(Message::Close(Some(CloseFrame {
                        code: CloseCode::from(close_codes::SEND_FAILED),
                        reason: error.to_string().into(),
                    })))
                    .await;
                break;
            }
        }
    }
    done.cancel();
}

enum WriteEnd {
    Continue,
    Closed,
}

/// Feeds every frame of `batch` and flushes once.
async fn write_batch<S>(
    sink: &mut futures::stream::SplitSink<WebSocketStream<S>, Message>,
    handle: &ConnectionHandle,
    batch: &mut Vec<Outgoing>,
) -> Result<WriteEnd, WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut bytes = 0usize;
    let mut frames = 0u64;
    let now_ms = chrono::Utc::now().timestamp_millis();
    for frame in batch.drain(..) {
        match frame {
            Outgoing::Text(text) => {
                bytes += text.len();
                frames += 1;
                sink.feed(Message::text(text)).await?;
            }
            Outgoing::Data {
                batch,
                tail,
                origin_ms,
            } => {
                let mut text =
                    Render::data_head(batch, handle.connection_id(), handle.next_message_id());
                text.push_str(&tail);
                bytes += text.len();
                frames += 1;
                if let Some(origin) = origin_ms {
                    metrics::histogram!("socks_origin_to_frame_seconds")
                        .record((now_ms - origin).max(0) as f64 / 1000.0);
                }
                sink.feed(Message::text(text)).await?;
            }
            Outgoing::Close { code, reason } => {
                sink.feed(Message::Close(Some(CloseFrame {
                    code: CloseCode::from(code),
                    reason: reason.into(),
                })))
                .await?;
                sink.flush().await?;
                count_sent(frames, bytes);
                return Ok(WriteEnd::Closed);
            }
        }
    }
    sink.flush().await?;
    count_sent(frames, bytes);
    Ok(WriteEnd::Continue)
}

fn count_sent(frames: u64, bytes: usize) {
    // Frames written per flush: how deep the send queue was when the writer drained it.
    metrics::histogram!("socks_write_batch_frames").record(frames as f64);
    metrics::counter!("socks_frames_sent_total").increment(frames);
    metrics::counter!("socks_bytes_sent_total").increment(bytes as u64);
}

/// The reading half: parses client frames and answers them.
struct Reader {
    handle: Arc<ConnectionHandle>,
    ctx: Arc<Context>,
    invalid: WindowLimiter<()>,
    pings: WindowLimiter<()>,
    subscribes: WindowLimiter<ChannelKey>,
}

impl Reader {
    fn new(handle: Arc<ConnectionHandle>, ctx: Arc<Context>) -> Self {
        let config = &ctx.config;
        Self {
            invalid: WindowLimiter::new(config.invalid_message_rate),
            pings: WindowLimiter::new(config.ping_rate),
            subscribes: WindowLimiter::new(config.subscribe_rate),
            handle,
            ctx,
        }
    }

    async fn run<S>(
        &mut self,
        mut stream: futures::stream::SplitStream<WebSocketStream<S>>,
        pongs: &AtomicU64,
        done: &CancellationToken,
    ) where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        loop {
            let next = tokio::select! {
                _ = done.cancelled() => return,
                next = stream.next() => next,
            };
            match next {
                None | Some(Ok(Message::Close(_))) => return,
                Some(Ok(Message::Text(text))) => self.on_text(text.as_str()),
                Some(Ok(Message::Binary(bytes))) => match std::str::from_utf8(&bytes) {
                    Ok(text) => self.on_text(text),
                    Err(_) => self.on_invalid(texts::COULD_NOT_PARSE.to_string()),
                },
                Some(Ok(Message::Pong(_))) => {
                    pongs.fetch_add(1, Ordering::AcqRel);
                }
                Some(Ok(Message::Ping(_) | Message::Frame(_))) => {}
                Some(Err(WsError::Capacity(error))) => {
                    tracing::debug!(connection_id = self.handle.connection_id(), %error, "client frame too big");
                    self.handle.close(close_codes::TOO_BIG, "Message too big");
                    return;
                }
                Some(Err(error)) => {
                    tracing::debug!(connection_id = self.handle.connection_id(), %error, "read failed");
                    return;
                }
            }
            if self.handle.is_closing() {
                return;
            }
        }
    }

    fn on_text(&mut self, text: &str) {
        match parse_client_frame(text) {
            Err(error) => self.on_invalid(error.message()),
            Ok(ClientFrame::Subscribe(fields)) => self.on_subscribe(fields),
            Ok(ClientFrame::Unsubscribe(fields)) => self.on_unsubscribe(fields),
            Ok(ClientFrame::Ping { id }) => self.on_ping(id),
        }
    }

    fn error(&self, message: &str) {
        let h = &self.handle;
        h.send_control(Render::error(
            h.connection_id(),
            h.current_message_id(),
            message,
            None,
            None,
        ));
    }

    fn rate_limited(&self, message: &str, message_id: u64) {
        let h = &self.handle;
        h.send_control(Render::error(
            h.connection_id(),
            message_id,
            message,
            None,
            None,
        ));
        h.close(close_codes::RATE_LIMITED, texts::RATE_LIMITED_REASON);
    }

    fn on_invalid(&mut self, message: String) {
        metrics::counter!("socks_invalid_messages_total").increment(1);
        if !self.invalid.allow((), Instant::now()) {
            self.rate_limited(texts::TOO_MANY_INVALID, self.handle.current_message_id());
            return;
        }
        self.error(&message);
    }

    fn on_ping(&mut self, id: Option<Value>) {
        if !self.pings.allow((), Instant::now()) {
            self.rate_limited(texts::TOO_MANY_PINGS, self.handle.current_message_id());
            return;
        }
        if self.ctx.config.reply_to_ping {
            let h = &self.handle;
            h.send_control(Render::pong(
                h.connection_id(),
                h.current_message_id(),
                id.as_ref(),
            ));
        }
    }

    fn on_unsubscribe(&mut self, fields: SubscribeFields) {
        let addressed = match address(fields.channel.as_ref(), fields.id.as_ref()) {
            Ok(addressed) => addressed,
            Err(message) => return self.error(&message),
        };
        let key = addressed.key;
        self.ctx.hub.unsubscribe(self.handle.serial(), &key);
        let h = &self.handle;
        let id = if key.channel.shows_id() {
            addressed.requested_id.as_deref()
        } else {
            None
        };
        h.send_control(Render::unsubscribed(
            h.connection_id(),
            h.next_message_id(),
            key.channel.name(),
            id,
        ));
    }

    fn on_subscribe(&mut self, fields: SubscribeFields) {
        let addressed = match address(fields.channel.as_ref(), fields.id.as_ref()) {
            Ok(addressed) => addressed,
            Err(message) => return self.error(&message),
        };
        let key = addressed.key;
        let h = Arc::clone(&self.handle);
        let message_id = h.next_message_id();
        let reply = |message: String| {
            h.send_control(Render::error(
                h.connection_id(),
                message_id,
                &message,
                None,
                None,
            ))
        };
        let channel = key.channel;
        if !is_valid_id(&key, &self.ctx.markets.get()) {
            return reply(texts::invalid_subscription_id(channel.name(), &key.id));
        }
        let limit = self.ctx.config.channel_limits.of(channel);
        if self.ctx.hub.count(h.serial(), channel) + 1 > limit {
            metrics::counter!("socks_subscription_limit_reached_total", "channel" => channel.name())
                .increment(1);
            return reply(texts::limit_reached(channel.name(), limit));
        }
        if !self.subscribes.allow(key.clone(), Instant::now()) {
            return self.rate_limited(
                &texts::too_many_subscribes(channel.name(), &key.id),
                message_id,
            );
        }
        let begin = self.ctx.hub.begin_subscribe(&h, &key, fields.batched);
        let resume = fields
            .resume
            .as_ref()
            .map(|v| parse_resume(v).unwrap_or_default());
        tokio::spawn(set_up(
            Arc::clone(&self.ctx),
            h,
            key,
            message_id,
            begin,
            resume,
        ));
    }
}

/// Step B.4–5 of serve.md §5.4: resume or fetch the snapshot, then go live or answer the error.
async fn set_up(
    ctx: Arc<Context>,
    handle: Arc<ConnectionHandle>,
    key: ChannelKey,
    message_id: u64,
    begin: Begin,
    resume: Option<Vec<crate::protocol::Cursor>>,
) {
    let fail = |message: String| {
        handle.send_control(Render::error(
            handle.connection_id(),
            message_id,
            &message,
            Some(key.channel.name()),
            key.shown_id(),
        ))
    };
    if begin == Begin::AlreadySubscribed {
        return fail(texts::already_subscribed(key.channel.name(), &key.id));
    }
    if let Some(cursors) = &resume {
        if ctx.hub.try_resume(&handle, &key, message_id, cursors) {
            return;
        }
    }
    let started = Instant::now();
    let fetched = tokio::time::timeout(ctx.config.snapshot_timeout, ctx.snapshots.snapshot(&key))
        .await
        .unwrap_or_else(|_| Err(SnapshotError::Failed("snapshot timed out".into())));
    metrics::histogram!("socks_snapshot_seconds", "channel" => key.channel.name())
        .record(started.elapsed().as_secs_f64());
    match fetched {
        Ok(snapshot) => {
            let recovered = resume.map(|_| false);
            ctx.hub
                .activate(&handle, &key, message_id, snapshot, recovered);
        }
        Err(error) => {
            ctx.hub.abandon(handle.serial(), &key);
            metrics::counter!("socks_snapshot_errors_total", "channel" => key.channel.name())
                .increment(1);
            tracing::warn!(%key, %error, "initial payload failed");
            match error {
                SnapshotError::Blocked(text) => fail(text),
                SnapshotError::Failed(_) => fail(texts::could_not_fetch(key.channel.name())),
            }
        }
    }
}
