//! The one producer helper every service uses.
//!
//! Idempotent (no duplicates or reordering from the client's own retries), `acks=all`, lz4
//! compression (bundled with librdkafka, no system library needed), 4 MiB messages. Keyed
//! messages are placed by [`partition_for_key`] computed here, so placement never depends on
//! librdkafka's partitioner; `partitioner=murmur2_random` is set as well so that any message
//! produced without an explicit partition still agrees (tests prove both give the same answer).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use indexer_base::config::KafkaSettings;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;

use crate::client::{base_config, blocking, MAX_MESSAGE_BYTES};
use crate::headers::MessageHeaders;
use crate::partition::partition_for_key;
use crate::topics::{Topic, TopicNames};
use crate::BusError;

/// How long `send` waits for room in the client's queue before giving up.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the broker stored a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub partition: i32,
    pub offset: i64,
}

/// One message of a [`BusProducer::send_all`] batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub headers: MessageHeaders,
}

impl OutgoingMessage {
    pub fn new(key: Option<Vec<u8>>, payload: Vec<u8>) -> Self {
        Self {
            key,
            payload,
            headers: MessageHeaders::new(),
        }
    }

    pub fn with_headers(mut self, headers: MessageHeaders) -> Self {
        self.headers = headers;
        self
    }
}

/// An idempotent producer that knows the topic names and partition counts. Cheap to clone;
/// clones share the connection and the partition-count cache.
#[derive(Clone)]
pub struct BusProducer {
    producer: FutureProducer,
    names: TopicNames,
    partition_counts: Arc<RwLock<HashMap<String, i32>>>,
    metadata_timeout: Duration,
}

impl std::fmt::Debug for BusProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BusProducer")
            .field("prefix", &self.names.prefix())
            .finish_non_exhaustive()
    }
}

impl BusProducer {
    pub fn new(settings: &KafkaSettings) -> Result<Self, BusError> {
        let producer: FutureProducer = base_config(settings)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.type", "lz4")
            .set("message.max.bytes", MAX_MESSAGE_BYTES.to_string())
            .set("partitioner", "murmur2_random")
            .create()
            .map_err(BusError::Client)?;
        Ok(Self {
            producer,
            names: TopicNames::from_settings(settings),
            partition_counts: Arc::default(),
            metadata_timeout: settings.connection_timeout.max(Duration::from_secs(5)),
        })
    }

    /// The names this producer resolves catalogue topics to.
    pub fn names(&self) -> &TopicNames {
        &self.names
    }

    /// Sends one message to a catalogue topic and waits for the broker's acknowledgement.
    pub async fn send(
        &self,
        topic: Topic,
        key: Option<&[u8]>,
        payload: &[u8],
        headers: &MessageHeaders,
    ) -> Result<Delivered, BusError> {
        self.send_to(&self.names.name(topic), key, payload, headers)
            .await
    }

    /// Sends one message to a topic given by its broker name (dead-letter topics, tools).
    pub async fn send_to(
        &self,
        topic_name: &str,
        key: Option<&[u8]>,
        payload: &[u8],
        headers: &MessageHeaders,
    ) -> Result<Delivered, BusError> {
        let partition = self.partition_of(topic_name, key).await?;
        let future = self
            .enqueue(topic_name, key, payload, headers, partition)
            .await?;
        await_delivery(topic_name, future).await
    }

    /// Sends a batch to one catalogue topic. Every message is queued before any
    /// acknowledgement is awaited, in slice order; the idempotent producer keeps that order
    /// within each partition even across retries. Returns one `Delivered` per message, in
    /// order. On error, earlier messages of the batch may already be stored (at-least-once:
    /// callers re-send the whole batch).
    pub async fn send_all(
        &self,
        topic: Topic,
        messages: &[OutgoingMessage],
    ) -> Result<Vec<Delivered>, BusError> {
        let name = self.names.name(topic);
        let mut pending = Vec::with_capacity(messages.len());
        for message in messages {
            let key = message.key.as_deref();
            let partition = self.partition_of(&name, key).await?;
            pending.push(
                self.enqueue(&name, key, &message.payload, &message.headers, partition)
                    .await?,
            );
        }
        let mut delivered = Vec::with_capacity(pending.len());
        for future in pending {
            delivered.push(await_delivery(&name, future).await?);
        }
        Ok(delivered)
    }

