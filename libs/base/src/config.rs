//! Configuration from environment variables.
//!
//! Every service builds one typed struct from the shared sections below plus its own fields.
//! Variable names follow the reference indexer where the concept is the same, so dYdX runbooks
//! still apply. A bad value is an error that names the variable; a missing optional variable
//! takes the documented default.

use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

/// A configuration value could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {var} is required but not set")]
    Missing { var: String },
    #[error("environment variable {var}={value:?} is invalid: {reason}")]
    Invalid {
        var: String,
        value: String,
        reason: String,
    },
}

/// Reads variables from the process environment, or from a fixed map in tests.
#[derive(Debug, Clone, Default)]
pub struct Env {
    overrides: Option<std::collections::HashMap<String, String>>,
}

impl Env {
    /// The real process environment.
    pub fn process() -> Self {
        Self { overrides: None }
    }

    /// A fixed set of variables (tests); nothing is read from the process.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            overrides: Some(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            ),
        }
    }

    /// The raw value; an empty string counts as unset.
    pub fn raw(&self, var: &str) -> Option<String> {
        let value = match &self.overrides {
            Some(map) => map.get(var).cloned(),
            None => std::env::var(var).ok(),
        };
        value.filter(|v| !v.trim().is_empty())
    }

    /// `var` parsed, or `default` when unset.
    pub fn get<T>(&self, var: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        Ok(self.optional(var)?.unwrap_or(default))
    }

    /// `var` parsed, or `None` when unset.
    pub fn optional<T>(&self, var: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.raw(var) {
            None => Ok(None),
            Some(value) => value
                .trim()
                .parse::<T>()
                .map(Some)
                .map_err(|e| ConfigError::Invalid {
                    var: var.to_string(),
                    value: value.clone(),
                    reason: e.to_string(),
                }),
        }
    }

    /// `var` parsed; an error when unset.
    pub fn required<T>(&self, var: &str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.optional(var)?.ok_or_else(|| ConfigError::Missing {
            var: var.to_string(),
        })
    }

    /// A boolean: true/false, 1/0, yes/no (any case).
    pub fn flag(&self, var: &str, default: bool) -> Result<bool, ConfigError> {
        match self.raw(var) {
            None => Ok(default),
            Some(value) => match value.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(ConfigError::Invalid {
                    var: var.to_string(),
                    value,
                    reason: "expected true or false".to_string(),
                }),
            },
        }
    }

    /// A duration given in milliseconds.
    pub fn millis(&self, var: &str, default_ms: u64) -> Result<Duration, ConfigError> {
        Ok(Duration::from_millis(self.get(var, default_ms)?))
    }

    /// A comma-separated list; empty items are dropped.
    pub fn list(&self, var: &str) -> Vec<String> {
        self.raw(var)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Which deployment this is; destructive admin commands refuse outside `development`/`test`
/// unless forced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Test,
    Staging,
    Testnet,
    Production,
}

impl Environment {
    /// Whether state may be wiped without `--force`.
    pub fn is_disposable(self) -> bool {
        matches!(self, Environment::Development | Environment::Test)
    }
}

impl FromStr for Environment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "development" | "dev" => Ok(Self::Development),
            "test" => Ok(Self::Test),
            "staging" => Ok(Self::Staging),
            "testnet" => Ok(Self::Testnet),
            "production" | "mainnet" | "prod" => Ok(Self::Production),
            other => Err(format!(
                "unknown environment {other:?}; expected development, test, staging, testnet or production"
            )),
        }
    }
}

impl Display for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Development => "development",
            Self::Test => "test",
            Self::Staging => "staging",
            Self::Testnet => "testnet",
            Self::Production => "production",
        })
    }
}

