//! ender: on-chain blocks from Kafka into Postgres, Redis and websocket messages.
//!
//! Start-up skeleton: the base service (settings, logging, Bugsnag, metrics, admin server on
//! 9001) and a clean exit on SIGTERM or Ctrl-C.

const SERVICE_NAME: &str = "ender";
const DEFAULT_ADMIN_PORT: u16 = 9001;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let service = indexer_base::start(SERVICE_NAME, DEFAULT_ADMIN_PORT).await?;
    tracing::info!("nothing to run yet; waiting for shutdown");
    service.shutdown().wait().await;
    service.finish().await;
    Ok(())
}
