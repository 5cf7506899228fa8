//! The crate's error type.

use rdkafka::error::KafkaError;

/// Everything that can go wrong talking to Kafka through this crate.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The client could not be built from the settings (bad broker list, bad option).
    #[error("kafka client could not be created: {0}")]
    Client(#[source] KafkaError),

    /// The broker has no topic of that name; run `bazooka --create-kafka-topics`.
    #[error("topic {topic} does not exist on the broker")]
    UnknownTopic { topic: String },

    /// A produced message was not acknowledged by the broker.
    #[error("delivery to {topic} failed: {source}")]
    Delivery {
        topic: String,
        #[source]
        source: KafkaError,
    },

    /// Reading from the broker failed in a way the client cannot recover from.
    #[error("consuming failed: {0}")]
    Consume(#[source] KafkaError),

    /// Committing a consumer offset failed.
    #[error("committing offset {offset} of {topic}[{partition}] failed: {source}")]
    Commit {
        topic: String,
        partition: i32,
        offset: i64,
        #[source]
        source: KafkaError,
    },

    /// A metadata, watermark or committed-offset query failed.
    #[error("{what} failed: {source}")]
    Query {
        what: String,
        #[source]
        source: KafkaError,
    },

    /// An admin operation (create / delete topics, partitions, records) was refused.
    #[error("{operation} on {resource} failed: {reason}")]
    Admin {
        operation: &'static str,
        resource: String,
        reason: String,
    },

    /// A blocking client call could not run (the runtime is shutting down).
    #[error("background task failed: {0}")]
    Task(String),
}
