//! ender: on-chain blocks from `to-ender` into Postgres, exactly once (see README.md).
//!
//! The base service (settings, logging, Bugsnag, metrics, admin server on 9001) runs the
//! consumer, the outbox relay and the mid-price refresh (`ender::runner`) until SIGTERM/Ctrl-C.
//! If Postgres, Redis or Kafka cannot be reached at start, `/readyz` reports it and ender retries.

use std::time::Duration;

use indexer_base::config::Env;

const SERVICE_NAME: &str = "ender";
const DEFAULT_ADMIN_PORT: u16 = 9001;
const READY_STARTED: &str = "ender_started";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let service = indexer_base::start(SERVICE_NAME, DEFAULT_ADMIN_PORT).await?;
    let settings = ender::config::EnderSettings::from_env(&Env::process())?;
    let readiness = service.readiness();
    let shutdown = service.shutdown().token();
    readiness.set_ready(READY_STARTED, false);
    let mut attempt = 0u32;
    while !shutdown.is_cancelled() {
        let run = ender::runner::run(settings.clone(), readiness.clone(), shutdown.clone());
        readiness.set_ready(READY_STARTED, true);
        match run.await {
            Ok(()) => break,
            Err(error) => {
                readiness.set_ready(READY_STARTED, false);
                if attempt == 0 {
                    tracing::error!(%error, "ender could not start; retrying every 5 s");
                } else {
                    tracing::warn!(%error, attempt, "ender could not start; retrying");
                }
                attempt += 1;
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                }
            }
        }
    }
    service.finish().await;
    Ok(())
}
