//! Fresh Postgres databases per test.
//!
//! `TestDb::new().await` gives a test its own database, already migrated, on the server at
//! `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`; the database in
//! that URL is only used for administration). It is fast because the migrations run once into a
//! template database named after a hash of the migrations; every test then clones the template
//! with `CREATE DATABASE test_<uuid> TEMPLATE ...`.
//!
//! The database is dropped when the `TestDb` is dropped (even if the test panics) or by
//! [`TestDb::cleanup`]. Set `TEST_DB_KEEP=1` to keep them for inspection; their names are
//! printed.
//!
//! ```no_run
//! # async fn example() {
//! let db = indexer_testkit::db::TestDb::new().await;
//! sqlx::query("SELECT 1").execute(db.pool()).await.unwrap();
//! db.cleanup().await;
//! # }
//! ```

use std::time::Duration;

use indexer_base::config::PostgresSettings;
use sha2::{Digest, Sha256};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::OnceCell;

const DEFAULT_BASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Serialises template creation across test processes (advisory locks are per database; every
/// process takes it on the same administration database).
const TEMPLATE_LOCK_KEY: i64 = 0x7465_7374_6b69_7464; // "testkitd"

/// Connections per test database pool.
const TEST_POOL_SIZE: u32 = 5;

/// The template for the current migrations, created at most once per test process.
static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// A database that exists for one test.
pub struct TestDb {
    name: String,
    url: String,
    admin_url: String,
    pool: PgPool,
    dropped: bool,
}

impl TestDb {
    /// A new database with every migration applied.
    ///
    /// Panics (failing the test) when the server is unreachable or migrating fails.
    pub async fn new() -> Self {
        let admin_url = base_url();
        let template = TEMPLATE
            .get_or_init(|| async { ensure_template(&admin_url).await })
            .await;
        Self::create(admin_url.clone(), template).await
    }

    /// A new database with no tables at all (cloned from `template0`), for testing migrations.
    pub async fn empty() -> Self {
        Self::create(base_url(), "template0").await
    }

    /// Pool connected to this database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Connection URL of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Name of this database (`test_<uuid>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Settings pointing at this database, for code that builds its own pools
    /// (`indexer_store::Pools::connect`).
    pub fn postgres_settings(&self) -> PostgresSettings {
        PostgresSettings {
            url: self.url.clone(),
            readonly_url: None,
            pool_min: 0,
            pool_max: TEST_POOL_SIZE,
            acquire_timeout: Duration::from_secs(30),
        }
    }

    /// Closes the pool and drops the database, waiting for both.
    pub async fn cleanup(mut self) {
        self.dropped = true;
        self.pool.close().await;
        if keep_databases() {
            return;
        }
        if let Err(e) = drop_database(&self.admin_url, &self.name).await {
            eprintln!("warning: could not drop test database {}: {e}", self.name);
        }
    }

    async fn create(admin_url: String, template: &str) -> Self {
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = admin_connection(&admin_url).await;
        sqlx::query(&format!(
            "CREATE DATABASE {} TEMPLATE {}",
            quote(&name),
            quote(template)
        ))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("creating test database {name} from {template}: {e}"));
        let _ = admin.close().await;
        if keep_databases() {
            eprintln!("test database kept: {name}");
        }

        let url = with_database(&admin_url, &name);
        let pool = PgPoolOptions::new()
            .max_connections(TEST_POOL_SIZE)
            .acquire_timeout(Duration::from_secs(30))
            .connect(&url)
            .await;
        let pool = match pool {
            Ok(pool) => pool,
            Err(e) => {
                let _ = drop_database(&admin_url, &name).await;
                panic!("connecting to test database {name}: {e}");
            }
        };
        Self {
            name,
            url,
            admin_url,
            pool,
            dropped: false,
        }
    }
}

impl Drop for TestDb {
    /// Drops the database on a separate thread with its own small runtime: the test's runtime
    /// may already be shutting down, and blocking it would not let the drop run anyway.
    fn drop(&mut self) {
        if self.dropped || keep_databases() {
            return;
        }
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let outcome = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime
                .block_on(drop_database(&admin_url, &name))
                .map_err(|e| e.to_string())
        })
        .join();
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!("warning: dropping test database {} panicked", self.name),
        }
    }
}

/// Name of the template for the migrations compiled into this test binary.
pub fn template_name() -> String {
    let mut hasher = Sha256::new();
    for migration in indexer_store::embedded_migrations() {
        hasher.update(migration.version.to_le_bytes());
        hasher.update(&migration.checksum);
    }
    format!("indexer_tpl_{}", &hex::encode(hasher.finalize())[..16])
}

