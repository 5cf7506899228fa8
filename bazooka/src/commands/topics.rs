use indexer_base::config::{Env, KafkaSettings};
use indexer_bus::{BusAdmin, TopicLayout};

pub async fn create(env: &Env, partitions: Option<i32>) -> anyhow::Result<()> {
    let admin = BusAdmin::new(&KafkaSettings::from_env(env)?)?;
    let layout = match partitions {
        Some(n) if n < 1 => anyhow::bail!("--partitions must be at least 1, got {n}"),
        Some(n) => TopicLayout::uniform(n),
        None => TopicLayout::production(),
    };
    let report = admin.ensure_topics(&layout).await?;
    print!("create-topics: {report}");
    Ok(())
}
