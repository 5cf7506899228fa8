//! The live feed behind GraphQL subscriptions: the `to-websockets-*` Kafka topics socks reads,
//! consumed by this comlink instance under its own consumer group (every instance sees every
//! message) and fanned out to subscriptions through a broadcast channel.
//!
//! Sequencing travels in Kafka headers exactly as socks reads them (socks/README.md): `seq`
//! (decimal, +1 per message of a channel id and producer), `epoch`, `source` and
//! `message_received_timestamp`; each event carries them through.

use std::sync::Arc;
use std::time::Duration;

use indexer_base::config::KafkaSettings;
use indexer_bus::{BusConsumer, ConsumerOptions, MessageHeaders, StartAt, Topic, TopicNames};
use indexer_proto::socks::{BlockHeightMessage, OrderbookMessage, SubaccountMessage, TradeMessage};
use prost::Message as _;
use tokio::sync::{broadcast, watch};

use crate::state::AppState;

/// Kafka header names of the sequencing contract (the same as socks').
mod headers {
    pub const SEQ: &str = "seq";
    pub const EPOCH: &str = "epoch";
    pub const SOURCE: &str = "source";
    pub const ORIGIN_MS: &str = "message_received_timestamp";
}

/// The topics subscriptions are fed from.
const TOPICS: [Topic; 4] = [
    Topic::ToWebsocketsOrderbooks,
    Topic::ToWebsocketsTrades,
    Topic::ToWebsocketsBlockHeight,
    Topic::ToWebsocketsSubaccounts,
];

/// How many events a slow subscription may fall behind before it is ended as lagged.
const BROADCAST_CAPACITY: usize = 4096;
/// How long a new subscription waits for the consumer to be assigned before its snapshot.
pub const READY_WAIT: Duration = Duration::from_secs(10);
/// Pause before reconnecting after the consumer failed.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// The channel an event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedChannel {
    Orderbook,
    Trades,
    BlockHeight,
    Subaccount,
}

/// The sequencing headers of one Kafka message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sequence {
    pub seq: Option<u64>,
    pub epoch: Option<String>,
    pub source: Option<String>,
    pub message_received_timestamp: Option<i64>,
}

impl Sequence {
    fn of(headers: &MessageHeaders) -> Self {
        Self {
            seq: headers
                .get_str(headers::SEQ)
                .and_then(|v| v.trim().parse().ok()),
            epoch: headers.get_str(headers::EPOCH).map(str::to_owned),
            source: headers.get_str(headers::SOURCE).map(str::to_owned),
            message_received_timestamp: headers
                .get_str(headers::ORIGIN_MS)
                .and_then(|v| v.trim().parse().ok()),
        }
    }
}

/// One decoded to-websockets message.
#[derive(Debug, Clone)]
pub struct FeedEvent {
    pub channel: FeedChannel,
    /// Ticker, `address/number`, or empty for block heights.
    pub id: String,
    pub version: String,
    /// The message contents (JSON object), or for block heights `{blockHeight, time}`.
    pub contents: serde_json::Value,
    pub sequence: Sequence,
}

/// Fan-out of decoded messages to subscriptions.
pub struct LiveFeed {
    events: broadcast::Sender<Arc<FeedEvent>>,
    ready: watch::Receiver<bool>,
}

impl LiveFeed {
    /// Starts consuming in the background; the task ends when the feed is dropped.
    pub fn start(state: AppState, kafka: KafkaSettings) -> Arc<Self> {
        let (events, _) = broadcast::channel(BROADCAST_CAPACITY);
        let (ready_tx, ready) = watch::channel(false);
        let feed = Arc::new(Self { events, ready });
        let weak = Arc::downgrade(&feed);
        tokio::spawn(async move {
            let group = format!("comlink_graphql_{}", uuid::Uuid::new_v4().simple());
            loop {
                if weak.strong_count() == 0 {
                    return;
                }
                match consume(&state, &kafka, &group, &weak, &ready_tx).await {
                    Ok(()) => return,
                    Err(error) => {
                        let _ = ready_tx.send(false);
                        tracing::warn!(%error, "graphql feed: kafka consumer failed; reconnecting");
                        tokio::time::sleep(RECONNECT_DELAY).await;
                    }
                }
            }
        });
        feed
    }

