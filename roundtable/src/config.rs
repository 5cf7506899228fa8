//! roundtable's settings from the environment (ops.md §1.3, §4.2). Variable names are the
//! reference's where the concept is the same; our additions are marked.
//!
//! Per job (`<suffix>` and the enable variable per job are listed in [`crate::catalogue`]):
//!
//! | Var | Default |
//! |---|---|
//! | the job's enable variable, e.g. `LOOPS_ENABLED_MARKET_UPDATER` | per job (catalogue) |
//! | `LOOPS_CRON_<suffix>` (ours) | the catalogue's cron expression, equal to the reference's interval |
//! | `LOOPS_INTERVAL_MS_<suffix>` | unset; when set, the job runs every that many ms (epoch-aligned) instead |
//! | `<JOB>_LOCK_MULTIPLIER` (where the reference has one) | per job; others 1 |
//!
//! Scheduler:
//!
//! | Var | Default |
//! |---|---|
//! | `MAX_CONCURRENT_RUNNING_TASKS` | 2 |
//! | `MAX_CONCURRENT_BACKFILL_TASKS` (ours) | 1 |
//! | `JITTER_FRACTION_OF_DELAY` | 0.01 (of the interval, at most 5 s) |
//! | `ROUNDTABLE_SHUTDOWN_DEADLINE_MS` (ours) | `SHUTDOWN_TIMEOUT_MS` (10000) |
//!
//! Jobs:
//!
//! | Var | Default |
//! |---|---|
//! | `BLOCKS_TO_DELAY_EXPIRY_BEFORE_SENDING_REMOVES` | 20 |
//! | `CANCEL_STALE_ORDERS_QUERY_BATCH_SIZE` | 10000 |
//! | `STALE_ORDERBOOK_LEVEL_THRESHOLD_SECONDS` | 10 |
//! | `OLD_CACHED_ORDER_UPDATES_WINDOW_MS` | 30000 |
//! | `PNL_TICK_UPDATE_INTERVAL_MS` / `PNL_TICK_MAX_ROWS_PER_UPSERT` / `PNL_TICK_MAX_ACCOUNTS_PER_RUN` | 3600000 / 1000 / 65000 |
//! | `LEADERBOARD_PNL_MAX_ROWS_PER_UPSERT` | 1000 |
//! | `AGGREGATE_TRADING_REWARDS_MAX_INTERVAL_SIZE_MS` / `AGGREGATE_TRADING_REWARDS_CHUNK_SIZE` | 3600000 / 50 |
//! | `TRACK_LAG_INDEXER_FULL_NODE_URL`, `TRACK_LAG_VALIDATOR_URL`, `TRACK_LAG_OTHER_FULL_NODE_URL` | unset |
//! | `TRACK_LAG_TIMEOUT_MS` (ours) | 5000 |
//! | `COMPLIANCE_DATA_CLIENT` | NONE (ours; the reference defaults to ELLIPTIC); BLOCKLIST, PLACEHOLDER; ELLIPTIC is not built in |
//! | `BLOCKED_ADDRESSES` | empty (comma-separated, for BLOCKLIST) |
//! | `ACTIVE_ADDRESS_THRESHOLD_SECONDS` / `MAX_COMPLIANCE_DATA_AGE_SECONDS` / `MAX_ACTIVE_COMPLIANCE_DATA_AGE_SECONDS` | 86400 / 2630000 / 86400 |
//! | `MAX_COMPLIANCE_DATA_QUERY_PER_LOOP` / `COMPLIANCE_PROVIDER_QUERY_BATCH_SIZE` / `COMPLIANCE_PROVIDER_QUERY_DELAY_MS` | 100 / 15 / 1000 |
//! | `CLOSE_ONLY_TO_BLOCKED_DAYS` | 7 |
//! | `TIME_WINDOW_FOR_REFRESH_VAULT_PNL_MS` | 900000 |
//! | `FUNDING_PAYMENTS_MAX_HEIGHTS_PER_RUN` (ours; also bounds update_pnl) | 1000 |
//! | AWS jobs: see [`crate::aws`] | unset: the AWS jobs are not scheduled |
//! | `SUBACCOUNT_USERNAME_BATCH_SIZE` / `SUBACCOUNT_USERNAME_SUFFIX_RANDOM_DIGITS` / `ATTEMPT_PER_SUBACCOUNT` | 2000 / 3 / 3 |

