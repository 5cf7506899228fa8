//! roundtable: periodic jobs (market statistics, order-book hygiene, order expiry, PnL history,
//! rewards, funding payments, compliance transitions, lag tracking), scheduled across a fleet
//! of instances through Redis locks.

use indexer_base::config::{Env, KafkaSettings, PostgresSettings, RedisSettings};
use indexer_bus::BusProducer;
use indexer_cache::Cache;
use indexer_store::Pools;
use roundtable::config::RoundtableSettings;
use roundtable::jobs::{self, Deps};
use roundtable::scheduler::{FleetLocks, Scheduler};

const SERVICE_NAME: &str = "roundtable";
const DEFAULT_ADMIN_PORT: u16 = 9003;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let service = indexer_base::start(SERVICE_NAME, DEFAULT_ADMIN_PORT).await?;
    let scheduler = match prepare(&service).await {
        Ok(scheduler) => scheduler,
        Err(error) => {
            tracing::error!(%error, "roundtable failed to start");
            service.finish().await;
            return Err(error);
        }
    };
    let report = scheduler.run(service.shutdown().token()).await;
    tracing::info!(abandoned = ?report.abandoned, "roundtable scheduler stopped");
    service.finish().await;
    Ok(())
}

/// Reads settings, connects Postgres, Redis and Kafka, and schedules every enabled job.
async fn prepare(service: &indexer_base::Service) -> anyhow::Result<Scheduler> {
    let env = Env::process();
    let settings = RoundtableSettings::from_env(&env, service.settings().shutdown_timeout)?;
    let kafka = KafkaSettings::from_env(&env)?;
    let redis = RedisSettings::from_env(&env)?;
    let deps = Deps {
        pools: Pools::connect(&PostgresSettings::from_env(&env)?).await?,
        cache: Cache::connect(&redis).await?,
        producer: BusProducer::new(&kafka)?,
        max_batch_bytes: kafka.max_batch_bytes,
    };
    register_readiness(service, &deps);
    let locks = FleetLocks::new(
        deps.cache.conn(),
        &redis.key_prefix,
        &service.settings().service_name,
    );
    let mut scheduler = Scheduler::new(settings.scheduler.clone(), locks);
    for job in &settings.jobs {
        if !job.enabled {
            tracing::info!(
                job = job.spec.name,
                enable_var = job.spec.enable_var,
                "job disabled"
            );
            continue;
        }
        if let Some(missing) = settings.missing_requirement(job.spec) {
            tracing::warn!(job = job.spec.name, %missing, "job enabled but not scheduled");
            continue;
        }
        match jobs::build(job.spec.name, &settings, &deps) {
            Some(implementation) => scheduler.add(job.config.clone(), implementation),
            None => tracing::warn!(
                job = job.spec.name,
                "job enabled but not implemented in this build; not scheduled"
            ),
        }
    }
    tracing::info!(jobs = ?scheduler.job_names(), "roundtable scheduling");
    Ok(scheduler)
}

fn register_readiness(service: &indexer_base::Service, deps: &Deps) {
    let readiness = service.readiness();
    let cache = deps.cache.clone();
    readiness.register("redis", move || {
        let cache = cache.clone();
        async move { cache.ping().await }
    });
    let pool = deps.pools.primary.clone();
    readiness.register("postgres", move || {
        let pool = pool.clone();
        async move { sqlx::query("SELECT 1").execute(&pool).await.map(|_| ()) }
    });
}
