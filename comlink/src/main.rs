//! comlink: the REST API (its API server on PORT 8080 is wired separately).
//!
//! Start-up skeleton: the base service (settings, logging, Bugsnag, metrics, admin server on
//! 9004) and a clean exit on SIGTERM or Ctrl-C.

const SERVICE_NAME: &str = "comlink";
const DEFAULT_ADMIN_PORT: u16 = 9004;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let service = indexer_base::start(SERVICE_NAME, DEFAULT_ADMIN_PORT).await?;
    tracing::info!("nothing to run yet; waiting for shutdown");
    service.shutdown().wait().await;
    service.finish().await;
    Ok(())
}
