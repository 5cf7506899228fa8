//! The subscription registry and fan-out (serve.md §5.6, §5.9; beyond.md §1, §5).
//!
//! Every channel id has its subscribers, its history and the buffer of its batched
//! subscribers. A message is rendered once (its frame tail) and the bytes are shared by every
//! subscriber; only the short head with `connection_id` and `message_id` is per connection.
//! Subscriptions start *pending* while their snapshot is fetched: messages arriving meanwhile
//! are queued for them and delivered right after `subscribed`, minus what the snapshot already
//! reflects (its seq).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::channels::{Channel, ChannelKey};
use crate::history::{is_past_floors, Admission, ChannelHistory, HistoryLimits, Resume, Sequenced};
use crate::outbound::{ConnectionHandle, FrameTail};
use crate::protocol::{data_tail, Cursor, DataTail, Render, StreamId, SubscribedSeq};

/// One message for one channel id, as decoded from Kafka.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelMessage {
    pub key: ChannelKey,
    pub version: Arc<str>,
    /// The `contents` JSON object, verbatim.
    pub contents: Arc<str>,
    /// Only on `v4_parent_subaccounts`: the child subaccount the message is about.
    pub subaccount_number: Option<u32>,
    pub cursor: Option<Cursor>,
    /// When the indexer first received the event (epoch ms), for the latency metric.
    pub origin_ms: Option<i64>,
}

/// A message inside the hub: the message and its rendered `channel_data` tail.
#[derive(Debug)]
pub struct Item {
    pub message: ChannelMessage,
    tail: Arc<FrameTail>,
}

impl Item {
    fn new(message: ChannelMessage) -> Self {
        let seq = message.cursor.as_ref().map(|c| (c, c));
        let tail = data_tail(&DataTail {
            id: message.key.shown_id(),
            channel: message.key.channel.name(),
            version: &message.version,
            contents: &message.contents,
            subaccount_number: message.subaccount_number,
            seq,
        });
        Self {
            tail: FrameTail::new(tail),
            message,
        }
    }
}

impl Sequenced for Item {
    fn cursor(&self) -> Option<&Cursor> {
        self.message.cursor.as_ref()
    }
}

enum Phase {
    /// Snapshot being fetched; messages wait here.
    Pending(Vec<Arc<Item>>),
    /// Live. Batched subscribers take buffer items from this global index on.
    Active { batch_from: u64 },
}

struct Subscription {
    conn: Arc<ConnectionHandle>,
    batched: bool,
    phase: Phase,
    /// Positions already reflected by the snapshot or replay.
    floors: Vec<Cursor>,
    /// Last sequenced message queued to this subscriber (reported by `lagged`).
    last_queued: Option<Cursor>,
}

#[derive(Default)]
struct ChannelState {
    subs: HashMap<u64, Subscription>,
    history: ChannelHistory<Item>,
    /// Messages for batched subscribers since the last flush.
    buffer: Vec<Arc<Item>>,
    /// Global index of `buffer[0]`.
    buffer_base: u64,
    /// Messages that arrived before their predecessor, by stream and seq, with arrival time.
    held: BTreeMap<(StreamId, u64), (Instant, ChannelMessage)>,
}

#[derive(Default)]
struct HubState {
    channels: HashMap<ChannelKey, ChannelState>,
    /// Channel ids each connection subscribes to (pending or active).
    connections: HashMap<u64, HashSet<ChannelKey>>,
    /// Channel ids with buffered batch messages.
    dirty: HashSet<ChannelKey>,
    /// Channel ids with messages held for reordering.
    holding: HashSet<ChannelKey>,
}

/// What [`Hub::begin_subscribe`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Begin {
    /// Registered as pending: fetch the snapshot (or resume).
    Registered,
    /// Already subscribed (pending or active) on this connection.
    AlreadySubscribed,
}