/// Settings every service has.
///
/// | Var | Default |
/// |---|---|
/// | `SERVICE_NAME` | the binary's name |
/// | `NODE_ENV` | development |
/// | `LOG_LEVEL` | info (a tracing `EnvFilter` directive or a syslog level name; `RUST_LOG` wins when set) |
/// | `LOG_FORMAT` | human in development/test, json otherwise (`human` or `json`) |
/// | `ADMIN_PORT` | per service (see each service's README) |
/// | `ADMIN_HOST` | 0.0.0.0 |
/// | `BUGSNAG_KEY` | unset (or the reference's all-zero dummy) = reporting off |
/// | `BUGSNAG_ENDPOINT` | https://notify.bugsnag.com |
/// | `BUGSNAG_RELEASE_STAGE` | the value of `NODE_ENV` |
/// | `SEND_BUGSNAG_ERRORS` | true |
/// | `SHUTDOWN_TIMEOUT_MS` | 10000 |
#[derive(Debug, Clone)]
pub struct BaseSettings {
    pub service_name: String,
    pub environment: Environment,
    pub log_level: String,
    pub log_json: bool,
    pub admin_host: String,
    pub admin_port: u16,
    pub bugsnag_key: Option<String>,
    pub bugsnag_endpoint: String,
    pub bugsnag_release_stage: String,
    pub shutdown_timeout: Duration,
}

impl BaseSettings {
    pub fn from_env(
        env: &Env,
        service_name: &str,
        default_admin_port: u16,
    ) -> Result<Self, ConfigError> {
        let environment: Environment = env.get("NODE_ENV", Environment::Development)?;
        let log_format = env.raw("LOG_FORMAT").map(|f| f.trim().to_ascii_lowercase());
        let log_json = match log_format.as_deref() {
            None => !environment.is_disposable(),
            Some("json") => true,
            Some("human") | Some("pretty") | Some("text") => false,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    var: "LOG_FORMAT".into(),
                    value: other.into(),
                    reason: "expected human or json".into(),
                })
            }
        };
        let send = env.flag("SEND_BUGSNAG_ERRORS", true)?;
        Ok(Self {
            service_name: env.get("SERVICE_NAME", service_name.to_string())?,
            environment,
            log_level: env.get("LOG_LEVEL", "info".to_string())?,
            log_json,
            admin_host: env.get("ADMIN_HOST", "0.0.0.0".to_string())?,
            admin_port: env.get("ADMIN_PORT", default_admin_port)?,
            bugsnag_key: if send {
                env.raw("BUGSNAG_KEY").filter(|k| !is_dummy_key(k))
            } else {
                None
            },
            bugsnag_endpoint: env
                .get("BUGSNAG_ENDPOINT", "https://notify.bugsnag.com".to_string())?,
            bugsnag_release_stage: env.get("BUGSNAG_RELEASE_STAGE", environment.to_string())?,
            shutdown_timeout: env.millis("SHUTDOWN_TIMEOUT_MS", 10_000)?,
        })
    }
}

/// The reference defaults `BUGSNAG_KEY` to 32 zeros; copied configs must not send to it.
fn is_dummy_key(key: &str) -> bool {
    key.trim().chars().all(|c| c == '0')
}

/// Postgres connection settings.
///
/// | Var | Default |
/// |---|---|
/// | `DATABASE_URL` | built from the `DB_*` variables below |
/// | `DB_HOSTNAME` / `DB_PORT` | 127.0.0.1 / 5432 |
/// | `DB_NAME` / `DB_USERNAME` / `DB_PASSWORD` | indexer / postgres / (empty) |
/// | `DB_READONLY_URL` or `DB_READONLY_HOSTNAME` | unset = reads use the primary |
/// | `PG_POOL_MIN` / `PG_POOL_MAX` | 1 / 10 |
/// | `PG_ACQUIRE_CONNECTION_TIMEOUT_MS` | 10000 |
#[derive(Debug, Clone)]
pub struct PostgresSettings {
    pub url: String,
    pub readonly_url: Option<String>,
    pub pool_min: u32,
    pub pool_max: u32,
    pub acquire_timeout: Duration,
}

