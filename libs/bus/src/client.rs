//! Settings shared by every client this crate builds, and the bridge for librdkafka's blocking
//! calls (metadata, watermarks, committed offsets) into async code.

use indexer_base::config::KafkaSettings;
use rdkafka::ClientConfig;

use crate::BusError;

/// Largest message the indexer produces or fetches: the protocol's `MaxMessageBytes` for
/// `to-ender` blocks (spec ingest §2.3, ops §4.1).
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// The options every client shares: brokers, connection timeout, no implicit topic creation
/// (a typo in a topic name must fail loudly, not create a stray topic).
pub(crate) fn base_config(settings: &KafkaSettings) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &settings.brokers)
        .set(
            "socket.connection.setup.timeout.ms",
            settings.connection_timeout.as_millis().to_string(),
        )
        .set("allow.auto.create.topics", "false");
    config
}

/// Runs a blocking librdkafka call on the blocking pool so it never stalls the async workers.
pub(crate) async fn blocking<T, F>(call: F) -> Result<T, BusError>
where
    F: FnOnce() -> Result<T, BusError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|e| BusError::Task(e.to_string()))?
}