/// The snapshot a subscription starts from.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The `contents` JSON object.
    pub contents: String,
    /// The position in each stream the contents reflect (empty when unknown).
    pub cursors: Vec<Cursor>,
}

/// Counters for the metrics endpoint and the tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HubStats {
    pub channel_ids: usize,
    pub subscriptions: HashMap<Channel, usize>,
    pub history_messages: usize,
}

pub struct Hub {
    state: Mutex<HubState>,
    history: HistoryLimits,
    reorder_window: Duration,
}

impl Hub {
    /// `reorder_window`: how long a message that arrived before its predecessor waits for it
    /// (zero: deliver at once and accept the gap).
    pub fn new(history: HistoryLimits, reorder_window: Duration) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(HubState::default()),
            history,
            reorder_window,
        })
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Subscriptions (pending or active) `conn` holds on `channel`.
    pub fn count(&self, conn: u64, channel: Channel) -> usize {
        self.lock().connections.get(&conn).map_or(0, |keys| {
            keys.iter().filter(|k| k.channel == channel).count()
        })
    }

    /// Registers a pending subscription unless one exists.
    pub fn begin_subscribe(
        &self,
        conn: &Arc<ConnectionHandle>,
        key: &ChannelKey,
        batched: bool,
    ) -> Begin {
        let mut state = self.lock();
        let keys = state.connections.entry(conn.serial()).or_default();
        if !keys.insert(key.clone()) {
            return Begin::AlreadySubscribed;
        }
        state.channels.entry(key.clone()).or_default().subs.insert(
            conn.serial(),
            Subscription {
                conn: Arc::clone(conn),
                batched,
                phase: Phase::Pending(Vec::new()),
                floors: Vec::new(),
                last_queued: None,
            },
        );
        Begin::Registered
    }

    /// Drops a pending subscription whose setup failed.
    pub fn abandon(&self, conn: u64, key: &ChannelKey) {
        self.remove(conn, key);
    }

    /// Sends `subscribed` with `snapshot`, then what arrived meanwhile (past the snapshot's
    /// seq), and makes the subscription live. `recovered` is `Some(false)` when the client
    /// asked to resume and gets this fresh snapshot instead. `false` when the subscription is
    /// gone (unsubscribed or disconnected meanwhile).
    pub fn activate(
        &self,
        conn: &Arc<ConnectionHandle>,
        key: &ChannelKey,
        message_id: u64,
        snapshot: Snapshot,
        recovered: Option<bool>,
    ) -> bool {
        let mut state = self.lock();
        let Some(channel) = state.channels.get_mut(key) else {
            return false;
        };
        let Some(sub) = channel.subs.get_mut(&conn.serial()) else {
            return false;
        };
        conn.send_control(Render::subscribed(
            conn.connection_id(),
            message_id,
            key.channel.name(),
            key.shown_id(),
            Some(&snapshot.contents),
            &SubscribedSeq {
                cursors: snapshot.cursors.clone(),
                recovered,
            },
        ));
        sub.floors = snapshot.cursors;
        let lagged = go_live(
            sub,
            channel.buffer_base + channel.buffer.len() as u64,
            Vec::new(),
        );
        if lagged {
            self.drop_lagged(&mut state, key, conn.serial());
        }
        true
    }

    /// Tries to resume `key` from the client's `cursors` by replay. On a hit sends
    /// `subscribed` with `recovered: true`, the missed messages and what arrived meanwhile,
    /// and returns `true`; on a miss returns `false` and the subscription stays pending.
    pub fn try_resume(
        &self,
        conn: &Arc<ConnectionHandle>,
        key: &ChannelKey,
        message_id: u64,
        cursors: &[Cursor],
    ) -> bool {
        let now = Instant::now();
        let limits = self.history;
        let mut state = self.lock();
        let Some(channel) = state.channels.get_mut(key) else {
            return false;
        };
        let replay = match channel.history.resume(cursors, now, limits) {
            Resume::Replay { items, floors } => (items, floors),
            Resume::Miss(miss) => {
                tracing::debug!(%key, ?miss, "resume cannot be served by replay");
                metrics::counter!("socks_resume_total", "result" => "miss").increment(1);
                return false;
            }
        };
        let latest = channel.history.latest();
        let Some(sub) = channel.subs.get_mut(&conn.serial()) else {
            return false;
        };
        metrics::counter!("socks_resume_total", "result" => "replay").increment(1);
        conn.send_control(Render::subscribed(
            conn.connection_id(),
            message_id,
            key.channel.name(),
            key.shown_id(),
            None,
            &SubscribedSeq {
                cursors: Vec::new(),
                recovered: Some(true),
            },
        ));
        let (items, client_floors) = replay;
        sub.floors = merge_floors(client_floors, latest);
        let lagged = go_live(
            sub,
            channel.buffer_base + channel.buffer.len() as u64,
            items,
        );
        if lagged {
            self.drop_lagged(&mut state, key, conn.serial());
        }
        true
    }

    /// Removes a subscription; `false` if there was none.
    pub fn unsubscribe(&self, conn: u64, key: &ChannelKey) -> bool {
        self.remove(conn, key)
    }

    fn remove(&self, conn: u64, key: &ChannelKey) -> bool {
        let mut state = self.lock();
        remove_locked(&mut state, conn, key)
    }

    /// Forgets every subscription of a closed connection.
    pub fn remove_connection(&self, conn: u64) {
        let mut state = self.lock();
        let Some(keys) = state.connections.remove(&conn) else {
            return;
        };
        for key in keys {
            if let Some(channel) = state.channels.get_mut(&key) {
                channel.subs.remove(&conn);
            }
        }
    }

    /// Routes one message: history, unbatched subscribers now, batched ones at the next flush.
    /// A sequenced message that arrives before its predecessor is held for the reorder window
    /// (two vulcan instances may publish one market's levels slightly out of order).
    pub fn publish(&self, message: ChannelMessage) {
        let now = Instant::now();
        let mut state = self.lock();
        let key = message.key.clone();
        // Unsequenced messages nobody listens to leave no trace (no history to keep).
        if message.cursor.is_none() && !state.channels.contains_key(&key) {
            return;
        }
        let channel = state.channels.entry(key.clone()).or_default();
        let Some(cursor) = message.cursor.clone() else {
            self.deliver(&mut state, message, now);
            return;
        };
        match channel.history.admit(&cursor) {
            Admission::Duplicate => {
                metrics::counter!("socks_duplicates_dropped_total", "channel" => key.channel.name())
                    .increment(1);
                return;
            }
            Admission::Gap if !self.reorder_window.is_zero() => {
                channel
                    .held
                    .insert((cursor.stream.clone(), cursor.seq), (now, message));
                state.holding.insert(key);
                return;
            }
            Admission::Gap => {
                metrics::counter!("socks_seq_gaps_total", "channel" => key.channel.name())
                    .increment(1);
                channel.history.accept_gap(&cursor);
            }
            Admission::NewEpoch => {
                tracing::info!(%key, epoch = %cursor.epoch, "new stream epoch");
            }
            Admission::Fresh => {}
        }
        self.deliver(&mut state, message, now);
        self.deliver_held_successors(&mut state, &key, &cursor, now);
    }

    /// Delivers held messages that now follow `cursor` without a gap.
    fn deliver_held_successors(
        &self,
        state: &mut HubState,
        key: &ChannelKey,
        cursor: &Cursor,
        now: Instant,
    ) {
        let mut next = cursor.seq + 1;
        loop {
            let Some(channel) = state.channels.get_mut(key) else {
                return;
            };
            let Some((_, message)) = channel.held.remove(&(cursor.stream.clone(), next)) else {
                break;
            };
            let admitted = message.cursor.as_ref().map(|c| channel.history.admit(c));
            if matches!(admitted, Some(Admission::Fresh | Admission::NewEpoch)) {
                self.deliver(state, message, now);
            }
            next += 1;
        }
        if state.channels.get(key).is_some_and(|c| c.held.is_empty()) {
            state.holding.remove(key);
        }
    }

    /// Gives up waiting for missing messages: every stream with a message held longer than the
    /// reorder window has its held messages delivered in seq order, gaps and all. Called on a
    /// timer.
    pub fn release_overdue(&self) {
        self.release_overdue_at(Instant::now());
    }

    pub fn release_overdue_at(&self, now: Instant) {
        let mut state = self.lock();
        let keys: Vec<ChannelKey> = state.holding.iter().cloned().collect();
        for key in keys {
            let Some(channel) = state.channels.get_mut(&key) else {
                state.holding.remove(&key);
                continue;
            };
            let overdue: HashSet<StreamId> = channel
                .held
                .iter()
                .filter(|(_, (at, _))| now.duration_since(*at) >= self.reorder_window)
                .map(|((stream, _), _)| stream.clone())
                .collect();
            let mut released = Vec::new();
            channel.held.retain(|(stream, _), (_, message)| {
                if overdue.contains(stream) {
                    released.push(message.clone());
                    false
                } else {
                    true
                }
            });
            // BTreeMap order: by stream, then seq.
            for message in released {
                let Some(cursor) = message.cursor.clone() else {
                    continue;
                };
                let Some(channel) = state.channels.get_mut(&key) else {
                    break;
                };
                match channel.history.admit(&cursor) {
                    Admission::Duplicate => continue,
                    Admission::Gap => {
                        metrics::counter!("socks_seq_gaps_total", "channel" => key.channel.name())
                            .increment(1);
                        channel.history.accept_gap(&cursor);
                    }
                    Admission::Fresh | Admission::NewEpoch => {}
                }
                self.deliver(&mut state, message, now);
            }
            if state.channels.get(&key).is_none_or(|c| c.held.is_empty()) {
                state.holding.remove(&key);
            }
        }
    }

    /// Fans an admitted message out to the channel id's subscribers and keeps it for resume.
    fn deliver(&self, state: &mut HubState, message: ChannelMessage, now: Instant) {
        let key = message.key.clone();
        let Some(channel) = state.channels.get_mut(&key) else {
            return;
        };
        let item = Arc::new(Item::new(message));
        if item.message.cursor.is_some() {
            channel.history.push(Arc::clone(&item), now, self.history);
        }
        let mut lagged = Vec::new();
        let mut batched = false;
        for (serial, sub) in channel.subs.iter_mut() {
            if !is_past_floors(&sub.floors, item.message.cursor.as_ref()) {
                continue;
            }
            match &mut sub.phase {
                // Waiting for its snapshot: bounded like the send queue it will go to.
                Phase::Pending(queue) if queue.len() >= sub.conn.capacity() => lagged.push(*serial),
                Phase::Pending(queue) => queue.push(Arc::clone(&item)),
                Phase::Active { .. } if sub.batched => batched = true,
                Phase::Active { .. } => {
                    if sub
                        .conn
                        .send_data(false, Arc::clone(&item.tail), item.message.origin_ms)
                    {
                        sub.last_queued = item.message.cursor.clone().or(sub.last_queued.take());
                    } else {
                        lagged.push(*serial);
                    }
                }
            }
        }
        if batched {
            channel.buffer.push(item);
            state.dirty.insert(key.clone());
        }
        for serial in lagged {
            self.drop_lagged(state, &key, serial);
        }
    }

    /// Sends every batched subscriber what its channel ids buffered since the last flush (one
    /// `channel_batch_data` per version / subaccountNumber / stream group), then clears the
    /// buffers. Called every `BATCH_SEND_INTERVAL_MS`.
    pub fn flush_batches(&self) {
        let mut state = self.lock();
        let dirty: Vec<ChannelKey> = state.dirty.drain().collect();
        // Everything one connection gets from this flush, queued at once so its writer wakes
        // once and writes it in one batch.
        let mut bundles: HashMap<u64, Bundle> = HashMap::with_capacity(state.connections.len());
        for (index, key) in dirty.iter().enumerate() {
            let Some(channel) = state.channels.get_mut(key) else {
                continue;
            };
            let buffer = std::mem::take(&mut channel.buffer);
            let base = channel.buffer_base;
            channel.buffer_base += buffer.len() as u64;
            let shared = render_batches(key, &buffer);
            let shared_last = shared.iter().rev().find_map(|f| f.last.clone());
            for (serial, sub) in channel.subs.iter_mut() {
                let Phase::Active { batch_from } = sub.phase else {
                    continue;
                };
                if !sub.batched {
                    continue;
                }
                let skip = batch_from.saturating_sub(base) as usize;
                let past_floors =
                    |item: &&Arc<Item>| is_past_floors(&sub.floors, item.message.cursor.as_ref());
                // The common case: the subscriber takes the whole buffer, rendered once for all.
                let takes_all = skip == 0 && buffer.iter().all(|item| past_floors(&item));
                let own;
                let (frames, last) = if takes_all {
                    (shared.as_slice(), shared_last.clone())
                } else {
                    let mine: Vec<Arc<Item>> = buffer
                        .iter()
                        .skip(skip)
                        .filter(past_floors)
                        .cloned()
                        .collect();
                    if mine.is_empty() {
                        continue;
                    }
                    own = render_batches(key, &mine);
                    (
                        own.as_slice(),
                        own.iter().rev().find_map(|f| f.last.clone()),
                    )
                };
                let bundle = bundles.entry(*serial).or_insert_with(|| Bundle {
                    conn: Arc::clone(&sub.conn),
                    frames: Vec::with_capacity(8),
                    keys: Vec::with_capacity(8),
                });
                bundle
                    .frames
                    .extend(frames.iter().map(|f| (Arc::clone(&f.tail), f.origin_ms)));
                // Recorded now (most sends succeed); a refused bundle restores the old value
                // before the lagged notice reports it.
                let previous = match last {
                    Some(last) => sub.last_queued.replace(last),
                    None => sub.last_queued.clone(),
                };
                bundle.keys.push((index, previous));
            }
        }
        for (serial, bundle) in bundles {
            if bundle.conn.send_data_all(bundle.frames) {
                continue;
            }
            for (index, previous) in bundle.keys {
                let key = &dirty[index];
                if let Some(sub) = state
                    .channels
                    .get_mut(key)
                    .and_then(|channel| channel.subs.get_mut(&serial))
                {
                    sub.last_queued = previous;
                }
                self.drop_lagged(&mut state, key, serial);
            }
        }
    }

    /// Ages out history and forgets channel ids nobody subscribes to and nothing is held for.
    pub fn sweep(&self) {
        let now = Instant::now();
        let limits = self.history;
        let mut state = self.lock();
        state.channels.retain(|_, channel| {
            channel.history.resume(&[], now, limits);
            !channel.subs.is_empty() || !channel.history.is_empty() || !channel.held.is_empty()
        });
    }

    pub fn stats(&self) -> HubStats {
        let state = self.lock();
        let mut stats = HubStats {
            channel_ids: state.channels.len(),
            ..HubStats::default()
        };
        for (key, channel) in &state.channels {
            *stats.subscriptions.entry(key.channel).or_default() += channel.subs.len();
            stats.history_messages += channel.history.len();
        }
        stats
    }

    /// Lagged policy (beyond.md §1): drop the subscription and tell the client where it was.
    fn drop_lagged(&self, state: &mut HubState, key: &ChannelKey, serial: u64) {
        let Some(channel) = state.channels.get_mut(key) else {
            return;
        };
        let Some(sub) = channel.subs.remove(&serial) else {
            return;
        };
        if let Some(keys) = state.connections.get_mut(&serial) {
            keys.remove(key);
        }
        metrics::counter!("socks_lagged_total", "channel" => key.channel.name()).increment(1);
        tracing::info!(%key, connection_id = sub.conn.connection_id(), "subscriber lagged; unsubscribed");
        let conn = &sub.conn;
        conn.send_control(Render::lagged(
            conn.connection_id(),
            conn.next_message_id(),
            key.channel.name(),
            key.shown_id(),
            sub.last_queued.as_ref(),
        ));
    }
}

