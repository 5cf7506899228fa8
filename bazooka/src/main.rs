//! bazooka: the indexer's admin CLI. One subcommand per operation of the reference's bazooka
//! (ops.md §2), run as a one-off task in production and by `scripts/dev.sh` locally.

mod cli;
mod commands;
mod guard;

use clap::Parser;
use indexer_base::config::{BaseSettings, Env};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let env = Env::process();
    let base = match BaseSettings::from_env(&env, "bazooka", 0) {
        Ok(base) => base,
        Err(err) => {
            eprintln!("bazooka: {err}");
            return std::process::ExitCode::from(2);
        }
    };
    let _telemetry = indexer_base::telemetry::init(&base);
    match commands::run(cli.command, &env, &base).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "bazooka failed");
            eprintln!("bazooka: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}
