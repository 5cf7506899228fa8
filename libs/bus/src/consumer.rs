//! Consumer helpers: decode, hand over, commit only after the handler succeeded.
//!
//! Offsets are never committed automatically. A message is committed after its handler returned
//! `Ok`, or after it was found malformed and copied to the dead-letter topic. The handler's own
//! errors go back to the caller uncommitted: ender stops on them (a block cannot be skipped),
//! vulcan retries or dead-letters. A restarted consumer resumes after the last committed
//! message, so delivery is at-least-once and handlers must be idempotent (spec ingest §2.3).
//!
//! A message whose value is missing or does not decode is *malformed*: it is logged with its
//! topic, partition, offset and the reason, counted in `bus_malformed_messages_total{topic}`,
//! copied to `<topic>-dead-letter` with headers saying where it came from, committed, and
//! consumption goes on (spec ingest §2.5: "ack and skip").

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use indexer_base::config::KafkaSettings;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::client::{base_config, blocking, MAX_MESSAGE_BYTES};
use crate::headers::MessageHeaders;
use crate::producer::BusProducer;
use crate::topics::{Topic, TopicNames, DEAD_LETTER_SUFFIX};
use crate::BusError;

/// Headers put on every dead-lettered message, besides the original message's own headers.
pub mod dead_letter_headers {
    /// Broker name of the topic the message was read from.
    pub const SOURCE_TOPIC: &str = "dead_letter_source_topic";
    /// Partition it was read from (decimal).
    pub const SOURCE_PARTITION: &str = "dead_letter_source_partition";
    /// Offset it had there (decimal).
    pub const SOURCE_OFFSET: &str = "dead_letter_source_offset";
    /// Why it was rejected.
    pub const REASON: &str = "dead_letter_reason";
    /// The original Kafka timestamp, epoch milliseconds (decimal); absent if it had none.
    pub const ORIGINAL_TIMESTAMP: &str = "dead_letter_original_timestamp_ms";
}

/// Turns a message value into the caller's type; the `Err` text is the reason logged and put on
/// the dead-lettered copy.
pub type Decoder<T> = Box<dyn Fn(&[u8]) -> Result<T, String> + Send + Sync>;

/// Where a consumer without a committed offset starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    /// From the oldest retained message (ender: blocks cannot be skipped).
    Earliest,
    /// Only messages produced from now on (vulcan by default, socks).
    Latest,
}

impl OffsetReset {
    fn as_config(self) -> &'static str {
        match self {
            OffsetReset::Earliest => "earliest",
            OffsetReset::Latest => "latest",
        }
    }
}

/// Where an assigned partition starts (assign mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// After the group's committed offset, or per `OffsetReset` if there is none.
    Committed,
    Beginning,
    End,
    Offset(i64),
}

impl StartAt {
    fn as_offset(self) -> Offset {
        match self {
            StartAt::Committed => Offset::Stored,
            StartAt::Beginning => Offset::Beginning,
            StartAt::End => Offset::End,
            StartAt::Offset(n) => Offset::Offset(n),
        }
    }
}

/// What to consume and as whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerOptions {
    /// Base group id, normally `SERVICE_NAME`; see [`consumer_group_id`].
    pub group: String,
    pub topics: Vec<Topic>,
    pub offset_reset: OffsetReset,
}

impl ConsumerOptions {
    /// Consume `topics` as group `group`, starting at the latest offset when nothing is
    /// committed.
    pub fn new(group: impl Into<String>, topics: impl IntoIterator<Item = Topic>) -> Self {
        Self {
            group: group.into(),
            topics: topics.into_iter().collect(),
            offset_reset: OffsetReset::Latest,
        }
    }

    pub fn offset_reset(mut self, reset: OffsetReset) -> Self {
        self.offset_reset = reset;
        self
    }
}

/// The group id actually used: `base`, or `base_<uuid>` when
/// `KAFKA_ENABLE_UNIQUE_CONSUMER_GROUP_IDS` is on so every instance (socks) reads everything.
pub fn consumer_group_id(settings: &KafkaSettings, base: &str) -> String {
    if settings.unique_consumer_group {
        format!("{base}_{}", uuid::Uuid::new_v4())
    } else {
        base.to_string()
    }
}