fn remove_locked(state: &mut HubState, conn: u64, key: &ChannelKey) -> bool {
    let removed = state
        .connections
        .get_mut(&conn)
        .is_some_and(|keys| keys.remove(key));
    if let Some(channel) = state.channels.get_mut(key) {
        channel.subs.remove(&conn);
    }
    removed
}

/// Queues `replay` then the pending messages (past the floors) as individual `channel_data`
/// frames and marks the subscription live. `true` if the connection's queue overflowed.
fn go_live(sub: &mut Subscription, batch_from: u64, replay: Vec<Arc<Item>>) -> bool {
    let pending = match std::mem::replace(&mut sub.phase, Phase::Active { batch_from }) {
        Phase::Pending(queue) => queue,
        Phase::Active { .. } => Vec::new(),
    };
    let replay_len = replay.len();
    for (index, item) in replay.into_iter().chain(pending).enumerate() {
        let replayed = index < replay_len;
        if !replayed && !is_past_floors(&sub.floors, item.message.cursor.as_ref()) {
            continue;
        }
        if !sub
            .conn
            .send_data(false, Arc::clone(&item.tail), item.message.origin_ms)
        {
            return true;
        }
        if item.message.cursor.is_some() {
            sub.last_queued = item.message.cursor.clone();
        }
    }
    false
}

