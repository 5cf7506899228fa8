//! socks: the websocket fan-out (its websocket server is wired separately).
//!
//! Start-up skeleton: the base service (settings, logging, Bugsnag, metrics, admin server on
//! 9005) and a clean exit on SIGTERM or Ctrl-C.

const SERVICE_NAME: &str = "socks";
const DEFAULT_ADMIN_PORT: u16 = 9005;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let service = indexer_base::start(SERVICE_NAME, DEFAULT_ADMIN_PORT).await?;
    tracing::info!("nothing to run yet; waiting for shutdown");
    service.shutdown().wait().await;
    service.finish().await;
    Ok(())
}
