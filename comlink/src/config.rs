//! comlink's settings from the environment (names as in the reference where the concept is the
//! same; ops.md §4.2 and serve.md Appendix D).

use std::time::Duration;

use indexer_base::config::{ConfigError, Env, PostgresSettings, RedisSettings};
use indexer_query::vaults::VaultPnlWindow;

use crate::rate_limit::{Limiter, LimiterSettings};
use crate::routes::CacheFamily;

/// Everything comlink reads from the environment besides the base settings.
///
/// | Var | Default | Meaning |
/// |---|---|---|
/// | `PORT` / `HOST` | 8080 / 0.0.0.0 | public API listener |
/// | `CORS_ORIGIN` | `*` | `Access-Control-Allow-Origin` |
/// | `LOG_GETS` | false | also log successful GETs |
/// | `API_LIMIT_V4` | 1000 | default and maximum `limit` |
/// | `API_ORDERBOOK_LEVELS_PER_SIDE_LIMIT` | 100 | REST order-book depth |
/// | `MARKET_CACHE_REFRESH_MS` | 30000 | market / liquidity-tier cache refresh |
/// | `HEIGHT_REFRESH_MS` | 200 | how often the indexed heights behind `X-Indexer-Height` are polled |
/// | `MIN_HEIGHT_WAIT_MS` | 1000 | how long a request with `minHeight` waits for the replica before trying the primary |
/// | `RATE_LIMIT_ENABLED` | true | Redis fixed-window limits of serve.md §2.5 |
/// | `RATE_LIMIT_<NAME>_POINTS` / `_DURATION_SECONDS` | see §2.5 | per limiter (`GET`, `ORDERS`, `FILLS`, `CANDLES`, `SPARKLINES`, `HISTORICAL_PNL`, `PNL`, `FUNDING`) |
/// | `INDEXER_INTERNAL_IPS` | empty | comma list of IPs that are never limited nor compliance-checked |
/// | `RATE_LIMIT_TRUST_PEER_ADDRESS` | true | limit by the TCP peer when no proxy header is present |
/// | `INDEXER_LEVEL_GEOBLOCKING_ENABLED` | false | require `Geo-Origin-Status: ok` on account routes |
/// | `COMPLIANCE_STATUS_CHECK_ENABLED` | true | 403 for addresses whose `compliance_status` is `BLOCKED` |
/// | `WHITELISTED_ADDRESSES` | empty | addresses that skip the compliance and geo checks |
/// | `CACHE_CONTROL_DIRECTIVE_<FAMILY>` | serve.md §2.7 | per route family |
/// | `VAULT_PNL_HISTORY_HOURS` / `_DAYS` | 72 / 90 | vault PnL history per resolution |
/// | `VAULT_PNL_START_DATE` | 2024-01-01T00:00:00Z | first vault tick; vault PnL counts from here |
/// | `VAULT_CACHE_TTL_MS` | 120000 | how long computed vault PnL is served from Redis |
/// | `EXPOSE_SET_COMPLIANCE_ENDPOINT` | false | serve `POST /v4/compliance/setStatus` (operators only) |
/// | `API_KEY_JWT_SECRET` / `API_KEY_JWT_ED25519_PUBLIC_KEY` | unset | bot API keys: HS256 secret / Ed25519 public key (base64 or hex); unset: off |
/// | `API_KEY_TIERS` | empty | `name:points` list for the `tier` claim of API keys |
#[derive(Debug, Clone)]
pub struct ComlinkSettings {
    pub host: String,
    pub port: u16,
    pub cors_origin: String,
    pub log_gets: bool,
    pub api_limit: u32,
    pub orderbook_levels_per_side: usize,
    pub market_refresh: Duration,
    pub height_refresh: Duration,
    pub min_height_wait: Duration,
    pub rate_limit_enabled: bool,
    pub limiters: Vec<(Limiter, LimiterSettings)>,
    pub internal_ips: Vec<String>,
    pub trust_peer_address: bool,
    pub geoblocking_enabled: bool,
    pub compliance_check_enabled: bool,
    pub whitelisted_addresses: Vec<String>,
    pub cache_control: Vec<(CacheFamily, String)>,
    pub vault_pnl_window: VaultPnlWindow,
    pub vault_cache_ttl: Duration,
    pub expose_set_compliance_endpoint: bool,
    /// Bot API keys; `None` when no key is configured (feature off).
    pub api_keys: Option<crate::auth::JwtSettings>,
    pub postgres: PostgresSettings,
    pub redis: RedisSettings,
    /// `/v4/graphql` limits and the Kafka feed of subscriptions (see [`crate::graphql`]).
    pub graphql: crate::graphql::GraphqlSettings,
}

