use indexer_base::config::{Env, PostgresSettings};
use indexer_store::Pools;

/// Creates the database if needed, then applies pending migrations.
pub async fn run(env: &Env) -> anyhow::Result<()> {
    let settings = PostgresSettings::from_env(env)?;
    if indexer_store::ensure_database(&settings.url).await? {
        println!("migrate: created the database");
    }
    let pools = Pools::connect(&settings).await?;
    let applied = indexer_store::migrate(&pools.primary).await?;
    if applied == 0 {
        println!("migrate: schema is up to date (nothing applied)");
    } else {
        println!("migrate: applied {applied} migration(s)");
    }
    pools.close().await;
    Ok(())
}
