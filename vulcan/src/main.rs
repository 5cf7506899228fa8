//! vulcan: off-chain order updates from Kafka into the Redis order book and websocket messages.
//!
//! Start-up skeleton: the base service (settings, logging, Bugsnag, metrics, admin server on
//! 9002) and a clean exit on SIGTERM or Ctrl-C.

const SERVICE_NAME: &str = "vulcan";
const DEFAULT_ADMIN_PORT: u16 = 9002;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let service = indexer_base::start(SERVICE_NAME, DEFAULT_ADMIN_PORT).await?;
    tracing::info!("nothing to run yet; waiting for shutdown");
    service.shutdown().wait().await;
    service.finish().await;
    Ok(())
}
