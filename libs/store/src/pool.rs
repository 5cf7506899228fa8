//! Connection pools: writes go to the primary, most reads may go to a read replica.

use indexer_base::config::PostgresSettings;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use crate::StoreError;

/// The pools a service uses.
#[derive(Debug, Clone)]
pub struct Pools {
    /// Read-write primary. Also used for reads that must see the latest committed block.
    pub primary: PgPool,
    /// Read replica, when one is configured.
    pub replica: Option<PgPool>,
}

impl Pools {
    /// Connects to the primary and, when configured, the replica. Fails fast when either cannot
    /// be reached, so a misconfigured service stops at start-up rather than on its first query.
    pub async fn connect(settings: &PostgresSettings) -> Result<Self, StoreError> {
        let primary = connect_pool(&settings.url, settings).await?;
        let replica = match &settings.readonly_url {
            Some(url) => Some(connect_pool(url, settings).await?),
            None => None,
        };
        Ok(Self { primary, replica })
    }

    /// The pool for reads that tolerate replica lag: the replica if configured, else the primary.
    pub fn reader(&self) -> &PgPool {
        self.replica.as_ref().unwrap_or(&self.primary)
    }

    /// Closes every connection of both pools (graceful shutdown).
    pub async fn close(&self) {
        self.primary.close().await;
        if let Some(replica) = &self.replica {
            replica.close().await;
        }
    }
}

async fn connect_pool(url: &str, settings: &PostgresSettings) -> Result<PgPool, StoreError> {
    PgPoolOptions::new()
        .min_connections(settings.pool_min)
        .max_connections(settings.pool_max)
        .acquire_timeout(settings.acquire_timeout)
        .connect(url)
        .await
        .map_err(|source| StoreError::Connect {
            target: mask_password(url),
            source,
        })
}

/// `url` with the password (if any) replaced by `***`, for logs and error messages.
pub fn mask_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let authority_end = url[scheme_end..]
        .find(['/', '?'])
        .map_or(url.len(), |i| scheme_end + i);
    let Some(at) = url[scheme_end..authority_end]
        .rfind('@')
        .map(|i| scheme_end + i)
    else {
        return url.to_string();
    };
    match url[scheme_end..at].find(':').map(|i| scheme_end + i) {
        Some(colon) => format!("{}:***{}", &url[..colon], &url[at..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::mask_password;

    #[test]
    fn password_is_masked_and_the_rest_kept() {
        assert_eq!(
            mask_password("postgres://user:s3cret@db.example:5432/indexer?sslmode=require"),
            "postgres://user:***@db.example:5432/indexer?sslmode=require"
        );
    }

    #[test]
    fn urls_without_password_are_unchanged() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/indexer",
            "postgres://localhost/db",
            "not a url",
        ] {
            assert_eq!(mask_password(url), url);
        }
    }
}