impl PostgresSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let host: String = env.get("DB_HOSTNAME", "127.0.0.1".to_string())?;
        let port: u16 = env.get("DB_PORT", 5432)?;
        let name: String = env.get("DB_NAME", "indexer".to_string())?;
        let user: String = env.get("DB_USERNAME", "postgres".to_string())?;
        let password = env.raw("DB_PASSWORD").unwrap_or_default();
        // Credentials may hold URL delimiters (`@`, `/`, `:`), which must not split the URL.
        let (user, password) = (percent_encode(&user), percent_encode(&password));
        let url_for = |host: &str| {
            if password.is_empty() {
                format!("postgres://{user}@{host}:{port}/{name}")
            } else {
                format!("postgres://{user}:{password}@{host}:{port}/{name}")
            }
        };
        let url = env.raw("DATABASE_URL").unwrap_or_else(|| url_for(&host));
        let readonly_url = env
            .raw("DB_READONLY_URL")
            .or_else(|| env.raw("DB_READONLY_HOSTNAME").map(|h| url_for(&h)));
        Ok(Self {
            url,
            readonly_url,
            pool_min: env.get("PG_POOL_MIN", 1)?,
            pool_max: env.get("PG_POOL_MAX", 10)?,
            acquire_timeout: env.millis("PG_ACQUIRE_CONNECTION_TIMEOUT_MS", 10_000)?,
        })
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Redis connection settings.
///
/// | Var | Default |
/// |---|---|
/// | `REDIS_URL` | redis://127.0.0.1:6379 |
/// | `REDIS_READONLY_URL` | the value of `REDIS_URL` |
/// | `RATE_LIMIT_REDIS_URL` | the value of `REDIS_URL` |
/// | `REDIS_KEY_PREFIX` | empty (keys exactly as in the spec's catalogue; tests set a unique prefix) |
#[derive(Debug, Clone)]
pub struct RedisSettings {
    pub url: String,
    pub readonly_url: String,
    pub rate_limit_url: String,
    pub key_prefix: String,
}

impl RedisSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let url: String = env.get("REDIS_URL", "redis://127.0.0.1:6379".to_string())?;
        Ok(Self {
            readonly_url: env.get("REDIS_READONLY_URL", url.clone())?,
            rate_limit_url: env.get("RATE_LIMIT_REDIS_URL", url.clone())?,
            key_prefix: env.raw("REDIS_KEY_PREFIX").unwrap_or_default(),
            url,
        })
    }
}

/// Kafka connection settings.
///
/// | Var | Default |
/// |---|---|
/// | `KAFKA_BROKER_URLS` | 127.0.0.1:9092 (comma-separated) |
/// | `KAFKA_TOPIC_PREFIX` | empty (tests set a unique prefix so suites do not share topics) |
/// | `KAFKA_CONNECTION_TIMEOUT_MS` | 5000 |
/// | `KAFKA_SESSION_TIMEOUT_MS` | 60000 |
/// | `KAFKA_HEARTBEAT_INTERVAL_MS` | 5000 |
/// | `KAFKA_ENABLE_UNIQUE_CONSUMER_GROUP_IDS` | false |
/// | `KAFKA_MAX_BATCH_WEBSOCKET_MESSAGE_SIZE_BYTES` | 900000 |
/// | `KAFKA_REPLICATION_FACTOR` | 1 (production: 3) |
#[derive(Debug, Clone)]
pub struct KafkaSettings {
    pub brokers: String,
    pub topic_prefix: String,
    pub connection_timeout: Duration,
    pub session_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub unique_consumer_group: bool,
    pub max_batch_bytes: usize,
    pub replication_factor: i32,
}

