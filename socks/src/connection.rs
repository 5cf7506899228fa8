//! One websocket connection: the read loop (client frames, validation, limits), the write loop
//! (everything queued written as one batch and flushed once) and the heartbeat
//! (serve.md §5.1–5.5, §5.7).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::channels::{address, is_valid_id, ChannelKey};
use crate::hub::Begin;
use crate::limits::WindowLimiter;
use crate::outbound::{ConnectionHandle, FrameTail, Outgoing};
use crate::protocol::{
    close_codes, parse_client_frame, parse_resume, texts, ClientFrame, Render, SubscribeFields,
};
use crate::server::Context;
use crate::snapshot::{GeoHeaders, SnapshotError};
use crate::ws::frame::{self, opcode};
use crate::ws::{deflate, Event, MessageReader, ReadError, Upgrade};

/// How long the writer tries to send its last bytes after the connection ended.
const CLOSE_REPLY_BOUND: std::time::Duration = std::time::Duration::from_secs(1);
/// A writer's buffer above this is given back after its batch (one snapshot can be large; most
/// batches are a few KB and 10 000 idle connections should not each keep a big one).
const WRITE_BUFFER_KEEP_BYTES: usize = 16 * 1024;
/// Free space the reader keeps for the next socket read.
const READ_CHUNK_BYTES: usize = 1024;

