//! Every job of the reference (ops.md §1.3) with its configuration names and defaults.
//!
//! Names are snake_case throughout (the reference mixes hyphens and underscores); a name is part
//! of the job's Redis lock keys and metric labels. Default schedules are cron expressions equal
//! to the reference's intervals.

use crate::scheduler::Budget;

/// How a job is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobSpec {
    pub name: &'static str,
    /// Boolean that turns the job on (the reference's variable name).
    pub enable_var: &'static str,
    /// Default of `enable_var` (`None`: decided by other settings, see [`DefaultOn`]).
    pub default_on: DefaultOn,
    /// Suffix of `LOOPS_INTERVAL_MS_<suffix>` (reference) and `LOOPS_CRON_<suffix>` (ours).
    pub schedule_suffix: &'static str,
    /// Default schedule (UTC, with seconds).
    pub default_cron: &'static str,
    /// Variable of the no-overlap lock multiplier, where the reference has one, and its default.
    pub lock_multiplier: (Option<&'static str>, u32),
    pub budget: Budget,
    pub kind: JobKind,
}

/// A job's default enablement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultOn {
    Yes,
    No,
    /// On when at least one `TRACK_LAG_*_URL` is set.
    WhenLagUrlsSet,
    /// On when a compliance provider other than `NONE` is configured.
    WhenComplianceProviderSet,
}

/// What a job needs to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Postgres, Redis and Kafka only.
    Core,
    /// Needs an AWS account (the AWS settings of [`crate::aws`]); enabled without them, the
    /// job is not scheduled and start-up only logs a warning.
    Aws(&'static str),
}

const fn job(
    name: &'static str,
    enable_var: &'static str,
    default_on: DefaultOn,
    schedule_suffix: &'static str,
    default_cron: &'static str,
) -> JobSpec {
    JobSpec {
        name,
        enable_var,
        default_on,
        schedule_suffix,
        default_cron,
        lock_multiplier: (None, 1),
        budget: Budget::Regular,
        kind: JobKind::Core,
    }
}

impl JobSpec {
    const fn multiplier(mut self, var: &'static str, default: u32) -> Self {
        self.lock_multiplier = (Some(var), default);
        self
    }

    const fn backfill(mut self) -> Self {
        self.budget = Budget::Backfill;
        self
    }

    const fn aws(mut self, what: &'static str) -> Self {
        self.kind = JobKind::Aws(what);
        self
    }
}

use DefaultOn::{No, WhenComplianceProviderSet, WhenLagUrlsSet, Yes};

const EVERY_10_S: &str = "*/10 * * * * *";
const EVERY_15_S: &str = "*/15 * * * * *";
const EVERY_30_S: &str = "*/30 * * * * *";
const EVERY_MINUTE: &str = "0 * * * * *";
const EVERY_2_MIN: &str = "0 */2 * * * *";
const EVERY_5_MIN: &str = "0 */5 * * * *";
const HOURLY: &str = "0 0 * * * *";
const EVERY_4_H: &str = "0 0 */4 * * *";
const DAILY: &str = "0 0 0 * * *";
const MONTHLY: &str = "0 0 0 1 * *";