impl KafkaSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            brokers: env.get("KAFKA_BROKER_URLS", "127.0.0.1:9092".to_string())?,
            topic_prefix: env.raw("KAFKA_TOPIC_PREFIX").unwrap_or_default(),
            connection_timeout: env.millis("KAFKA_CONNECTION_TIMEOUT_MS", 5_000)?,
            session_timeout: env.millis("KAFKA_SESSION_TIMEOUT_MS", 60_000)?,
            heartbeat_interval: env.millis("KAFKA_HEARTBEAT_INTERVAL_MS", 5_000)?,
            unique_consumer_group: env.flag("KAFKA_ENABLE_UNIQUE_CONSUMER_GROUP_IDS", false)?,
            max_batch_bytes: env.get("KAFKA_MAX_BATCH_WEBSOCKET_MESSAGE_SIZE_BYTES", 900_000)?,
            replication_factor: env.get("KAFKA_REPLICATION_FACTOR", 1)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_unset() {
        let env = Env::from_pairs(Vec::<(String, String)>::new());
        let pg = PostgresSettings::from_env(&env).unwrap();
        assert_eq!(pg.url, "postgres://postgres@127.0.0.1:5432/indexer");
        assert_eq!(pg.readonly_url, None);
        let kafka = KafkaSettings::from_env(&env).unwrap();
        assert_eq!(kafka.brokers, "127.0.0.1:9092");
    }

    #[test]
    fn bad_value_names_the_variable() {
        let env = Env::from_pairs([("DB_PORT", "fifty")]);
        let err = PostgresSettings::from_env(&env).unwrap_err();
        assert!(err.to_string().contains("DB_PORT"), "{err}");
        assert!(matches!(err, ConfigError::Invalid { ref var, .. } if var == "DB_PORT"));
    }

    #[test]
    fn missing_required_names_the_variable() {
        let env = Env::from_pairs([("X", "1")]);
        let err = env.required::<u32>("ENDER_START_HEIGHT").unwrap_err();
        assert_eq!(
            err,
            ConfigError::Missing {
                var: "ENDER_START_HEIGHT".into()
            }
        );
    }

    #[test]
    fn bugsnag_off_without_key_and_when_disabled() {
        let env = Env::from_pairs([("SEND_BUGSNAG_ERRORS", "false"), ("BUGSNAG_KEY", "abc")]);
        assert_eq!(
            BaseSettings::from_env(&env, "ender", 9001)
                .unwrap()
                .bugsnag_key,
            None
        );
        let env = Env::from_pairs([("BUGSNAG_KEY", "abc")]);
        assert_eq!(
            BaseSettings::from_env(&env, "ender", 9001)
                .unwrap()
                .bugsnag_key
                .as_deref(),
            Some("abc")
        );
    }

    #[test]
    fn password_with_url_delimiters_stays_in_the_password() {
        let env = Env::from_pairs([("DB_PASSWORD", "p@ss/w:rd"), ("DB_USERNAME", "dydx")]);
        let pg = PostgresSettings::from_env(&env).unwrap();
        assert_eq!(
            pg.url,
            "postgres://dydx:p%40ss%2Fw%3Ard@127.0.0.1:5432/indexer"
        );
    }

    #[test]
    fn dummy_bugsnag_key_means_off() {
        let env = Env::from_pairs([("BUGSNAG_KEY", "00000000000000000000000000000000")]);
        assert_eq!(
            BaseSettings::from_env(&env, "ender", 9001)
                .unwrap()
                .bugsnag_key,
            None
        );
    }

    #[test]
    fn log_format_is_case_insensitive() {
        let env = Env::from_pairs([("LOG_FORMAT", " JSON ")]);
        assert!(
            BaseSettings::from_env(&env, "ender", 9001)
                .unwrap()
                .log_json
        );
        let env = Env::from_pairs([("LOG_FORMAT", "xml")]);
        assert!(BaseSettings::from_env(&env, "ender", 9001).is_err());
    }

    #[test]
    fn environment_names() {
        assert!("dev".parse::<Environment>().unwrap().is_disposable());
        assert!(!"mainnet".parse::<Environment>().unwrap().is_disposable());
        assert!("bogus".parse::<Environment>().is_err());
    }
}
