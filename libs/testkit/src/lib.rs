//! Helpers for tests that talk to the real Postgres, Redis and Kafka servers: every test gets its
//! own database, key prefix and topic names, so suites run in parallel and leave nothing behind.

pub mod db;
pub mod kafka;
pub mod process;
