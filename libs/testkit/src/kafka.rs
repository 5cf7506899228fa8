//! Unique Kafka topic names per test.