/// Where a message came from and what came with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    /// Broker name of the topic (with prefix).
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub headers: MessageHeaders,
    /// Kafka timestamp, epoch milliseconds.
    pub timestamp_ms: Option<i64>,
}

/// A decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received<T> {
    pub value: T,
    pub meta: MessageMeta,
    /// The undecoded value, kept so a handler-level rejection can be dead-lettered verbatim.
    pub payload: Vec<u8>,
}

/// Why [`BusConsumer::process_next`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum HandleError<E> {
    #[error(transparent)]
    Bus(#[from] BusError),
    /// The handler refused the message at `meta`; its offset was not committed.
    #[error("handler failed on {}[{}]@{}: {error}", meta.topic, meta.partition, meta.offset)]
    Handler { meta: MessageMeta, error: E },
}

/// A consumer of catalogue topics with manual commits and dead-lettering of malformed messages.
pub struct BusConsumer<T> {
    consumer: Arc<StreamConsumer>,
    decoder: Decoder<T>,
    dead_letters: BusProducer,
    group_id: String,
    names: TopicNames,
}

impl<T> std::fmt::Debug for BusConsumer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BusConsumer")
            .field("group_id", &self.group_id)
            .finish_non_exhaustive()
    }
}

impl<T> BusConsumer<T> {
    /// Joins the consumer group and lets the broker assign partitions (production mode).
    pub fn subscribe(
        settings: &KafkaSettings,
        options: &ConsumerOptions,
        decoder: Decoder<T>,
    ) -> Result<Self, BusError> {
        let this = Self::build(settings, options, decoder)?;
        let names: Vec<String> = options.topics.iter().map(|t| this.names.name(*t)).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        this.consumer.subscribe(&refs).map_err(BusError::Consume)?;
        Ok(this)
    }

    /// Reads every partition of the options' topics directly, without joining the group (no
    /// rebalance wait). Commits still go to the group, so `StartAt::Committed` resumes where
    /// an earlier consumer of the same group left off. For tests and tools.
    pub async fn assign(
        settings: &KafkaSettings,
        options: &ConsumerOptions,
        start: StartAt,
        decoder: Decoder<T>,
    ) -> Result<Self, BusError> {
        let this = Self::build(settings, options, decoder)?;
        let mut assignment = TopicPartitionList::new();
        for topic in &options.topics {
            let name = this.names.name(*topic);
            let count = this.dead_letters.partition_count(&name).await?;
            for partition in 0..count {
                assignment
                    .add_partition_offset(&name, partition, start.as_offset())
                    .map_err(BusError::Consume)?;
            }
        }
        this.consumer
            .assign(&assignment)
            .map_err(BusError::Consume)?;
        Ok(this)
    }

