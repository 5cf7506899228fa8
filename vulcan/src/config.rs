//! vulcan's own settings (ingest.md §5.1), read from the environment besides the shared
//! Postgres / Redis / Kafka settings of `indexer-base`.

use std::time::Duration;

use indexer_base::config::{ConfigError, Env};

use crate::decide::DecideSettings;
use crate::pipeline::ProcessorSettings;

#[derive(Debug, Clone)]
pub struct VulcanSettings {
    /// `SEND_WEBSOCKET_MESSAGES` (default true; false during fast sync).
    pub send_websocket_messages: bool,
    /// `SEND_SUBACCOUNT_WEBSOCKET_MESSAGE_FOR_CANCELS_MISSING_ORDERS` (default true).
    pub send_missing_cancel_messages: bool,
    /// `PROCESS_FROM_BEGINNING` (default false: a new group starts at the latest offset).
    pub process_from_beginning: bool,
    /// `VULCAN_BATCH_SIZE`: most messages applied in one script call (default 256).
    pub batch_size: usize,
    /// `VULCAN_COMMIT_INTERVAL_MS`: how often published progress is committed (default 1000).
    pub commit_interval: Duration,
    /// `PERPETUAL_MARKETS_REFRESHER_INTERVAL_MS` (default 30 000).
    pub markets_refresh: Duration,
    /// `BLOCK_HEIGHT_REFRESHER_INTERVAL_MS` (default 1 000).
    pub height_refresh: Duration,
    /// `VULCAN_MISSING_ORDER_WAIT_MS`: how long a confirmed stateful placement waits for its
    /// Postgres row (default 10 000).
    pub missing_row_wait: Duration,
    /// `VULCAN_BOOK_DEPTH_INTERVAL_MS`: how often the book-depth gauges are sampled (default 10 000).
    pub book_depth_interval: Duration,
}

impl VulcanSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            send_websocket_messages: env.flag("SEND_WEBSOCKET_MESSAGES", true)?,
            send_missing_cancel_messages: env.flag(
                "SEND_SUBACCOUNT_WEBSOCKET_MESSAGE_FOR_CANCELS_MISSING_ORDERS",
                true,
            )?,
            process_from_beginning: env.flag("PROCESS_FROM_BEGINNING", false)?,
            batch_size: env.get("VULCAN_BATCH_SIZE", 256usize)?.max(1),
            commit_interval: env.millis("VULCAN_COMMIT_INTERVAL_MS", 1_000)?,
            markets_refresh: env.millis("PERPETUAL_MARKETS_REFRESHER_INTERVAL_MS", 30_000)?,
            height_refresh: env.millis("BLOCK_HEIGHT_REFRESHER_INTERVAL_MS", 1_000)?,
            missing_row_wait: env.millis("VULCAN_MISSING_ORDER_WAIT_MS", 10_000)?,
            book_depth_interval: env.millis("VULCAN_BOOK_DEPTH_INTERVAL_MS", 10_000)?,
        })
    }

    pub fn processor(&self) -> ProcessorSettings {
        ProcessorSettings {
            decide: DecideSettings {
                send_subaccount_message_for_missing_cancels: self.send_missing_cancel_messages,
            },
            send_websocket_messages: self.send_websocket_messages,
            missing_row_wait: self.missing_row_wait,
        }
    }
}
