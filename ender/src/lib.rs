//! Ender: exactly-once ingestion of on-chain blocks (see README.md for the design).
//!
//! The pure core is [`block::process_block`]; [`pipeline`] wraps it in the block's Postgres
//! transaction.

pub mod block;
pub mod candles;
pub mod config;
pub mod consumer;
pub mod decode;
pub mod error;
pub mod handlers;
pub mod messages;
pub mod model;
pub mod orders;
pub mod pipeline;
pub mod positions;
pub mod redis_io;
pub mod relay;
pub mod runner;
pub mod state;
pub mod validate;

pub use block::{process_block, BlockOutcome, RedisEffect};
pub use decode::{decode_block, decode_message, DecodedBlock};
pub use error::BlockError;
pub use state::{Caches, State};