    fn build(
        settings: &KafkaSettings,
        options: &ConsumerOptions,
        decoder: Decoder<T>,
    ) -> Result<Self, BusError> {
        let group_id = consumer_group_id(settings, &options.group);
        let consumer: StreamConsumer = base_config(settings)
            .set("group.id", &group_id)
            .set("client.id", &group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", options.offset_reset.as_config())
            .set("isolation.level", "read_committed")
            .set(
                "session.timeout.ms",
                settings.session_timeout.as_millis().to_string(),
            )
            .set(
                "heartbeat.interval.ms",
                settings.heartbeat_interval.as_millis().to_string(),
            )
            .set("fetch.max.bytes", MAX_MESSAGE_BYTES.to_string())
            .set("max.partition.fetch.bytes", MAX_MESSAGE_BYTES.to_string())
            .set("message.max.bytes", MAX_MESSAGE_BYTES.to_string())
            .create()
            .map_err(BusError::Client)?;
        Ok(Self {
            consumer: Arc::new(consumer),
            decoder,
            dead_letters: BusProducer::new(settings)?,
            group_id,
            names: TopicNames::from_settings(settings),
        })
    }

    /// The group id in use (with the unique suffix, if any).
    pub fn group_id(&self) -> &str {
        &self.group_id
    }

    /// The next well-formed message. Malformed messages met on the way are dead-lettered and
    /// committed here; the returned message is *not* committed: call [`Self::commit`] once it
    /// is handled.
    pub async fn next(&self) -> Result<Received<T>, BusError> {
        loop {
            let raw = self.receive().await?;
            let decoded = match raw.payload.as_deref() {
                None => Err("message has no value".to_string()),
                Some(payload) => (self.decoder)(payload),
            };
            match decoded {
                Ok(value) => {
                    return Ok(Received {
                        value,
                        meta: raw.meta,
                        payload: raw.payload.unwrap_or_default(),
                    })
                }
                Err(reason) => {
                    self.log_malformed(&raw.meta, &reason);
                    self.dead_letter_raw(&raw.meta, raw.payload.as_deref(), &reason)
                        .await?
                }
            }
        }
    }

    /// Commits `meta`'s message (and everything before it in its partition) for the group.
    pub async fn commit(&self, meta: &MessageMeta) -> Result<(), BusError> {
        let consumer = Arc::clone(&self.consumer);
        let (topic, partition, offset) = (meta.topic.clone(), meta.partition, meta.offset);
        blocking(move || {
            let mut offsets = TopicPartitionList::new();
            let to_commit = Offset::Offset(offset + 1);
            offsets
                .add_partition_offset(&topic, partition, to_commit)
                .and_then(|_| consumer.commit(&offsets, CommitMode::Sync))
                .map_err(|source| BusError::Commit {
                    topic,
                    partition,
                    offset,
                    source,
                })
        })
        .await
    }

    /// Takes the next well-formed message, gives it to `handler`, and commits it if the handler
    /// returned `Ok`. Returns where the handled message was.
    pub async fn process_next<F, Fut, E>(&self, handler: F) -> Result<MessageMeta, HandleError<E>>
    where
        F: FnOnce(Received<T>) -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        let received = self.next().await?;
        let meta = received.meta.clone();
        if let Err(error) = handler(received).await {
            return Err(HandleError::Handler { meta, error });
        }
        self.commit(&meta).await?;
        Ok(meta)
    }