    /// A receiver of every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<FeedEvent>> {
        self.events.subscribe()
    }

    /// Waits (bounded) until the consumer is assigned to every partition; false on timeout.
    pub async fn wait_ready(&self, bound: Duration) -> bool {
        let mut ready = self.ready.clone();
        tokio::time::timeout(bound, ready.wait_for(|r| *r))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

/// Consumes until the feed is dropped (`Ok`) or the consumer fails.
async fn consume(
    state: &AppState,
    kafka: &KafkaSettings,
    group: &str,
    feed: &std::sync::Weak<LiveFeed>,
    ready: &watch::Sender<bool>,
) -> Result<(), indexer_bus::BusError> {
    let options = ConsumerOptions::new(group, TOPICS);
    let consumer =
        BusConsumer::assign(kafka, &options, StartAt::End, Box::new(|b| Ok(b.to_vec()))).await?;
    let names = TopicNames::from_settings(kafka);
    tracing::info!(
        group,
        "graphql feed assigned to the to-websockets partitions"
    );
    let _ = ready.send(true);
    loop {
        let received = tokio::select! {
            received = consumer.next() => received?,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                if feed.strong_count() == 0 { return Ok(()); }
                continue;
            }
        };
        let Some(feed) = feed.upgrade() else {
            return Ok(());
        };
        let topic = names.topic_of(&received.meta.topic);
        match topic.map(|t| decode(state, t, &received.payload, &received.meta.headers)) {
            Some(Ok(event)) => {
                metrics::counter!("comlink_graphql_feed_messages_total").increment(1);
                // No receiver is fine: nobody subscribes to this channel right now.
                let _ = feed.events.send(Arc::new(event));
            }
            Some(Err(error)) => {
                metrics::counter!("comlink_graphql_feed_dropped_total").increment(1);
                tracing::warn!(topic = %received.meta.topic, offset = received.meta.offset, %error,
                    "graphql feed: message dropped");
            }
            None => {}
        }
    }
}

/// Decodes one message; the contents must be a JSON object.
fn decode(
    state: &AppState,
    topic: Topic,
    payload: &[u8],
    headers: &MessageHeaders,
) -> Result<FeedEvent, String> {
    let sequence = Sequence::of(headers);
    let ticker = |clob_pair_id: &str| -> Result<String, String> {
        let id: i64 = clob_pair_id
            .parse()
            .map_err(|_| format!("bad clobPairId {clob_pair_id}"))?;
        state
            .markets()
            .snapshot()
            .by_clob_pair_id(id)
            .map(|m| m.ticker.clone())
            .ok_or_else(|| format!("unknown clobPairId {clob_pair_id}"))
    };
    let event = |channel, id, version, contents| FeedEvent {
        channel,
        id,
        version,
        contents,
        sequence: sequence.clone(),
    };
    let proto = |e: prost::DecodeError| e.to_string();
    match topic {
        Topic::ToWebsocketsOrderbooks => {
            let m = OrderbookMessage::decode(payload).map_err(proto)?;
            Ok(event(
                FeedChannel::Orderbook,
                ticker(&m.clob_pair_id)?,
                m.version,
                object(&m.contents)?,
            ))
        }
        Topic::ToWebsocketsTrades => {
            let m = TradeMessage::decode(payload).map_err(proto)?;
            Ok(event(
                FeedChannel::Trades,
                ticker(&m.clob_pair_id)?,
                m.version,
                object(&m.contents)?,
            ))
        }
        Topic::ToWebsocketsBlockHeight => {
            let m = BlockHeightMessage::decode(payload).map_err(proto)?;
            let contents = serde_json::json!({ "blockHeight": m.block_height, "time": m.time });
            Ok(event(
                FeedChannel::BlockHeight,
                String::new(),
                m.version,
                contents,
            ))
        }
        Topic::ToWebsocketsSubaccounts => {
            let m = SubaccountMessage::decode(payload).map_err(proto)?;
            let id = m.subaccount_id.ok_or("message without a subaccount id")?;
            let mut contents = object(&m.contents)?;
            if !m.block_height.is_empty() {
                if let Some(map) = contents.as_object_mut() {
                    map.entry("blockHeight")
                        .or_insert(serde_json::Value::String(m.block_height));
                }
            }
            Ok(event(
                FeedChannel::Subaccount,
                format!("{}/{}", id.owner, id.number),
                m.version,
                contents,
            ))
        }
        other => Err(format!("not a subscription topic: {}", other.base_name())),
    }
}

fn object(contents: &str) -> Result<serde_json::Value, String> {
    match serde_json::from_str::<serde_json::Value>(contents) {
        Ok(value) if value.is_object() => Ok(value),
        Ok(_) => Err("contents is not a JSON object".to_owned()),
        Err(error) => Err(format!("contents is not JSON: {error}")),
    }
}
