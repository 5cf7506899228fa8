//! The sending side of one connection as the rest of socks sees it: a bounded queue of frames
//! that its writer task drains, writing everything queued in one batch and flushing once.
//!
//! Data frames (`channel_data`, `channel_batch_data`) count against the bound; when it is full
//! the hub applies the lagged policy. Replies to the client's own requests and notices (errors,
//! `subscribed`, `lagged`, close) are never refused: they are bounded by the request rate limits.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::Notify;

use crate::ws::deflate;

/// The shared part of a data frame: everything after the per-connection head, rendered once per
/// message and, the first time a connection with permessage-deflate needs it, compressed once.
#[derive(Debug)]
pub struct FrameTail {
    text: Box<str>,
    deflated: OnceLock<Option<Box<[u8]>>>,
}

impl FrameTail {
    pub fn new(text: impl Into<Box<str>>) -> Arc<Self> {
        Arc::new(Self {
            text: text.into(),
            deflated: OnceLock::new(),
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The tail as raw deflate, sync-flushed without its trailer (see [`deflate`]); `None` when
    /// it is too short to be worth compressing.
    pub fn deflated(&self) -> Option<&[u8]> {
        self.deflated
            .get_or_init(|| {
                (self.text.len() >= deflate::MIN_BYTES)
                    .then(|| deflate::compress(self.text.as_bytes()).into_boxed_slice())
            })
            .as_deref()
    }
}

impl std::fmt::Display for FrameTail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// One frame waiting to be written.
#[derive(Debug, Clone)]
pub enum Outgoing {
    /// A complete frame (its `message_id` was assigned when the request was handled).
    Text(String),
    /// A data frame whose shared tail is completed by a per-connection head; its `message_id`
    /// is assigned when written, so ids on the wire follow write order.
    Data {
        batch: bool,
        tail: Arc<FrameTail>,
        /// Origin time of the (last) message, epoch milliseconds, for the latency metric.
        origin_ms: Option<i64>,
    },
    /// The answer to the client's protocol ping, with its payload.
    Pong(Vec<u8>),
    /// Close the connection with this code (none: an empty close frame) and reason after
    /// writing what precedes it.
    Close { code: Option<u16>, reason: String },
}

#[derive(Debug, Default)]
struct Queue {
    frames: VecDeque<Outgoing>,
    data_frames: usize,
}

/// Handle shared by the hub (fan-out), the reader (replies) and the writer (drain).
#[derive(Debug)]
pub struct ConnectionHandle {
    serial: u64,
    connection_id: String,
    message_id: AtomicU64,
    queue: Mutex<Queue>,
    wake: Notify,
    capacity: usize,
    closing: AtomicBool,
}

impl ConnectionHandle {
    /// `capacity`: data frames that may wait before the connection counts as lagging.
    pub fn new(serial: u64, connection_id: String, capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            serial,
            connection_id,
            message_id: AtomicU64::new(0),
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
            capacity,
            closing: AtomicBool::new(false),
        })
    }

    /// Data frames that may wait before the connection counts as lagging.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Process-unique number of this connection (registry key).
    pub fn serial(&self) -> u64 {
        self.serial
    }

    /// The `connection_id` of every frame.
    pub fn connection_id(&self) -> &str {
        &self.connection_id
    }

    /// Increments the frame counter and returns the new value (serve.md §5.3).
    pub fn next_message_id(&self) -> u64 {
        self.message_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The counter's current value (used by errors that do not increment it).
    pub fn current_message_id(&self) -> u64 {
        self.message_id.load(Ordering::Relaxed)
    }

    /// Queues a reply or notice; never refused.
    pub fn send_control(&self, frame: String) {
        self.push(Outgoing::Text(frame));
    }

    /// Queues a data frame; `false` (and nothing queued) when the queue is full.
    pub fn send_data(&self, batch: bool, tail: Arc<FrameTail>, origin_ms: Option<i64>) -> bool {
        {
            let mut queue = self.lock();
            if queue.data_frames >= self.capacity {
                return false;
            }
            queue.data_frames += 1;
            queue.frames.push_back(Outgoing::Data {
                batch,
                tail,
                origin_ms,
            });
        }
        self.wake.notify_one();
        true
    }

    /// Queues several batch frames at once (one wake-up for the writer); all or nothing: `false`
    /// (and nothing queued) when they do not all fit.
    pub fn send_data_all(&self, frames: Vec<(Arc<FrameTail>, Option<i64>)>) -> bool {
        {
            let mut queue = self.lock();
            if queue.data_frames + frames.len() > self.capacity {
                return false;
            }
            queue.data_frames += frames.len();
            queue
                .frames
                .extend(frames.into_iter().map(|(tail, origin_ms)| Outgoing::Data {
                    batch: true,
                    tail,
                    origin_ms,
                }));
        }
        self.wake.notify_one();
        true
    }

    /// Queues the answer to a protocol ping (never refused; bounded by the read rate).
    pub fn send_pong(&self, payload: Vec<u8>) {
        self.push(Outgoing::Pong(payload));
    }

    /// Asks the writer to close the connection after what is already queued.
    pub fn close(&self, code: u16, reason: impl Into<String>) {
        self.close_with(Some(code), reason.into());
    }

    /// Answers the peer's close frame: its status code echoed (an invalid one answered with
    /// 1002), or an empty close frame when it sent none.
    pub fn close_reply(&self, peer_code: Option<u16>) {
        let valid = |code: u16| matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
        let code = peer_code.map(|code| if valid(code) { code } else { 1002 });
        self.close_with(code, String::new());
    }

    fn close_with(&self, code: Option<u16>, reason: String) {
        if self.closing.swap(true, Ordering::AcqRel) {
            return;
        }
        self.push(Outgoing::Close { code, reason });
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Frames waiting (all kinds).
    pub fn queue_len(&self) -> usize {
        self.lock().frames.len()
    }

    fn push(&self, frame: Outgoing) {
        self.lock().frames.push_back(frame);
        self.wake.notify_one();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves everything queued into `into` (the writer's batch).
    pub fn drain_into(&self, into: &mut Vec<Outgoing>) {
        let mut queue = self.lock();
        into.extend(queue.frames.drain(..));
        queue.data_frames = 0;
    }

    /// Resolves when something was queued since the last drain.
    pub async fn queued(&self) {
        self.wake.notified().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_frames_are_bounded_but_control_frames_are_not() {
        let handle = ConnectionHandle::new(1, "c".into(), 2);
        assert!(handle.send_data(false, FrameTail::new("a"), None));
        assert!(handle.send_data(true, FrameTail::new("b"), None));
        assert!(!handle.send_data(false, FrameTail::new("c"), None));
        handle.send_control("{}".into());
        assert_eq!(handle.queue_len(), 3);
        let mut batch = Vec::new();
        handle.drain_into(&mut batch);
        assert_eq!(batch.len(), 3);
        assert!(
            handle.send_data(false, FrameTail::new("d"), None),
            "room again after a drain"
        );
    }

    #[test]
    fn several_frames_are_queued_all_or_nothing() {
        let handle = ConnectionHandle::new(1, "c".into(), 3);
        assert!(handle.send_data(false, FrameTail::new("a"), None));
        assert!(!handle.send_data_all(vec![
            (FrameTail::new("b"), None),
            (FrameTail::new("c"), None),
            (FrameTail::new("d"), None)
        ]));
        assert_eq!(
            handle.queue_len(),
            1,
            "nothing of a refused bundle is queued"
        );
        assert!(handle.send_data_all(vec![
            (FrameTail::new("b"), None),
            (FrameTail::new("c"), None)
        ]));
        assert_eq!(handle.queue_len(), 3);
    }

    #[test]
    fn message_ids_count_from_zero() {
        let handle = ConnectionHandle::new(1, "c".into(), 2);
        assert_eq!(handle.current_message_id(), 0);
        assert_eq!(handle.next_message_id(), 1);
        assert_eq!(handle.next_message_id(), 2);
        assert_eq!(handle.current_message_id(), 2);
    }

    #[test]
    fn close_is_queued_once() {
        let handle = ConnectionHandle::new(1, "c".into(), 2);
        handle.close(1008, "x");
        handle.close(1011, "y");
        let mut batch = Vec::new();
        handle.drain_into(&mut batch);
        assert_eq!(batch.len(), 1);
        assert!(handle.is_closing());
    }
}
