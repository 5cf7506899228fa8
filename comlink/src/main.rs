//! comlink: the REST API on `PORT` (default 8080) plus the admin server on 9004.

use indexer_base::config::Env;

use comlink::app;
use comlink::config::ComlinkSettings;

const SERVICE_NAME: &str = "comlink";
const DEFAULT_ADMIN_PORT: u16 = 9004;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let service = indexer_base::start(SERVICE_NAME, DEFAULT_ADMIN_PORT).await?;
    let settings = ComlinkSettings::from_env(&Env::process())?;
    let address = format!("{}:{}", settings.host, settings.port);
    let state = app::connect(settings).await?;
    register_readiness(&service, &state);
    let background = app::spawn_background(&state);
    let listener = tokio::net::TcpListener::bind(&address).await?;
    tracing::info!(address = %listener.local_addr()?, "API listening");

    let shutdown = service.shutdown();
    let served = app::serve(
        listener,
        state.clone(),
        async move { shutdown.wait().await },
    )
    .await;
    background.iter().for_each(|task| task.abort());
    state.pools().close().await;
    service.finish().await;
    Ok(served?)
}

/// `/readyz` fails while the reader database or Redis cannot be reached.
fn register_readiness(service: &indexer_base::Service, state: &comlink::state::AppState) {
    let pool = state.pools().reader().clone();
    service.readiness().register("postgres", move || {
        let pool = pool.clone();
        async move { sqlx::query("SELECT 1").execute(&pool).await.map(|_| ()) }
    });
    let cache = state.cache().clone();
    service.readiness().register("redis", move || {
        let cache = cache.clone();
        async move { cache.ping().await }
    });
}
