use indexer_base::config::{Env, KafkaSettings, PostgresSettings};
use indexer_bus::BusAdmin;
use indexer_store::Pools;

pub async fn run(env: &Env, groups: &[String]) -> anyhow::Result<()> {
    let pools = Pools::connect(&PostgresSettings::from_env(env)?).await?;
    match indexer_store::last_processed_height(&pools.primary).await? {
        Some(height) => println!("last processed height: {height}"),
        None => println!("last processed height: none (no block processed yet)"),
    }
    pools.close().await;

    let admin = BusAdmin::new(&KafkaSettings::from_env(env)?)?;
    let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
    print!("{}", admin.status(&groups).await?);
    Ok(())
}