use std::time::Duration;

use indexer_base::config::{ConfigError, Env};

use crate::aws::AwsSettings;
use crate::catalogue::{DefaultOn, JobKind, JobSpec, JOBS, UPDATE_RESEARCH_ENVIRONMENT};
use crate::scheduler::{JobConfig, Schedule, SchedulerSettings};

/// A catalogue job with its resolved configuration.
#[derive(Debug, Clone)]
pub struct ConfiguredJob {
    pub spec: &'static JobSpec,
    pub enabled: bool,
    pub config: JobConfig,
}

/// Who screens addresses for `update_compliance_data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComplianceProvider {
    None,
    Blocklist,
    Placeholder,
    Elliptic,
}

impl std::str::FromStr for ComplianceProvider {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "NONE" => Ok(Self::None),
            "BLOCKLIST" => Ok(Self::Blocklist),
            "PLACEHOLDER" => Ok(Self::Placeholder),
            "ELLIPTIC" => Ok(Self::Elliptic),
            other => Err(format!(
                "unknown compliance client {other:?}; expected NONE, BLOCKLIST, PLACEHOLDER or ELLIPTIC"
            )),
        }
    }
}

/// The CometBFT RPC endpoints `track_lag` compares (any subset may be set).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LagUrls {
    pub indexer_full_node: Option<String>,
    pub validator: Option<String>,
    pub other_full_node: Option<String>,
}

impl LagUrls {
    pub fn any(&self) -> bool {
        self.indexer_full_node.is_some()
            || self.validator.is_some()
            || self.other_full_node.is_some()
    }
}

/// Everything roundtable reads from the environment besides the shared sections.
#[derive(Debug, Clone)]
pub struct RoundtableSettings {
    pub scheduler: SchedulerSettings,
    pub jobs: Vec<ConfiguredJob>,
    pub blocks_to_delay_expiry: i64,
    pub cancel_stale_orders_batch: i64,
    pub stale_level_threshold: Duration,
    pub old_cached_order_updates_window: Duration,
    pub pnl_tick_interval: Duration,
    pub pnl_tick_max_rows_per_upsert: usize,
    pub pnl_tick_max_accounts_per_run: usize,
    pub leaderboard_rows_per_upsert: usize,
    pub trading_rewards_max_interval: Duration,
    pub trading_rewards_chunk_size: usize,
    pub lag_urls: LagUrls,
    pub lag_timeout: Duration,
    pub compliance_provider: ComplianceProvider,
    pub blocked_addresses: Vec<String>,
    pub active_address_threshold: Duration,
    pub max_compliance_data_age: Duration,
    pub max_active_compliance_data_age: Duration,
    pub max_compliance_queries_per_run: usize,
    pub compliance_query_batch_size: usize,
    pub compliance_query_delay: Duration,
    pub close_only_to_blocked: Duration,
    pub vault_pnl_refresh_window: Duration,
    pub funding_payments_max_heights_per_run: usize,
    pub username_batch_size: i64,
    pub username_suffix_len: usize,
    pub username_attempts: u32,
    /// The AWS account the AWS jobs use (`None`: those jobs are not scheduled).
    pub aws: Option<AwsSettings>,
}

