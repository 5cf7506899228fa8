//! The Redis connection every service shares (auto-reconnecting), and whole-cache admin.

use indexer_base::config::RedisSettings;
use redis::aio::ConnectionManager;

use crate::keys::Keys;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cannot connect to redis at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: redis::RedisError,
    },
    #[error("redis command failed: {0}")]
    Command(#[from] redis::RedisError),
    #[error(transparent)]
    Reply(#[from] crate::script_value::ScriptReplyError),
}

/// A cloneable handle to the main Redis plus the key builder.
#[derive(Clone)]
pub struct Cache {
    conn: ConnectionManager,
    keys: Keys,
}

impl Cache {
    pub async fn connect(settings: &RedisSettings) -> Result<Self, CacheError> {
        let connect_error = |source| CacheError::Connect {
            url: settings.url.clone(),
            source,
        };
        let client = redis::Client::open(settings.url.as_str()).map_err(connect_error)?;
        let conn = ConnectionManager::new_with_config(client, connection_config())
            .await
            .map_err(connect_error)?;
        Ok(Self {
            conn,
            keys: Keys::new(settings.key_prefix.clone()),
        })
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// A connection for commands and scripts (cheap to clone).
    pub fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Readiness probe.
    pub async fn ping(&self) -> Result<(), CacheError> {
        let _: String = redis::cmd("PING").query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// Removes every indexer key and returns how many were removed. Without a prefix this is
    /// FLUSHDB on the main Redis (the rate-limit Redis is a different server and untouched);
    /// with a prefix only that prefix's keys go.
    pub async fn clear(&self) -> Result<u64, CacheError> {
        let mut conn = self.conn();
        if self.keys.prefix().is_empty() {
            let count: u64 = redis::cmd("DBSIZE").query_async(&mut conn).await?;
            let _: () = redis::cmd("FLUSHDB").query_async(&mut conn).await?;
            return Ok(count);
        }
        let pattern = format!("{}*", escape_glob(self.keys.prefix()));
        let mut cursor: u64 = 0;
        let mut removed = 0u64;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await?;
            if !batch.is_empty() {
                let n: u64 = redis::cmd("UNLINK")
                    .arg(&batch)
                    .query_async(&mut conn)
                    .await?;
                removed += n;
            }
            if next == 0 {
                return Ok(removed);
            }
            cursor = next;
        }
    }
}

/// Bounded connection attempts: an unreachable Redis is reported within seconds instead of after
/// a long exponential back-off, and a dropped connection is re-established on the next command.
fn connection_config() -> redis::aio::ConnectionManagerConfig {
    redis::aio::ConnectionManagerConfig::new()
        .set_number_of_retries(3)
        .set_factor(100)
        .set_max_delay(1_000)
        .set_connection_timeout(std::time::Duration::from_secs(2))
}

fn escape_glob(s: &str) -> String {
    s.chars()
        .flat_map(|c| match c {
            '*' | '?' | '[' | ']' | '\\' => vec!['\\', c],
            _ => vec![c],
        })
        .collect()
}