/// Per stream, the later of the client's position and the latest this instance has seen.
fn merge_floors(client: Vec<Cursor>, latest: Vec<Cursor>) -> Vec<Cursor> {
    let mut floors = client;
    for seen in latest {
        match floors.iter_mut().find(|f| f.stream == seen.stream) {
            Some(floor) if floor.epoch == seen.epoch && floor.seq < seen.seq => *floor = seen,
            Some(_) => {}
            None => floors.push(seen),
        }
    }
    floors
}

/// The batch frames of one flush for one connection, and the channel ids they are for.
struct Bundle {
    conn: Arc<ConnectionHandle>,
    frames: Vec<(Arc<FrameTail>, Option<i64>)>,
    /// Index of each channel id in the flush's dirty list, and the subscriber's `last_queued`
    /// before this flush.
    keys: Vec<(usize, Option<Cursor>)>,
}

/// One rendered `channel_batch_data` tail.
#[derive(Clone)]
struct BatchFrame {
    tail: Arc<FrameTail>,
    last: Option<Cursor>,
    origin_ms: Option<i64>,
}

/// Groups `items` by version, subaccountNumber and stream/epoch (in order of first appearance)
/// and renders one batch tail per group, contents in arrival order.
fn render_batches(key: &ChannelKey, items: &[Arc<Item>]) -> Vec<BatchFrame> {
    type GroupKey<'a> = (
        &'a str,
        Option<u32>,
        Option<(&'a crate::protocol::StreamId, &'a str)>,
    );
    let mut groups: Vec<(GroupKey<'_>, Vec<&Item>)> = Vec::new();
    for item in items {
        let message = &item.message;
        let group_key: GroupKey<'_> = (
            &message.version,
            message.subaccount_number,
            message
                .cursor
                .as_ref()
                .map(|c| (&c.stream, c.epoch.as_str())),
        );
        match groups.iter_mut().find(|(k, _)| *k == group_key) {
            Some((_, members)) => members.push(item),
            None => groups.push((group_key, vec![item])),
        }
    }
    groups
        .into_iter()
        .map(|((version, subaccount_number, _), members)| {
            let mut contents = String::from("[");
            for (i, member) in members.iter().enumerate() {
                if i > 0 {
                    contents.push(',');
                }
                contents.push_str(&member.message.contents);
            }
            contents.push(']');
            let first = members.first().and_then(|m| m.message.cursor.as_ref());
            let last = members.last().and_then(|m| m.message.cursor.as_ref());
            let tail = data_tail(&DataTail {
                id: key.shown_id(),
                channel: key.channel.name(),
                version,
                contents: &contents,
                subaccount_number,
                seq: first.zip(last),
            });
            BatchFrame {
                tail: FrameTail::new(tail),
                last: last.cloned(),
                origin_ms: members.iter().filter_map(|m| m.message.origin_ms).min(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::Outgoing;

    fn key() -> ChannelKey {
        ChannelKey::new(Channel::Orderbook, "BTC-USD")
    }

    fn update(seq: u64) -> ChannelMessage {
        ChannelMessage {
            key: key(),
            version: "1.0.0".into(),
            contents: format!(r#"{{"bids":[["{seq}","1"]]}}"#).into(),
            subaccount_number: None,
            cursor: Some(cursor(seq)),
            origin_ms: None,
        }
    }

    fn cursor(seq: u64) -> Cursor {
        Cursor {
            stream: StreamId::default(),
            epoch: "e".into(),
            seq,
        }
    }

    /// What the connection would write: ("text" | "data" | "batch", seqs in the frame).
    fn drained(conn: &ConnectionHandle) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        conn.drain_into(&mut out);
        out.into_iter()
            .map(|frame| match frame {
                Outgoing::Text(text) => ("text", text),
                Outgoing::Data {
                    batch: false, tail, ..
                } => ("data", tail.to_string()),
                Outgoing::Data {
                    batch: true, tail, ..
                } => ("batch", tail.to_string()),
                Outgoing::Close { reason, .. } => ("close", reason),
                Outgoing::Pong(_) => ("pong", String::new()),
            })
            .collect()
    }

    fn seq_of(tail: &str) -> u64 {
        let json: serde_json::Value = serde_json::from_str(&format!("{{{tail}")).unwrap();
        json["seq"].as_u64().unwrap()
    }

    #[test]
    fn messages_during_the_snapshot_follow_subscribed_one_by_one_past_its_seq() {
        let hub = Hub::new(HistoryLimits::default(), Duration::ZERO);
        let conn = ConnectionHandle::new(1, "c".into(), 100);
        assert_eq!(hub.begin_subscribe(&conn, &key(), true), Begin::Registered);
        for seq in 1..=4 {
            hub.publish(update(seq));
        }
        let snapshot = Snapshot {
            contents: "{}".into(),
            cursors: vec![cursor(2)],
        };
        assert!(hub.activate(&conn, &key(), 1, snapshot, None));
        let frames = drained(&conn);
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0].0, "text");
        assert!(frames[0].1.contains(r#""type":"subscribed""#));
        // Even a batched subscription gets these as individual frames (serve.md §5.6).
        assert_eq!(frames[1].0, "data");
        assert_eq!((seq_of(&frames[1].1), seq_of(&frames[2].1)), (3, 4));
        // They are not sent again by the next flush.
        hub.flush_batches();
        assert!(drained(&conn).is_empty());
        hub.publish(update(5));
        hub.flush_batches();
        let frames = drained(&conn);
        assert_eq!(frames.len(), 1);
        assert_eq!((frames[0].0, seq_of(&frames[0].1)), ("batch", 5));
    }

    #[test]
    fn a_subscription_removed_while_pending_is_not_activated() {
        let hub = Hub::new(HistoryLimits::default(), Duration::ZERO);
        let conn = ConnectionHandle::new(1, "c".into(), 100);
        hub.begin_subscribe(&conn, &key(), false);
        assert!(hub.unsubscribe(1, &key()));
        let snapshot = Snapshot {
            contents: "{}".into(),
            cursors: vec![],
        };
        assert!(!hub.activate(&conn, &key(), 1, snapshot, None));
        assert!(drained(&conn).is_empty());
        assert_eq!(hub.count(1, Channel::Orderbook), 0);
    }

    #[test]
    fn a_pending_queue_beyond_the_send_capacity_counts_as_lagged() {
        let hub = Hub::new(HistoryLimits::default(), Duration::ZERO);
        let conn = ConnectionHandle::new(1, "c".into(), 2);
        hub.begin_subscribe(&conn, &key(), false);
        for seq in 1..=3 {
            hub.publish(update(seq));
        }
        let frames = drained(&conn);
        assert_eq!(frames.len(), 1);
        assert!(
            frames[0].1.contains(r#""message":"lagged""#),
            "{}",
            frames[0].1
        );
        assert_eq!(hub.count(1, Channel::Orderbook), 0);
    }

    #[test]
    fn removing_a_connection_forgets_its_subscriptions_and_sweep_forgets_idle_channels() {
        let hub = Hub::new(
            HistoryLimits {
                max_messages: 10,
                max_age: std::time::Duration::ZERO,
            },
            Duration::ZERO,
        );
        let conn = ConnectionHandle::new(7, "c".into(), 10);
        hub.begin_subscribe(&conn, &key(), false);
        hub.publish(update(1));
        hub.remove_connection(7);
        assert_eq!(hub.count(7, Channel::Orderbook), 0);
        std::thread::sleep(std::time::Duration::from_millis(2));
        hub.sweep();
        assert_eq!(hub.stats().channel_ids, 0);
    }

    fn delivered_seqs(conn: &ConnectionHandle) -> Vec<u64> {
        drained(conn)
            .into_iter()
            .filter(|(kind, _)| *kind == "data")
            .map(|(_, tail)| seq_of(&tail))
            .collect()
    }

    fn live_subscriber(hub: &Hub) -> Arc<ConnectionHandle> {
        let conn = ConnectionHandle::new(1, "c".into(), 100);
        hub.begin_subscribe(&conn, &key(), false);
        let snapshot = Snapshot {
            contents: "{}".into(),
            cursors: vec![],
        };
        assert!(hub.activate(&conn, &key(), 1, snapshot, None));
        drained(&conn);
        conn
    }

    #[test]
    fn a_message_that_overtook_its_predecessor_waits_for_it() {
        let hub = Hub::new(HistoryLimits::default(), Duration::from_millis(100));
        let conn = live_subscriber(&hub);
        hub.publish(update(1));
        hub.publish(update(3));
        assert_eq!(delivered_seqs(&conn), [1]);
        hub.publish(update(2));
        assert_eq!(delivered_seqs(&conn), [2, 3]);
    }

    #[test]
    fn a_missing_message_is_given_up_on_after_the_reorder_window() {
        let hub = Hub::new(HistoryLimits::default(), Duration::from_millis(100));
        let conn = live_subscriber(&hub);
        hub.publish(update(1));
        hub.publish(update(4));
        hub.publish(update(3));
        hub.release_overdue_at(Instant::now());
        assert_eq!(delivered_seqs(&conn), [1], "still within the window");
        hub.release_overdue_at(Instant::now() + Duration::from_millis(200));
        assert_eq!(delivered_seqs(&conn), [3, 4], "in seq order, past the gap");
        hub.publish(update(2));
        assert!(
            delivered_seqs(&conn).is_empty(),
            "too late: 3 was already delivered"
        );
    }

    #[test]
    fn without_a_reorder_window_gaps_are_delivered_at_once() {
        let hub = Hub::new(HistoryLimits::default(), Duration::ZERO);
        let conn = live_subscriber(&hub);
        hub.publish(update(1));
        hub.publish(update(3));
        hub.publish(update(2));
        assert_eq!(delivered_seqs(&conn), [1, 3]);
    }
}