impl RoundtableSettings {
    /// `shutdown_timeout` is the base `SHUTDOWN_TIMEOUT_MS`, the default deadline for running
    /// jobs at shutdown.
    pub fn from_env(env: &Env, shutdown_timeout: Duration) -> Result<Self, ConfigError> {
        let lag_urls = LagUrls {
            indexer_full_node: env.raw("TRACK_LAG_INDEXER_FULL_NODE_URL"),
            validator: env.raw("TRACK_LAG_VALIDATOR_URL"),
            other_full_node: env.raw("TRACK_LAG_OTHER_FULL_NODE_URL"),
        };
        let compliance_provider = env.get("COMPLIANCE_DATA_CLIENT", ComplianceProvider::None)?;
        let defaults = Defaults {
            lag_urls_set: lag_urls.any(),
            compliance_provider_set: compliance_provider != ComplianceProvider::None,
        };
        let jobs = JOBS
            .iter()
            .map(|spec| configure_job(env, spec, defaults))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            scheduler: SchedulerSettings {
                max_concurrent: env.get("MAX_CONCURRENT_RUNNING_TASKS", 2)?,
                max_concurrent_backfill: env.get("MAX_CONCURRENT_BACKFILL_TASKS", 1)?,
                jitter_fraction: env.get("JITTER_FRACTION_OF_DELAY", 0.01)?,
                shutdown_deadline: env.millis(
                    "ROUNDTABLE_SHUTDOWN_DEADLINE_MS",
                    shutdown_timeout.as_millis() as u64,
                )?,
                ..SchedulerSettings::default()
            },
            jobs,
            blocks_to_delay_expiry: env.get("BLOCKS_TO_DELAY_EXPIRY_BEFORE_SENDING_REMOVES", 20)?,
            cancel_stale_orders_batch: env.get("CANCEL_STALE_ORDERS_QUERY_BATCH_SIZE", 10_000)?,
            stale_level_threshold: Duration::from_secs(
                env.get("STALE_ORDERBOOK_LEVEL_THRESHOLD_SECONDS", 10)?,
            ),
            old_cached_order_updates_window: env
                .millis("OLD_CACHED_ORDER_UPDATES_WINDOW_MS", 30_000)?,
            pnl_tick_interval: env.millis("PNL_TICK_UPDATE_INTERVAL_MS", 3_600_000)?,
            pnl_tick_max_rows_per_upsert: env.get("PNL_TICK_MAX_ROWS_PER_UPSERT", 1_000)?,
            pnl_tick_max_accounts_per_run: env.get("PNL_TICK_MAX_ACCOUNTS_PER_RUN", 65_000)?,
            leaderboard_rows_per_upsert: env.get("LEADERBOARD_PNL_MAX_ROWS_PER_UPSERT", 1_000)?,
            trading_rewards_max_interval: env
                .millis("AGGREGATE_TRADING_REWARDS_MAX_INTERVAL_SIZE_MS", 3_600_000)?,
            trading_rewards_chunk_size: env.get("AGGREGATE_TRADING_REWARDS_CHUNK_SIZE", 50)?,
            lag_urls,
            lag_timeout: env.millis("TRACK_LAG_TIMEOUT_MS", 5_000)?,
            compliance_provider,
            blocked_addresses: env.list("BLOCKED_ADDRESSES"),
            active_address_threshold: seconds(env, "ACTIVE_ADDRESS_THRESHOLD_SECONDS", 86_400)?,
            max_compliance_data_age: seconds(env, "MAX_COMPLIANCE_DATA_AGE_SECONDS", 2_630_000)?,
            max_active_compliance_data_age: seconds(
                env,
                "MAX_ACTIVE_COMPLIANCE_DATA_AGE_SECONDS",
                86_400,
            )?,
            max_compliance_queries_per_run: env.get("MAX_COMPLIANCE_DATA_QUERY_PER_LOOP", 100)?,
            compliance_query_batch_size: env.get("COMPLIANCE_PROVIDER_QUERY_BATCH_SIZE", 15)?,
            compliance_query_delay: env.millis("COMPLIANCE_PROVIDER_QUERY_DELAY_MS", 1_000)?,
            close_only_to_blocked: Duration::from_secs(
                86_400 * env.get::<u64>("CLOSE_ONLY_TO_BLOCKED_DAYS", 7)?,
            ),
            vault_pnl_refresh_window: env
                .millis("TIME_WINDOW_FOR_REFRESH_VAULT_PNL_MS", 900_000)?,
            funding_payments_max_heights_per_run: env
                .get("FUNDING_PAYMENTS_MAX_HEIGHTS_PER_RUN", 1_000)?,
            username_batch_size: env.get("SUBACCOUNT_USERNAME_BATCH_SIZE", 2_000)?,
            username_suffix_len: env.get("SUBACCOUNT_USERNAME_SUFFIX_RANDOM_DIGITS", 3)?,
            username_attempts: env.get("ATTEMPT_PER_SUBACCOUNT", 3)?,
            aws: AwsSettings::from_env(env)?,
        })
    }

    /// The configuration of job `name` (every catalogue job has one).
    pub fn job(&self, name: &str) -> Option<&ConfiguredJob> {
        self.jobs.iter().find(|job| job.spec.name == name)
    }

    /// Enabled jobs whose requirements are met.
    pub fn runnable_jobs(&self) -> impl Iterator<Item = &ConfiguredJob> {
        self.jobs
            .iter()
            .filter(|job| job.enabled && self.missing_requirement(job.spec).is_none())
    }

    /// What job `spec` lacks to run, in words for the start-up warning.
    pub fn missing_requirement(&self, spec: &JobSpec) -> Option<String> {
        let JobKind::Aws(needs) = spec.kind else {
            return None;
        };
        match &self.aws {
            None => Some(format!(
                "{needs}: needs AWS_REGION, RDS_INSTANCE_NAME and AWS credentials"
            )),
            Some(aws) if spec.name == UPDATE_RESEARCH_ENVIRONMENT && aws.research.is_none() => {
                Some(format!(
                    "{needs}: needs S3_BUCKET_ARN, KMS_KEY_ARN and ECS_TASK_ROLE_ARN"
                ))
            }
            Some(_) => None,
        }
    }
}

