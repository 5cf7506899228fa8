//! Command-line shape. Subcommand names follow the reference's event flags (`migrate`,
//! `create_kafka_topics`, `clear_db`, ...), spelled the CLI way.

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "bazooka",
    version,
    about = "Indexer admin: migrations, topics, clearing, status"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending Postgres migrations (idempotent; guarded by an advisory lock).
    Migrate,
    /// Create every missing Kafka topic (and grow partition counts) per the topic catalogue.
    #[command(visible_alias = "create-kafka-topics")]
    CreateTopics {
        /// Give every topic this many partitions instead of the production counts.
        #[arg(long)]
        partitions: Option<i32>,
    },
    /// Truncate every data table, keeping the schema.
    ClearDb(Destructive),
    /// Remove every indexer key from the main Redis (the rate-limit Redis is untouched).
    ClearRedis(Destructive),
    /// Delete every record of every indexer topic.
    #[command(visible_alias = "clear-kafka-topics")]
    ClearKafka(Destructive),
    /// Last processed height, topic offsets and consumer-group lag.
    Status {
        /// Consumer groups to report lag for.
        #[arg(long, value_delimiter = ',', default_value = "ender,vulcan")]
        groups: Vec<String>,
    },
}

/// Flags every destructive command takes.
#[derive(Debug, Args, Clone, Default)]
pub struct Destructive {
    /// Required outside development and test environments.
    #[arg(long)]
    pub force: bool,
    /// For testnet and production: the environment name, typed again as confirmation.
    #[arg(long, value_name = "ENVIRONMENT")]
    pub confirm: Option<String>,
}
