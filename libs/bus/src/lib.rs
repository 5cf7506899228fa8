//! Kafka plumbing for the indexer: the topic catalogue, the Java-compatible partitioner, the one
//! producer helper, consumer helpers with manual commits and dead-lettering, and topic
//! administration for bazooka.
//!
//! See `README.md` beside this crate for what the local broker (tansu) supports.

pub mod admin;
mod client;
pub mod consumer;
mod error;
pub mod headers;
pub mod partition;
pub mod producer;
pub mod topics;

pub use admin::{BusAdmin, BusStatus, ClearMethod, ClearReport, EnsureReport};
pub use client::MAX_MESSAGE_BYTES;
pub use consumer::{
    BusConsumer, ConsumerOptions, Decoder, HandleError, MessageMeta, OffsetReset, Received, StartAt,
};
pub use error::BusError;
pub use headers::MessageHeaders;
pub use partition::{murmur2, partition_for_key};
pub use producer::{BusProducer, Delivered, OutgoingMessage};
pub use topics::{Topic, TopicLayout, TopicNames};