fn seconds(env: &Env, var: &str, default: u64) -> Result<Duration, ConfigError> {
    Ok(Duration::from_secs(env.get(var, default)?))
}

#[derive(Debug, Clone, Copy)]
struct Defaults {
    lag_urls_set: bool,
    compliance_provider_set: bool,
}

fn configure_job(
    env: &Env,
    spec: &'static JobSpec,
    defaults: Defaults,
) -> Result<ConfiguredJob, ConfigError> {
    let default_on = match spec.default_on {
        DefaultOn::Yes => true,
        DefaultOn::No => false,
        DefaultOn::WhenLagUrlsSet => defaults.lag_urls_set,
        DefaultOn::WhenComplianceProviderSet => defaults.compliance_provider_set,
    };
    let enabled = env.flag(spec.enable_var, default_on)?;
    let lock_multiplier = match spec.lock_multiplier {
        (Some(var), default) => env.get(var, default)?,
        (None, default) => default,
    };
    Ok(ConfiguredJob {
        spec,
        enabled,
        config: JobConfig {
            name: spec.name.to_string(),
            schedule: job_schedule(env, spec)?,
            lock_multiplier,
            budget: spec.budget,
        },
    })
}

fn job_schedule(env: &Env, spec: &JobSpec) -> Result<Schedule, ConfigError> {
    let cron_var = format!("LOOPS_CRON_{}", spec.schedule_suffix);
    let interval_var = format!("LOOPS_INTERVAL_MS_{}", spec.schedule_suffix);
    let invalid = |var: &str, value: String, reason: String| ConfigError::Invalid {
        var: var.to_string(),
        value,
        reason,
    };
    match (env.raw(&cron_var), env.optional::<u64>(&interval_var)?) {
        (Some(cron), Some(ms)) => Err(invalid(
            &cron_var,
            cron,
            format!("set either {cron_var} or {interval_var} (= {ms}), not both"),
        )),
        (Some(cron), None) => {
            Schedule::cron(&cron).map_err(|e| invalid(&cron_var, cron.clone(), e.to_string()))
        }
        (None, Some(ms)) => Schedule::every(Duration::from_millis(ms))
            .map_err(|e| invalid(&interval_var, ms.to_string(), e.to_string())),
        (None, None) => {
            Ok(Schedule::cron(spec.default_cron).expect("catalogue schedules are valid (tested)"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{MARKET_UPDATER, TAKE_FAST_SYNC_SNAPSHOT, TRACK_LAG};

    fn settings(pairs: &[(&str, &str)]) -> Result<RoundtableSettings, ConfigError> {
        RoundtableSettings::from_env(
            &Env::from_pairs(pairs.iter().copied()),
            Duration::from_secs(10),
        )
    }

    #[test]
    fn defaults_follow_the_catalogue_and_aws_jobs_never_run() {
        let s = settings(&[]).unwrap();
        let market = s.job(MARKET_UPDATER).unwrap();
        assert!(market.enabled);
        assert_eq!(market.config.lock_multiplier, 10);
        assert!(!s.job(TRACK_LAG).unwrap().enabled);
        assert!(!s.job(TAKE_FAST_SYNC_SNAPSHOT).unwrap().enabled);
        let forced = settings(&[("LOOPS_ENABLED_TAKE_FAST_SYNC_SNAPSHOTS", "true")]).unwrap();
        assert!(forced.job(TAKE_FAST_SYNC_SNAPSHOT).unwrap().enabled);
        assert!(
            forced
                .runnable_jobs()
                .all(|j| j.spec.name != TAKE_FAST_SYNC_SNAPSHOT),
            "an AWS job is not scheduled without an AWS account"
        );
        let aws = settings(&[
            ("LOOPS_ENABLED_TAKE_FAST_SYNC_SNAPSHOTS", "true"),
            ("LOOPS_ENABLED_UPDATE_RESEARCH_ENVIRONMENT", "true"),
            ("AWS_REGION", "us-east-1"),
            ("RDS_INSTANCE_NAME", "indexer"),
            ("AWS_ACCESS_KEY_ID", "key"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ])
        .unwrap();
        let runnable: Vec<&str> = aws.runnable_jobs().map(|j| j.spec.name).collect();
        assert!(runnable.contains(&TAKE_FAST_SYNC_SNAPSHOT));
        assert!(
            !runnable.contains(&UPDATE_RESEARCH_ENVIRONMENT),
            "the export also needs its bucket, key and role"
        );
        assert_eq!(s.compliance_provider, ComplianceProvider::None);
    }

    #[test]
    fn track_lag_turns_on_when_a_node_url_is_configured() {
        let s = settings(&[("TRACK_LAG_VALIDATOR_URL", "http://validator:26657")]).unwrap();
        assert!(s.job(TRACK_LAG).unwrap().enabled);
        let off = settings(&[
            ("TRACK_LAG_VALIDATOR_URL", "http://validator:26657"),
            ("LOOPS_ENABLED_TRACK_LAG", "false"),
        ])
        .unwrap();
        assert!(!off.job(TRACK_LAG).unwrap().enabled);
    }

    #[test]
    fn schedules_come_from_cron_or_the_reference_interval_but_not_both() {
        let s = settings(&[("LOOPS_CRON_MARKET_UPDATER", "0 * * * * *")]).unwrap();
        assert_eq!(
            s.job(MARKET_UPDATER).unwrap().config.schedule.describe(),
            "cron \"0 * * * * *\""
        );
        let s = settings(&[("LOOPS_INTERVAL_MS_MARKET_UPDATER", "45000")]).unwrap();
        assert!(matches!(
            s.job(MARKET_UPDATER).unwrap().config.schedule,
            Schedule::Every(d) if d == Duration::from_secs(45)
        ));
        let both = settings(&[
            ("LOOPS_CRON_MARKET_UPDATER", "0 * * * * *"),
            ("LOOPS_INTERVAL_MS_MARKET_UPDATER", "45000"),
        ])
        .unwrap_err();
        assert!(both.to_string().contains("not both"), "{both}");
        let bad = settings(&[("LOOPS_CRON_MARKET_UPDATER", "often")]).unwrap_err();
        assert!(
            matches!(bad, ConfigError::Invalid { ref var, .. } if var == "LOOPS_CRON_MARKET_UPDATER")
        );
    }

    #[test]
    fn unknown_compliance_client_names_the_variable() {
        let error = settings(&[("COMPLIANCE_DATA_CLIENT", "acme")]).unwrap_err();
        assert!(
            matches!(error, ConfigError::Invalid { ref var, .. } if var == "COMPLIANCE_DATA_CLIENT")
        );
    }
}