pub const MARKET_UPDATER: &str = "market_updater";
pub const DELETE_ZERO_PRICE_LEVELS: &str = "delete_zero_price_levels";
pub const UNCROSS_ORDERBOOK: &str = "uncross_orderbook";
pub const CREATE_PNL_TICKS: &str = "create_pnl_ticks";
pub const REMOVE_EXPIRED_ORDERS: &str = "remove_expired_orders";
pub const ORDERBOOK_INSTRUMENTATION: &str = "orderbook_instrumentation";
pub const PNL_INSTRUMENTATION: &str = "pnl_instrumentation";
pub const CANCEL_STALE_ORDERS: &str = "cancel_stale_orders";
pub const UPDATE_RESEARCH_ENVIRONMENT: &str = "update_research_environment";
pub const TAKE_FAST_SYNC_SNAPSHOT: &str = "take_fast_sync_snapshot";
pub const DELETE_OLD_FAST_SYNC_SNAPSHOTS: &str = "delete_old_fast_sync_snapshots";
pub const UPDATE_COMPLIANCE_DATA: &str = "update_compliance_data";
pub const UPDATE_COMPLIANCE_STATUS: &str = "update_compliance_status";
pub const TRACK_LAG: &str = "track_lag";
pub const REMOVE_OLD_ORDER_UPDATES: &str = "remove_old_order_updates";
pub const AGGREGATE_TRADING_REWARDS_DAILY: &str = "aggregate_trading_rewards_daily";
pub const AGGREGATE_TRADING_REWARDS_WEEKLY: &str = "aggregate_trading_rewards_weekly";
pub const AGGREGATE_TRADING_REWARDS_MONTHLY: &str = "aggregate_trading_rewards_monthly";
pub const SUBACCOUNT_USERNAME_GENERATOR: &str = "subaccount_username_generator";
pub const LEADERBOARD_PNL_ALL_TIME: &str = "create_leaderboard_pnl_all_time";
pub const LEADERBOARD_PNL_ONE_DAY: &str = "create_leaderboard_pnl_one_day";
pub const LEADERBOARD_PNL_SEVEN_DAYS: &str = "create_leaderboard_pnl_seven_days";
pub const LEADERBOARD_PNL_THIRTY_DAYS: &str = "create_leaderboard_pnl_thirty_days";
pub const LEADERBOARD_PNL_ONE_YEAR: &str = "create_leaderboard_pnl_one_year";
pub const UPDATE_WALLET_TOTAL_VOLUME: &str = "update_wallet_total_volume";
pub const UPDATE_AFFILIATE_INFO: &str = "update_affiliate_info";
pub const DELETE_OLD_FIREBASE_NOTIFICATION_TOKENS: &str = "delete_old_firebase_notification_tokens";
pub const REFRESH_VAULT_PNL: &str = "refresh_vault_pnl";
pub const CACHE_ORDERBOOK_MID_PRICES: &str = "cache_orderbook_mid_prices";
pub const UPDATE_FUNDING_PAYMENTS: &str = "update_funding_payments";
pub const UPDATE_PNL: &str = "update_pnl";

