//! vulcan: off-chain order updates (`to-vulcan`) into the Redis order book and open orders, with
//! sequenced websocket messages (ingest.md §5, §7; beyond.md §1).
//!
//! - [`plan`] (pure): validate a message, derive ids, build the Redis operation;
//! - [`decide`] (pure): given the script outcome and Postgres rows, the messages to publish;
//! - [`messages`] (pure): websocket contents;
//! - [`pipeline`]: a batch through Redis (one atomic script call) and Postgres;
//! - [`service`]: the Kafka consumer, publisher, commits and refreshers;
//! - [`markets`], [`config`], [`metrics`].

pub mod config;
pub mod decide;
pub mod markets;
pub mod messages;
pub mod metrics;
pub mod pipeline;
pub mod plan;
pub mod service;
