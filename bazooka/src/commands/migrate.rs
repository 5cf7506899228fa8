use indexer_base::config::{Env, PostgresSettings};
use indexer_store::Pools;

pub async fn run(env: &Env) -> anyhow::Result<()> {
    let pools = Pools::connect(&PostgresSettings::from_env(env)?).await?;
    let applied = indexer_store::migrate(&pools.primary).await?;
    if applied == 0 {
        println!("migrate: schema is up to date (nothing applied)");
    } else {
        println!("migrate: applied {applied} migration(s)");
    }
    pools.close().await;
    Ok(())
}
