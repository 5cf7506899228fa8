//! vulcan: off-chain order updates from Kafka into the Redis order book and websocket messages.

use indexer_base::config::{Env, KafkaSettings, PostgresSettings, RedisSettings};
use tokio::task::JoinSet;
use vulcan::config::VulcanSettings;
use vulcan::service::{self, Connections};

const SERVICE_NAME: &str = "vulcan";
const DEFAULT_ADMIN_PORT: u16 = 9002;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let service = indexer_base::start(SERVICE_NAME, DEFAULT_ADMIN_PORT).await?;
    let env = Env::process();
    let started = async {
        let settings = VulcanSettings::from_env(&env)?;
        let connections = Connections::open(
            &RedisSettings::from_env(&env)?,
            &PostgresSettings::from_env(&env)?,
            KafkaSettings::from_env(&env)?,
        )
        .await?;
        let mut tasks = JoinSet::new();
        service::spawn(
            connections,
            settings,
            service.shutdown(),
            service.readiness(),
            &mut tasks,
        )
        .await?;
        anyhow::Ok(tasks)
    }
    .await;
    let tasks = match started {
        Ok(tasks) => tasks,
        Err(error) => {
            tracing::error!(%error, "vulcan failed to start");
            service.finish().await;
            return Err(error);
        }
    };
    let report = service.run_until_shutdown(tasks).await;
    tracing::info!(clean = report.is_clean(), "vulcan tasks stopped");
    service.finish().await;
    Ok(())
}