/// Creates the migrated template unless another process already did; returns its name.
async fn ensure_template(admin_url: &str) -> String {
    let name = template_name();
    let mut admin = admin_connection(admin_url).await;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(TEMPLATE_LOCK_KEY)
        .execute(&mut admin)
        .await
        .expect("taking the template lock");

    // The IS_TEMPLATE flag is set last, so a database without it is a build that crashed.
    let is_template: Option<bool> =
        sqlx::query_scalar("SELECT datistemplate FROM pg_database WHERE datname = $1")
            .bind(&name)
            .fetch_optional(&mut admin)
            .await
            .expect("looking up the template database");
    match is_template {
        Some(true) => {}
        Some(false) => {
            drop_database_on(&mut admin, &name)
                .await
                .expect("dropping a half-built template");
            build_template(&mut admin, admin_url, &name).await;
        }
        None => build_template(&mut admin, admin_url, &name).await,
    }

    // Closing the session releases the lock too; unlock explicitly to hand over promptly.
    let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(TEMPLATE_LOCK_KEY)
        .execute(&mut admin)
        .await;
    let _ = admin.close().await;
    name
}

async fn build_template(admin: &mut PgConnection, admin_url: &str, name: &str) {
    sqlx::query(&format!(
        "CREATE DATABASE {} TEMPLATE template0",
        quote(name)
    ))
    .execute(&mut *admin)
    .await
    .unwrap_or_else(|e| panic!("creating template database {name}: {e}"));
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&with_database(admin_url, name))
        .await
        .unwrap_or_else(|e| panic!("connecting to template database {name}: {e}"));
    indexer_store::migrate(&pool)
        .await
        .unwrap_or_else(|e| panic!("migrating template database {name}: {e}"));
    // Cloning needs the template to have no open connections.
    pool.close().await;
    sqlx::query(&format!(
        "ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false",
        quote(name)
    ))
    .execute(&mut *admin)
    .await
    .unwrap_or_else(|e| panic!("marking {name} as a template: {e}"));
}

async fn drop_database(admin_url: &str, name: &str) -> Result<(), sqlx::Error> {
    let mut admin = PgConnection::connect(admin_url).await?;
    let result = drop_database_on(&mut admin, name).await;
    let _ = admin.close().await;
    result
}

async fn drop_database_on(admin: &mut PgConnection, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote(name)
    ))
    .execute(admin)
    .await
    .map(|_| ())
}

async fn admin_connection(admin_url: &str) -> PgConnection {
    PgConnection::connect(admin_url).await.unwrap_or_else(|e| {
        panic!("connecting to Postgres at {admin_url} (set TEST_DATABASE_URL): {e}")
    })
}

fn base_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_string())
}

fn keep_databases() -> bool {
    matches!(
        std::env::var("TEST_DB_KEEP").as_deref(),
        Ok("1") | Ok("true")
    )
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// `url` with its database name replaced by `database`, keeping any query string.
fn with_database(url: &str, database: &str) -> String {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[authority_start..];
    let path_start = rest
        .find(['/', '?'])
        .map_or(url.len(), |i| authority_start + i);
    let query = url[path_start..]
        .find('?')
        .map_or("", |i| &url[path_start + i..]);
    format!("{}/{}{}", &url[..path_start], database, query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_name_is_replaced_and_query_kept() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "test_1"),
            "postgres://postgres@127.0.0.1:5432/test_1"
        );
        assert_eq!(
            with_database("postgres://u:p@h:5432/db?sslmode=disable", "x"),
            "postgres://u:p@h:5432/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
        assert_eq!(
            with_database("postgres://h?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
    }

    #[test]
    fn template_name_is_stable_and_a_valid_identifier() {
        let name = template_name();
        assert_eq!(name, template_name());
        assert_eq!(name.len(), "indexer_tpl_".len() + 16);
        assert!(name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
    }

    #[tokio::test]
    async fn each_test_database_is_migrated_separate_and_dropped() {
        let first = TestDb::new().await;
        let second = TestDb::new().await;
        assert_ne!(first.name(), second.name());

        let tables: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'blocks'")
                .fetch_one(first.pool())
                .await
                .unwrap();
        assert_eq!(tables, 1, "the clone carries the migrated schema");

        sqlx::query("INSERT INTO blocks (\"blockHeight\", time) VALUES (1, now())")
            .execute(first.pool())
            .await
            .unwrap();
        let in_second: i64 = sqlx::query_scalar("SELECT count(*) FROM blocks")
            .fetch_one(second.pool())
            .await
            .unwrap();
        assert_eq!(in_second, 0, "databases are isolated");

        let (first_name, second_name) = (first.name().to_string(), second.name().to_string());
        first.cleanup().await;
        drop(second);
        let mut admin = PgConnection::connect(&base_url()).await.unwrap();
        let remaining: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname IN ($1, $2)")
                .bind(&first_name)
                .bind(&second_name)
                .fetch_one(&mut admin)
                .await
                .unwrap();
        assert_eq!(remaining, 0, "cleanup() and Drop both drop the database");
    }

    #[tokio::test]
    async fn empty_database_has_no_tables() {
        let db = TestDb::empty().await;
        let tables: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert_eq!(tables, 0);
        db.cleanup().await;
    }
}