    /// [`Self::process_next`] forever, until the handler or the bus fails. Stop it from outside
    /// with `tokio::select!` on a shutdown signal.
    pub async fn run<F, Fut, E>(&self, mut handler: F) -> Result<(), HandleError<E>>
    where
        F: FnMut(Received<T>) -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        loop {
            self.process_next(&mut handler).await?;
        }
    }

    /// The next message off the wire, copied out of librdkafka's buffer so nothing borrowed is
    /// held across an await. Transient client errors are logged and skipped (librdkafka
    /// reconnects and retries on its own); fatal ones are returned.
    async fn receive(&self) -> Result<RawMessage, BusError> {
        loop {
            match self.consumer.recv().await {
                Ok(message) => return Ok(RawMessage::copy_of(&message)),
                Err(error @ KafkaError::MessageConsumptionFatal(_)) => {
                    return Err(BusError::Consume(error))
                }
                Err(error) => {
                    tracing::warn!(group = %self.group_id, %error, "kafka consumer error; continuing");
                    metrics::counter!("bus_consumer_errors_total").increment(1);
                    // Avoid a hot loop if the error repeats immediately.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// Copies a message the handler refused to its dead-letter topic with `reason`, then commits
    /// it: the policy for messages that decode but can never be applied (vulcan's
    /// `ParseMessageError`). Nothing is committed if the copy cannot be written.
    pub async fn dead_letter(&self, received: &Received<T>, reason: &str) -> Result<(), BusError> {
        tracing::error!(
            topic = %received.meta.topic,
            partition = received.meta.partition,
            offset = received.meta.offset,
            reason,
            "kafka message refused by its handler; dead-lettering and skipping it"
        );
        self.dead_letter_raw(&received.meta, Some(&received.payload), reason)
            .await
    }

    fn log_malformed(&self, meta: &MessageMeta, reason: &str) {
        tracing::error!(
            topic = %meta.topic,
            partition = meta.partition,
            offset = meta.offset,
            reason,
            "malformed kafka message; dead-lettering and skipping it"
        );
        let topic_label = self
            .names
            .topic_of(&meta.topic)
            .map(|t| t.base_name().to_string())
            .unwrap_or_else(|| meta.topic.clone());
        metrics::counter!("bus_malformed_messages_total", "topic" => topic_label).increment(1);
    }

    /// Writes the message to `<topic>-dead-letter` and commits it. If the copy cannot be
    /// written the message is not committed, so it is not lost.
    async fn dead_letter_raw(
        &self,
        meta: &MessageMeta,
        payload: Option<&[u8]>,
        reason: &str,
    ) -> Result<(), BusError> {
        let dead_letter_topic = format!("{}{}", meta.topic, DEAD_LETTER_SUFFIX);
        let headers = dead_letter_headers_for(meta, reason);
        self.dead_letters
            .send_to(
                &dead_letter_topic,
                meta.key.as_deref(),
                payload.unwrap_or_default(),
                &headers,
            )
            .await?;
        self.commit(meta).await
    }
}

/// The original headers followed by the dead-letter provenance headers.
fn dead_letter_headers_for(meta: &MessageMeta, reason: &str) -> MessageHeaders {
    use dead_letter_headers as h;
    let mut headers = meta
        .headers
        .clone()
        .with(h::SOURCE_TOPIC, meta.topic.as_str())
        .with(h::SOURCE_PARTITION, meta.partition.to_string())
        .with(h::SOURCE_OFFSET, meta.offset.to_string())
        .with(h::REASON, reason);
    if let Some(ms) = meta.timestamp_ms {
        headers.insert(h::ORIGINAL_TIMESTAMP, ms.to_string());
    }
    headers
}

/// A received message copied out of librdkafka's buffer.
struct RawMessage {
    meta: MessageMeta,
    payload: Option<Vec<u8>>,
}

impl RawMessage {
    fn copy_of<M: Message>(message: &M) -> Self {
        Self {
            meta: MessageMeta {
                topic: message.topic().to_string(),
                partition: message.partition(),
                offset: message.offset(),
                key: message.key().map(<[u8]>::to_vec),
                headers: MessageHeaders::from_kafka(message.headers()),
                timestamp_ms: message.timestamp().to_millis(),
            },
            payload: message.payload().map(<[u8]>::to_vec),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> MessageMeta {
        MessageMeta {
            topic: "tx.to-vulcan".into(),
            partition: 7,
            offset: 42,
            key: Some(vec![1, 2]),
            headers: MessageHeaders::new().with("event_type", "ShortTermOrderPlacement"),
            timestamp_ms: Some(1_700_000_000_123),
        }
    }

    #[test]
    fn dead_letter_headers_keep_the_original_and_say_where_it_came_from() {
        let headers = dead_letter_headers_for(&meta(), "bad protobuf");
        assert_eq!(
            headers.get_str("event_type"),
            Some("ShortTermOrderPlacement")
        );
        assert_eq!(
            headers.get_str(dead_letter_headers::SOURCE_TOPIC),
            Some("tx.to-vulcan")
        );
        assert_eq!(
            headers.get_str(dead_letter_headers::SOURCE_PARTITION),
            Some("7")
        );
        assert_eq!(
            headers.get_str(dead_letter_headers::SOURCE_OFFSET),
            Some("42")
        );
        assert_eq!(
            headers.get_str(dead_letter_headers::REASON),
            Some("bad protobuf")
        );
        assert_eq!(
            headers.get_str(dead_letter_headers::ORIGINAL_TIMESTAMP),
            Some("1700000000123")
        );
    }

    #[test]
    fn no_timestamp_header_without_a_timestamp() {
        let mut m = meta();
        m.timestamp_ms = None;
        let headers = dead_letter_headers_for(&m, "empty");
        assert_eq!(headers.get(dead_letter_headers::ORIGINAL_TIMESTAMP), None);
    }

    #[test]
    fn unique_group_ids_differ_per_instance() {
        let env = indexer_base::config::Env::from_pairs([(
            "KAFKA_ENABLE_UNIQUE_CONSUMER_GROUP_IDS",
            "true",
        )]);
        let settings = KafkaSettings::from_env(&env).unwrap();
        let a = consumer_group_id(&settings, "socks");
        let b = consumer_group_id(&settings, "socks");
        assert!(a.starts_with("socks_"), "{a}");
        assert_ne!(a, b);
        let plain = KafkaSettings::from_env(&indexer_base::config::Env::from_pairs(Vec::<(
            String,
            String,
        )>::new(
        )))
        .unwrap();
        assert_eq!(consumer_group_id(&plain, "ender"), "ender");
    }
}
