//! socks: the websocket server of every channel (serve.md §5), with sequence numbers, resume and
//! the lagged policy of beyond.md §1 and §5.
//!
//! | Module | Role |
//! |---|---|
//! | [`server`] | accept loop, connection cap, batch flush timer, shutdown |
//! | [`connection`] | read loop (validation, limits), write loop (one flush per batch), heartbeat |
//! | [`outbound`] | the bounded per-connection send queue |
//! | [`protocol`] | typed client frames and the exact server frames and error texts |
//! | [`channels`] | channel names, id validation, per-connection limits |
//! | [`limits`] | the reference's fixed-window rate limiter |
//! | [`hub`] | subscription registry, fan-out, batched flush |
//! | [`history`] | per-channel-id history, duplicate drop, resume decisions |
//! | [`feed`] | Kafka `to-websockets-*` → channel messages |
//! | [`snapshot`] | initial payloads: the seam and the Redis/Postgres implementation |
//! | [`markets`] | the perpetual-market cache |
//! | [`config`] | settings from the environment |
//! | [`ws`] | the websocket protocol: handshake, framing, permessage-deflate |

pub mod channels;
pub mod config;
pub mod connection;
pub mod feed;
pub mod history;
pub mod hub;
pub mod limits;
pub mod markets;
pub mod outbound;
pub mod protocol;
pub mod server;
pub mod snapshot;
pub mod ws;

pub use config::SocksConfig;
pub use hub::{ChannelMessage, Hub, Snapshot};
pub use server::{Context, Server};