    /// Number of partitions of `topic_name`, from the cache or the broker's metadata.
    pub async fn partition_count(&self, topic_name: &str) -> Result<i32, BusError> {
        if let Some(count) = self.cached_count(topic_name) {
            return Ok(count);
        }
        let producer = self.producer.clone();
        let name = topic_name.to_string();
        let timeout = self.metadata_timeout;
        let count = blocking(move || fetch_partition_count(&producer, &name, timeout)).await?;
        self.partition_counts
            .write()
            .expect("partition cache lock poisoned")
            .insert(topic_name.to_string(), count);
        Ok(count)
    }

    /// Forgets cached partition counts (after `ensure_topics` grew a topic).
    pub fn forget_partition_counts(&self) {
        self.partition_counts
            .write()
            .expect("partition cache lock poisoned")
            .clear();
    }

    /// Waits until every queued message is acknowledged or `timeout` passes.
    pub async fn flush(&self, timeout: Duration) -> Result<(), BusError> {
        let producer = self.producer.clone();
        blocking(move || {
            producer
                .flush(timeout)
                .map_err(|source| BusError::Delivery {
                    topic: "(flush)".into(),
                    source,
                })
        })
        .await
    }

    fn cached_count(&self, topic_name: &str) -> Option<i32> {
        self.partition_counts
            .read()
            .expect("partition cache lock poisoned")
            .get(topic_name)
            .copied()
    }

    /// The explicit partition of a keyed message; unkeyed messages let the client choose.
    async fn partition_of(
        &self,
        topic_name: &str,
        key: Option<&[u8]>,
    ) -> Result<Option<i32>, BusError> {
        match key {
            None => Ok(None),
            Some(key) => {
                let count = self.partition_count(topic_name).await?;
                Ok(Some(partition_for_key(key, count)))
            }
        }
    }

    /// Puts one message on the client's queue, waiting while the queue is full.
    async fn enqueue(
        &self,
        topic_name: &str,
        key: Option<&[u8]>,
        payload: &[u8],
        headers: &MessageHeaders,
        partition: Option<i32>,
    ) -> Result<DeliveryFuture, BusError> {
        let mut record = FutureRecord::<[u8], [u8]>::to(topic_name).payload(payload);
        if let Some(key) = key {
            record = record.key(key);
        }
        if let Some(partition) = partition {
            record = record.partition(partition);
        }
        if let Some(headers) = headers.to_kafka() {
            record = record.headers(headers);
        }
        let deadline = tokio::time::Instant::now() + QUEUE_TIMEOUT;
        loop {
            match self.producer.send_result(record) {
                Ok(future) => return Ok(future),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned))
                    if tokio::time::Instant::now() < deadline =>
                {
                    record = returned;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err((source, _)) => {
                    return Err(BusError::Delivery {
                        topic: topic_name.to_string(),
                        source,
                    })
                }
            }
        }
    }
}

async fn await_delivery(topic_name: &str, future: DeliveryFuture) -> Result<Delivered, BusError> {
    match future.await {
        Ok(Ok(delivery)) => Ok(Delivered {
            partition: delivery.partition,
            offset: delivery.offset,
        }),
        Ok(Err((source, _message))) => Err(BusError::Delivery {
            topic: topic_name.to_string(),
            source,
        }),
        // The producer was dropped with the message still queued.
        Err(_canceled) => Err(BusError::Delivery {
            topic: topic_name.to_string(),
            source: KafkaError::Canceled,
        }),
    }
}

fn fetch_partition_count(
    producer: &FutureProducer,
    topic_name: &str,
    timeout: Duration,
) -> Result<i32, BusError> {
    let metadata = producer
        .client()
        .fetch_metadata(Some(topic_name), Timeout::After(timeout))
        .map_err(|source| BusError::Query {
            what: format!("metadata of {topic_name}"),
            source,
        })?;
    let topic = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic_name)
        .filter(|t| t.error().is_none() && !t.partitions().is_empty());
    match topic {
        Some(topic) => Ok(topic.partitions().len() as i32),
        None => Err(BusError::UnknownTopic {
            topic: topic_name.to_string(),
        }),
    }
}