/// Runs an upgraded connection until either side ends it.
pub async fn serve(
    stream: TcpStream,
    upgrade: Upgrade,
    handle: Arc<ConnectionHandle>,
    ctx: Arc<Context>,
) {
    metrics::gauge!("socks_connections").increment(1.0);
    metrics::counter!("socks_connections_total").increment(1);
    if upgrade.deflate {
        metrics::counter!("socks_deflate_connections_total").increment(1);
    }
    handle.send_control(Render::connected(handle.connection_id()));
    let (read_half, write_half) = stream.into_split();
    let done = CancellationToken::new();
    let pongs = Arc::new(AtomicU64::new(0));
    let writer = tokio::spawn(write_loop(
        Writer {
            sink: write_half,
            deflate: upgrade.deflate,
            out: Vec::new(),
            head_prefixes: [false, true]
                .map(|batch| Render::data_head_prefix(batch, handle.connection_id())),
            head: String::with_capacity(128),
        },
        Arc::clone(&handle),
        Arc::clone(&ctx),
        Arc::clone(&pongs),
        done.clone(),
    ));
    let geo = Arc::new(GeoHeaders::from_upgrade(&upgrade));
    let mut reader = Reader::new(Arc::clone(&handle), Arc::clone(&ctx), geo);
    let frames = MessageReader::new(ctx.config.max_frame_bytes, upgrade.deflate);
    reader
        .run(read_half, upgrade.leftover, frames, &pongs, &done)
        .await;
    ctx.hub.remove_connection(handle.serial());
    if !handle.is_closing() {
        // The socket ended without a close frame: nothing more can be delivered.
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

/// The writing half: the socket, whether frames are compressed, and the reused batch buffer.
struct Writer {
    sink: OwnedWriteHalf,
    deflate: bool,
    out: Vec<u8>,
    /// The data-frame heads up to `message_id` (`channel_data`, `channel_batch_data`).
    head_prefixes: [String; 2],
    /// Scratch for one frame's head.
    head: String,
}

async fn write_loop(
    mut writer: Writer,
    handle: Arc<ConnectionHandle>,
    ctx: Arc<Context>,
    pongs: Arc<AtomicU64>,
    done: CancellationToken,
) {
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
                let _ = tokio::time::timeout(CLOSE_REPLY_BOUND, writer.sink.shutdown()).await;
                break;
            }
            _ = handle.queued() => {}
            _ = ping_timer.tick() => {
                if awaiting.is_none() {
                    let mut ping = Vec::with_capacity(2);
                    frame::push_frame(&mut ping, opcode::PING, false, &[]);
                    if writer.sink.write_all(&ping).await.is_err() {
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
        let written = tokio::time::timeout(stall_limit, writer.write_batch(&handle, &mut batch));
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
            Ok(WriteEnd::Closed) => {
                let _ = tokio::time::timeout(CLOSE_REPLY_BOUND, writer.sink.shutdown()).await;
                break;
            }
            Err(error) => {
                tracing::debug!(connection_id = handle.connection_id(), %error, "send failed");
                metrics::counter!("socks_send_errors_total").increment(1);
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

impl Writer {
    /// Encodes every frame of `batch` into one buffer and writes it at once.
    async fn write_batch(
        &mut self,
        handle: &ConnectionHandle,
        batch: &mut Vec<Outgoing>,
    ) -> std::io::Result<WriteEnd> {
        let mut frames = 0u64;
        let mut end = WriteEnd::Continue;
        let now_ms = chrono::Utc::now().timestamp_millis();
        self.out.clear();
        for outgoing in batch.drain(..) {
            match outgoing {
                Outgoing::Text(text) => {
                    frames += 1;
                    self.push_text(text.as_bytes());
                }
                Outgoing::Data {
                    batch,
                    tail,
                    origin_ms,
                } => {
                    frames += 1;
                    self.render_head(batch, handle.next_message_id());
                    self.push_data(&tail);
                    if let Some(origin) = origin_ms {
                        metrics::histogram!("socks_origin_to_frame_seconds")
                            .record((now_ms - origin).max(0) as f64 / 1000.0);
                    }
                }
                Outgoing::Pong(payload) => {
                    frame::push_frame(&mut self.out, opcode::PONG, false, &payload)
                }
                Outgoing::Close { code, reason } => {
                    frame::push_close(&mut self.out, code, &reason);
                    end = WriteEnd::Closed;
                    break;
                }
            }
        }
        self.sink.write_all(&self.out).await?;
        count_sent(frames, self.out.len());
        if self.out.capacity() > WRITE_BUFFER_KEEP_BYTES {
            self.out = Vec::new();
        }
        Ok(end)
    }

    /// A whole text frame, compressed on its own when deflate is on and it is long enough.
    fn push_text(&mut self, text: &[u8]) {
        if self.deflate && text.len() >= deflate::MIN_BYTES {
            let packed = deflate::compress(text);
            frame::push_frame(&mut self.out, opcode::TEXT, true, &packed);
        } else {
            frame::push_frame(&mut self.out, opcode::TEXT, false, text);
        }
    }

    /// `{"type":…,"connection_id":…,"message_id":N,` into `self.head`.
    fn render_head(&mut self, batch: bool, message_id: u64) {
        use std::fmt::Write as _;
        self.head.clear();
        self.head.push_str(&self.head_prefixes[usize::from(batch)]);
        let _ = write!(self.head, "{message_id},");
    }

    /// A data frame: this connection's head (`self.head`) and the shared tail (compressed once
    /// for everyone).
    fn push_data(&mut self, tail: &FrameTail) {
        let head = &self.head;
        if self.deflate {
            if let Some(packed) = tail.deflated() {
                let len = deflate::STORED_BLOCK_OVERHEAD + head.len() + packed.len();
                frame::push_header(&mut self.out, opcode::TEXT, true, len);
                deflate::push_stored_block(head.as_bytes(), &mut self.out);
                self.out.extend_from_slice(packed);
                return;
            }
        }
        let text = tail.text();
        frame::push_header(&mut self.out, opcode::TEXT, false, head.len() + text.len());
        self.out.extend_from_slice(head.as_bytes());
        self.out.extend_from_slice(text.as_bytes());
    }
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
    geo: Arc<GeoHeaders>,
    invalid: WindowLimiter<()>,
    pings: WindowLimiter<()>,
    subscribes: WindowLimiter<ChannelKey>,
}

impl Reader {
    fn new(handle: Arc<ConnectionHandle>, ctx: Arc<Context>, geo: Arc<GeoHeaders>) -> Self {
        let config = &ctx.config;
        Self {
            invalid: WindowLimiter::new(config.invalid_message_rate),
            pings: WindowLimiter::new(config.ping_rate),
            subscribes: WindowLimiter::new(config.subscribe_rate),
            handle,
            ctx,
            geo,
        }
    }

    async fn run(
        &mut self,
        mut socket: OwnedReadHalf,
        mut buf: BytesMut,
        mut frames: MessageReader,
        pongs: &AtomicU64,
        done: &CancellationToken,
    ) {
        loop {
            loop {
                match frames.next_event(&mut buf) {
                    Ok(None) => break,
                    Ok(Some(event)) => {
                        if !self.on_event(event, pongs) {
                            return;
                        }
                    }
                    Err(error) => return self.on_protocol_error(&error),
                }
                if self.handle.is_closing() {
                    return;
                }
            }
            if buf.capacity() - buf.len() < READ_CHUNK_BYTES {
                buf.reserve(READ_CHUNK_BYTES);
            }
            let read = tokio::select! {
                _ = done.cancelled() => return,
                read = socket.read_buf(&mut buf) => read,
            };
            match read {
                Ok(0) => return,
                Ok(_) => {}
                Err(error) => {
                    tracing::debug!(connection_id = self.handle.connection_id(), %error, "read failed");
                    return;
                }
            }
        }
    }

    /// Handles one client message or control frame; `false` once the client closed.
    fn on_event(&mut self, event: Event, pongs: &AtomicU64) -> bool {
        match event {
            Event::Text(text) => self.on_text(&text),
            Event::Binary(bytes) => match std::str::from_utf8(&bytes) {
                Ok(text) => self.on_text(text),
                Err(_) => self.on_invalid(texts::COULD_NOT_PARSE.to_string()),
            },
            Event::Ping(payload) => self.handle.send_pong(payload),
            Event::Pong => {
                pongs.fetch_add(1, Ordering::AcqRel);
            }
            Event::Close(status) => {
                // Echo the peer's status code (RFC 6455 §5.5.1); no reason.
                self.handle.close_reply(status.map(|(code, _)| code));
                return false;
            }
        }
        true
    }

    fn on_protocol_error(&self, error: &ReadError) {
        tracing::debug!(connection_id = self.handle.connection_id(), %error, "client broke the protocol");
        metrics::counter!("socks_protocol_errors_total").increment(1);
        let reason = match error {
            ReadError::TooBig(_) => "Message too big".to_string(),
            other => other.to_string(),
        };
        self.handle.close(error.close_code(), reason);
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
            Arc::clone(&self.geo),
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
    geo: Arc<GeoHeaders>,
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
    let fetched = tokio::time::timeout(
        ctx.config.snapshot_timeout,
        ctx.snapshots.snapshot(&key, &geo),
    )
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
