use indexer_base::config::{BaseSettings, Env, KafkaSettings, PostgresSettings, RedisSettings};
use indexer_bus::BusAdmin;
use indexer_cache::Cache;
use indexer_store::Pools;

use crate::cli::Destructive;
use crate::guard::authorize;

fn check(action: &str, env: &Env, base: &BaseSettings, flags: &Destructive) -> anyhow::Result<()> {
    let prevent = env.flag("PREVENT_BREAKING_CHANGES_WITHOUT_FORCE", true)?;
    authorize(action, base.environment, prevent, flags)?;
    tracing::warn!(action, environment = %base.environment, "destructive admin command authorized");
    Ok(())
}

pub async fn database(env: &Env, base: &BaseSettings, flags: &Destructive) -> anyhow::Result<()> {
    check("clear the database", env, base, flags)?;
    let pools = Pools::connect(&PostgresSettings::from_env(env)?).await?;
    let tables = indexer_store::clear_data(&pools.primary).await?;
    println!("clear-db: truncated {} table(s)", tables.len());
    pools.close().await;
    Ok(())
}

pub async fn redis(env: &Env, base: &BaseSettings, flags: &Destructive) -> anyhow::Result<()> {
    check("clear redis", env, base, flags)?;
    let cache = Cache::connect(&RedisSettings::from_env(env)?).await?;
    let removed = cache.clear().await?;
    println!("clear-redis: removed {removed} key(s)");
    Ok(())
}

pub async fn kafka(env: &Env, base: &BaseSettings, flags: &Destructive) -> anyhow::Result<()> {
    check("clear the kafka topics", env, base, flags)?;
    let admin = BusAdmin::new(&KafkaSettings::from_env(env)?)?;
    let report = admin.clear_topics(Default::default()).await?;
    print!("clear-kafka: {report}");
    Ok(())
}
