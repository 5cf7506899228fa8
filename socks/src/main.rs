//! socks: the websocket server (see the crate docs and README.md).

use std::sync::Arc;

use anyhow::Context as _;
use indexer_base::config::{Env, KafkaSettings, PostgresSettings, RedisSettings};
use socks::feed::Feed;
use socks::markets::MarketDirectory;
use socks::snapshot::StoreSnapshots;
use socks::{Context, Server, SocksConfig};

const SERVICE_NAME: &str = "socks";
const DEFAULT_ADMIN_PORT: u16 = 9005;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let service = indexer_base::start(SERVICE_NAME, DEFAULT_ADMIN_PORT).await?;
    let result = run(&service).await;
    if let Err(error) = &result {
        tracing::error!(error = format!("{error:#}"), "socks failed");
    }
    service.finish().await;
    result
}

async fn run(service: &indexer_base::Service) -> anyhow::Result<()> {
    let env = Env::process();
    let config = SocksConfig::from_env(&env)?;
    let readiness = service.readiness();
    readiness.set_ready("socks_started", false);
    let pools = indexer_store::Pools::connect(&PostgresSettings::from_env(&env)?)
        .await
        .context("connecting to Postgres")?;
    let pool = pools.reader().clone();
    let cache = indexer_cache::Cache::connect(&RedisSettings::from_env(&env)?)
        .await
        .context("connecting to Redis")?;
    let markets = MarketDirectory::default();
    let loaded = markets
        .refresh(&pool)
        .await
        .context("loading perpetual markets")?;
    tracing::info!(markets = loaded, "perpetual-market cache loaded");
    let snapshots = StoreSnapshots::with_compliance(
        pool.clone(),
        cache,
        markets.clone(),
        config.compliance.clone(),
    );
    let ctx = Context::new(config.clone(), markets.clone(), snapshots);
    let kafka = KafkaSettings::from_env(&env)?;
    let feed = Feed::connect(&kafka, config.kafka_start)
        .await
        .context("connecting the Kafka feed")?;
    let server = Server::bind(Arc::clone(&ctx))
        .await
        .with_context(|| format!("binding the websocket port {}", config.ws_port))?;
    tracing::info!(addr = %server.local_addr(), "socks serving");

    let shutdown = service.shutdown();
    let refresher = tokio::spawn(
        markets
            .clone()
            .refresh_every(pool, config.market_refresh_interval),
    );
    let feed_task = tokio::spawn(feed.run(Arc::clone(&ctx.hub), markets, shutdown.token()));
    readiness.set_ready("socks_started", true);
    let outcome = tokio::select! {
        _ = shutdown.wait() => Ok(()),
        ended = feed_task => match ended {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(anyhow::Error::new(error).context("the Kafka feed failed")),
            Err(join) => Err(anyhow::anyhow!("the Kafka feed task ended: {join}")),
        },
    };
    refresher.abort();
    server.stop().await;
    pools.close().await;
    outcome
}