impl ComlinkSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let limiters = Limiter::ALL
            .iter()
            .map(|limiter| {
                let (points, seconds) = limiter.defaults();
                let name = limiter.env_name();
                Ok((
                    *limiter,
                    LimiterSettings {
                        points: env.get(&format!("RATE_LIMIT_{name}_POINTS"), points)?,
                        duration: Duration::from_secs(
                            env.get(&format!("RATE_LIMIT_{name}_DURATION_SECONDS"), seconds)?,
                        ),
                    },
                ))
            })
            .collect::<Result<_, ConfigError>>()?;
        let cache_control = CacheFamily::ALL
            .iter()
            .map(|family| {
                let var = format!("CACHE_CONTROL_DIRECTIVE_{}", family.env_name());
                Ok((
                    *family,
                    env.get(&var, family.default_directive().to_owned())?,
                ))
            })
            .collect::<Result<_, ConfigError>>()?;
        Ok(Self {
            host: env.get("HOST", "0.0.0.0".to_owned())?,
            port: env.get("PORT", 8080)?,
            cors_origin: env.get("CORS_ORIGIN", "*".to_owned())?,
            log_gets: env.flag("LOG_GETS", false)?,
            api_limit: env.get("API_LIMIT_V4", indexer_query::API_LIMIT)?,
            orderbook_levels_per_side: env.get(
                "API_ORDERBOOK_LEVELS_PER_SIDE_LIMIT",
                indexer_query::orderbook::LEVELS_PER_SIDE,
            )?,
            market_refresh: env.millis("MARKET_CACHE_REFRESH_MS", 30_000)?,
            height_refresh: env.millis("HEIGHT_REFRESH_MS", 200)?,
            min_height_wait: env.millis("MIN_HEIGHT_WAIT_MS", 1_000)?,
            rate_limit_enabled: env.flag("RATE_LIMIT_ENABLED", true)?,
            limiters,
            internal_ips: env
                .list("INDEXER_INTERNAL_IPS")
                .into_iter()
                .map(|ip| ip.to_ascii_lowercase())
                .collect(),
            trust_peer_address: env.flag("RATE_LIMIT_TRUST_PEER_ADDRESS", true)?,
            geoblocking_enabled: env.flag("INDEXER_LEVEL_GEOBLOCKING_ENABLED", false)?,
            compliance_check_enabled: env.flag("COMPLIANCE_STATUS_CHECK_ENABLED", true)?,
            whitelisted_addresses: env.list("WHITELISTED_ADDRESSES"),
            cache_control,
            vault_pnl_window: vault_pnl_window(env)?,
            vault_cache_ttl: env.millis("VAULT_CACHE_TTL_MS", 120_000)?,
            expose_set_compliance_endpoint: env.flag("EXPOSE_SET_COMPLIANCE_ENDPOINT", false)?,
            api_keys: api_keys(env)?,
            postgres: PostgresSettings::from_env(env)?,
            redis: RedisSettings::from_env(env)?,
            graphql: crate::graphql::GraphqlSettings::from_env(env)?,
        })
    }

    pub fn limiter(&self, limiter: Limiter) -> LimiterSettings {
        self.limiters
            .iter()
            .find(|(l, _)| *l == limiter)
            .map(|(_, s)| *s)
            .unwrap_or_else(|| {
                let (points, seconds) = limiter.defaults();
                LimiterSettings {
                    points,
                    duration: Duration::from_secs(seconds),
                }
            })
    }

    pub fn cache_control(&self, family: CacheFamily) -> &str {
        self.cache_control
            .iter()
            .find(|(f, _)| *f == family)
            .map_or(family.default_directive(), |(_, d)| d.as_str())
    }
}

fn api_keys(env: &Env) -> Result<Option<crate::auth::JwtSettings>, ConfigError> {
    crate::auth::JwtSettings::from_parts(
        env.raw("API_KEY_JWT_SECRET"),
        env.raw("API_KEY_JWT_ED25519_PUBLIC_KEY"),
        &env.list("API_KEY_TIERS"),
    )
    .map_err(|error| ConfigError::Invalid {
        var: "API_KEY_*".to_owned(),
        value: String::new(),
        reason: error.to_string(),
    })
}

fn vault_pnl_window(env: &Env) -> Result<VaultPnlWindow, ConfigError> {
    let defaults = VaultPnlWindow::default();
    Ok(VaultPnlWindow {
        history_hours: env.get("VAULT_PNL_HISTORY_HOURS", defaults.history_hours)?,
        history_days: env.get("VAULT_PNL_HISTORY_DAYS", defaults.history_days)?,
        start_date: env.get("VAULT_PNL_START_DATE", defaults.start_date)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_spec() {
        let settings = ComlinkSettings::from_env(&Env::from_pairs([("X", "1")])).unwrap();
        assert_eq!(settings.port, 8080);
        assert_eq!(settings.api_limit, 1000);
        assert!(!settings.geoblocking_enabled);
        assert!(settings.compliance_check_enabled);
        assert_eq!(settings.limiter(Limiter::Candles).points, 1000);
        assert_eq!(
            settings.limiter(Limiter::Get).duration,
            Duration::from_secs(10)
        );
        assert_eq!(
            settings.cache_control(CacheFamily::Time),
            "no-cache, no-store, no-transform"
        );
    }

    #[test]
    fn limits_and_directives_are_configurable() {
        let env = Env::from_pairs([
            ("RATE_LIMIT_FILLS_POINTS", "5"),
            ("CACHE_CONTROL_DIRECTIVE_TRADES", "no-store"),
            ("INDEXER_INTERNAL_IPS", "10.0.0.1, FE80::1"),
        ]);
        let settings = ComlinkSettings::from_env(&env).unwrap();
        assert_eq!(settings.limiter(Limiter::Fills).points, 5);
        assert_eq!(settings.cache_control(CacheFamily::Trades), "no-store");
        assert_eq!(settings.internal_ips, ["10.0.0.1", "fe80::1"]);
    }
}