/// The catalogue, in the reference's order.
pub const JOBS: &[JobSpec] = &[
    job(
        MARKET_UPDATER,
        "LOOPS_ENABLED_MARKET_UPDATER",
        Yes,
        "MARKET_UPDATER",
        EVERY_30_S,
    )
    .multiplier("MARKET_UPDATER_LOCK_MULTIPLIER", 10),
    job(
        DELETE_ZERO_PRICE_LEVELS,
        "LOOPS_ENABLED_DELETE_ZERO_PRICE_LEVELS",
        Yes,
        "DELETE_ZERO_PRICE_LEVELS",
        EVERY_2_MIN,
    )
    .multiplier("DELETE_ZERO_PRICE_LEVELS_LOCK_MULTIPLIER", 1),
    job(
        UNCROSS_ORDERBOOK,
        "LOOPS_ENABLED_UNCROSS_ORDERBOOK",
        Yes,
        "UNCROSS_ORDERBOOK",
        EVERY_15_S,
    )
    .multiplier("UNCROSS_ORDERBOOK_LOCK_MULTIPLIER", 1),
    job(
        CREATE_PNL_TICKS,
        "LOOPS_ENABLED_PNL_TICKS",
        Yes,
        "PNL_TICKS",
        EVERY_30_S,
    )
    .multiplier("PNL_TICK_UPDATE_LOCK_MULTIPLIER", 20)
    .backfill(),
    job(
        REMOVE_EXPIRED_ORDERS,
        "LOOPS_ENABLED_REMOVE_EXPIRED_ORDERS",
        Yes,
        "REMOVE_EXPIRED_ORDERS",
        EVERY_2_MIN,
    ),
    job(
        ORDERBOOK_INSTRUMENTATION,
        "LOOPS_ORDERBOOK_INSTRUMENTATION",
        Yes,
        "ORDERBOOK_INSTRUMENTATION",
        EVERY_MINUTE,
    ),
    job(
        PNL_INSTRUMENTATION,
        "LOOPS_PNL_INSTRUMENTATION",
        Yes,
        "PNL_INSTRUMENTATION",
        HOURLY,
    ),
    job(
        CANCEL_STALE_ORDERS,
        "LOOPS_CANCEL_STALE_ORDERS",
        Yes,
        "CANCEL_STALE_ORDERS",
        EVERY_30_S,
    ),
    job(
        UPDATE_RESEARCH_ENVIRONMENT,
        "LOOPS_ENABLED_UPDATE_RESEARCH_ENVIRONMENT",
        No,
        "UPDATE_RESEARCH_ENVIRONMENT",
        HOURLY,
    )
    .aws("RDS snapshot export to S3, Athena"),
    // On by default in the reference, which then fails on every run outside AWS.
    job(
        TAKE_FAST_SYNC_SNAPSHOT,
        "LOOPS_ENABLED_TAKE_FAST_SYNC_SNAPSHOTS",
        No,
        "TAKE_FAST_SYNC_SNAPSHOTS",
        EVERY_4_H,
    )
    .aws("RDS snapshots"),
    job(
        DELETE_OLD_FAST_SYNC_SNAPSHOTS,
        "LOOPS_ENABLED_DELETE_OLD_FAST_SYNC_SNAPSHOTS",
        No,
        "DELETE_OLD_FAST_SYNC_SNAPSHOTS",
        DAILY,
    )
    .aws("RDS snapshots"),
    // Always on in the reference (failing every run without a vendor key); ours needs a
    // provider.
    job(
        UPDATE_COMPLIANCE_DATA,
        "LOOPS_ENABLED_UPDATE_COMPLIANCE_DATA",
        WhenComplianceProviderSet,
        "UPDATE_COMPLIANCE_DATA",
        EVERY_5_MIN,
    ),
    job(
        UPDATE_COMPLIANCE_STATUS,
        "LOOPS_ENABLED_UPDATE_COMPLIANCE_STATUS",
        Yes,
        "PERFORM_COMPLIANCE_STATUS_TRANSITIONS",
        HOURLY,
    ),
    job(
        TRACK_LAG,
        "LOOPS_ENABLED_TRACK_LAG",
        WhenLagUrlsSet,
        "TRACK_LAG",
        EVERY_10_S,
    ),
    job(
        REMOVE_OLD_ORDER_UPDATES,
        "LOOPS_ENABLED_REMOVE_OLD_ORDER_UPDATES",
        Yes,
        "REMOVE_OLD_ORDER_UPDATES",
        EVERY_30_S,
    ),
    job(
        AGGREGATE_TRADING_REWARDS_DAILY,
        "LOOPS_ENABLED_AGGREGATE_TRADING_REWARDS_DAILY",
        Yes,
        "AGGREGATE_TRADING_REWARDS",
        EVERY_30_S,
    )
    .backfill(),
    job(
        AGGREGATE_TRADING_REWARDS_WEEKLY,
        "LOOPS_ENABLED_AGGREGATE_TRADING_REWARDS_WEEKLY",
        Yes,
        "AGGREGATE_TRADING_REWARDS",
        EVERY_30_S,
    )
    .backfill(),
    job(
        AGGREGATE_TRADING_REWARDS_MONTHLY,
        "LOOPS_ENABLED_AGGREGATE_TRADING_REWARDS_MONTHLY",
        Yes,
        "AGGREGATE_TRADING_REWARDS",
        EVERY_30_S,
    )
    .backfill(),
    job(
        SUBACCOUNT_USERNAME_GENERATOR,
        "LOOPS_ENABLED_SUBACCOUNT_USERNAME_GENERATOR",
        Yes,
        "SUBACCOUNT_USERNAME_GENERATOR",
        EVERY_30_S,
    )
    .multiplier("SUBACCOUNT_USERNAME_GENERATOR_LOCK_MULTIPLIER", 5),
    job(
        LEADERBOARD_PNL_ALL_TIME,
        "LOOPS_ENABLED_LEADERBOARD_PNL_ALL_TIME",
        No,
        "LEADERBOARD_PNL_ALL_TIME",
        EVERY_30_S,
    )
    .backfill(),
    job(
        LEADERBOARD_PNL_ONE_DAY,
        "LOOPS_ENABLED_LEADERBOARD_PNL_DAILY",
        No,
        "LEADERBOARD_PNL_DAILY",
        EVERY_30_S,
    )
    .backfill(),
    job(
        LEADERBOARD_PNL_SEVEN_DAYS,
        "LOOPS_ENABLED_LEADERBOARD_PNL_WEEKLY",
        No,
        "LEADERBOARD_PNL_WEEKLY",
        EVERY_30_S,
    )
    .backfill(),
    job(
        LEADERBOARD_PNL_THIRTY_DAYS,
        "LOOPS_ENABLED_LEADERBOARD_PNL_MONTHLY",
        No,
        "LEADERBOARD_PNL_MONTHLY",
        EVERY_30_S,
    )
    .backfill(),
    job(
        LEADERBOARD_PNL_ONE_YEAR,
        "LOOPS_ENABLED_LEADERBOARD_PNL_YEARLY",
        No,
        "LEADERBOARD_PNL_YEARLY",
        EVERY_30_S,
    )
    .backfill(),
    job(
        UPDATE_WALLET_TOTAL_VOLUME,
        "LOOPS_ENABLED_UPDATE_WALLET_TOTAL_VOLUME",
        Yes,
        "UPDATE_WALLET_TOTAL_VOLUME",
        EVERY_30_S,
    )
    .backfill(),
    job(
        UPDATE_AFFILIATE_INFO,
        "LOOPS_ENABLED_UPDATE_AFFILIATE_INFO",
        Yes,
        "UPDATE_AFFILIATE_INFO",
        EVERY_30_S,
    )
    .backfill(),
    job(
        DELETE_OLD_FIREBASE_NOTIFICATION_TOKENS,
        "LOOPS_ENABLED_DELETE_OLD_FIREBASE_NOTIFICATION_TOKENS",
        Yes,
        "DELETE_FIREBASE_NOTIFICATION_TOKENS_MONTHLY",
        MONTHLY,
    ),
    job(
        REFRESH_VAULT_PNL,
        "LOOPS_ENABLED_REFRESH_VAULT_PNL",
        Yes,
        "REFRESH_VAULT_PNL",
        EVERY_5_MIN,
    ),
    job(
        CACHE_ORDERBOOK_MID_PRICES,
        "LOOPS_ENABLED_CACHE_ORDERBOOK_MID_PRICES",
        Yes,
        "CACHE_ORDERBOOK_MID_PRICES",
        EVERY_10_S,
    ),
    job(
        UPDATE_FUNDING_PAYMENTS,
        "LOOPS_ENABLED_UPDATE_FUNDING_PAYMENTS",
        Yes,
        "UPDATE_FUNDING_PAYMENTS",
        EVERY_MINUTE,
    )
    .multiplier("UPDATE_FUNDING_PAYMENTS_LOCK_MULTIPLIER", 3)
    .backfill(),
    job(
        UPDATE_PNL,
        "LOOPS_ENABLED_UPDATE_PNL",
        Yes,
        "UPDATE_PNL",
        EVERY_MINUTE,
    )
    .multiplier("UPDATE_PNL_LOCK_MULTIPLIER", 3)
    .backfill(),
];

