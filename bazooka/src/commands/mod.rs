//! One module per command; each prints what it did on stdout.

mod clear;
mod migrate;
mod status;
mod topics;

use indexer_base::config::{BaseSettings, Env};

use crate::cli::Command;

pub async fn run(command: Command, env: &Env, base: &BaseSettings) -> anyhow::Result<()> {
    match command {
        Command::Migrate => migrate::run(env).await,
        Command::CreateTopics { partitions } => topics::create(env, partitions).await,
        Command::ClearDb(flags) => clear::database(env, base, &flags).await,
        Command::ClearRedis(flags) => clear::redis(env, base, &flags).await,
        Command::ClearKafka(flags) => clear::kafka(env, base, &flags).await,
        Command::Status { groups } => status::run(env, &groups).await,
    }
}