/// The catalogue entry of `name`.
pub fn spec(name: &str) -> Option<&'static JobSpec> {
    JOBS.iter().find(|spec| spec.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::Schedule;

    #[test]
    fn every_default_schedule_parses_and_names_are_unique() {
        let mut names = std::collections::HashSet::new();
        for spec in JOBS {
            Schedule::cron(spec.default_cron).unwrap_or_else(|e| panic!("{}: {e}", spec.name));
            assert!(names.insert(spec.name), "duplicate job {}", spec.name);
            assert!(
                spec.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_'),
                "{} is not snake_case",
                spec.name
            );
        }
    }

    #[test]
    fn default_schedules_equal_the_reference_intervals() {
        let period = |name: &str| {
            let schedule = Schedule::cron(spec(name).unwrap().default_cron).unwrap();
            let tick = schedule.next_after(chrono::Utc::now()).unwrap();
            schedule.period_at(tick).as_secs()
        };
        assert_eq!(period(MARKET_UPDATER), 30);
        assert_eq!(period(UNCROSS_ORDERBOOK), 15);
        assert_eq!(period(REMOVE_EXPIRED_ORDERS), 120);
        assert_eq!(period(CACHE_ORDERBOOK_MID_PRICES), 10);
        assert_eq!(period(UPDATE_FUNDING_PAYMENTS), 60);
        assert_eq!(period(TAKE_FAST_SYNC_SNAPSHOT), 4 * 3600);
    }
}
