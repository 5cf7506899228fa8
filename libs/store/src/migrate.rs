//! The embedded migrations (`migrations/` at the repository root) and their runner.

use std::collections::HashSet;

use sqlx::migrate::{Migrate, Migration, Migrator};
use sqlx::{Connection, PgConnection, PgPool};

use crate::StoreError;

/// Session advisory lock held while migrating, so that services starting together (or tests
/// sharing a database) apply each migration exactly once. Advisory locks are scoped to one
/// database, so runners against different databases do not wait for each other.
const MIGRATION_LOCK_KEY: i64 = 0x696e_6465_7865_726d; // "indexerm"

static EMBEDDED: Migrator = sqlx::migrate!("../../migrations");

/// The migrations compiled into this binary, in version order.
pub fn embedded_migrations() -> &'static [Migration] {
    EMBEDDED.iter().as_slice()
}

/// Applies every embedded migration the database has not seen yet and returns how many were
/// applied (0 when the schema is already current).
///
/// Safe to call concurrently from several processes: runners queue on an advisory lock and
/// later ones find nothing left to do. Fails if an already-applied migration was edited
/// (checksum mismatch) or a previous run left one half-applied. Versions applied by a newer
/// binary are tolerated (logged), so an older instance can still start during a rolling deploy.
pub async fn migrate(pool: &PgPool) -> Result<usize, StoreError> {
    // A dedicated connection that never returns to the pool: closing it releases the session
    // lock even if migrating fails halfway.
    let mut conn = pool.acquire().await?.detach();
    let result = migrate_locked(&mut conn).await;
    // Best effort: the server drops the lock with the session anyway.
    let _ = conn.close().await;
    result
}

async fn migrate_locked(conn: &mut PgConnection) -> Result<usize, StoreError> {
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK_KEY)
        .execute(&mut *conn)
        .await?;
    conn.ensure_migrations_table().await?;
    let before = applied_versions(conn).await?;
    runner().run_direct(&mut *conn).await?;
    let after = applied_versions(conn).await?;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK_KEY)
        .execute(&mut *conn)
        .await?;

    warn_about_unknown_versions(&after);
    let applied = after.difference(&before).count();
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
    Ok(applied)
}

/// The embedded migrations configured for [`migrate`]: our own lock replaces sqlx's, and
/// versions unknown to this binary do not stop it.
fn runner() -> Migrator {
    let mut migrator = sqlx::migrate!("../../migrations");
    migrator.set_locking(false);
    migrator.set_ignore_missing(true);
    migrator
}

async fn applied_versions(conn: &mut PgConnection) -> Result<HashSet<i64>, StoreError> {
    Ok(conn
        .list_applied_migrations()
        .await?
        .into_iter()
        .map(|m| m.version)
        .collect())
}

fn warn_about_unknown_versions(applied: &HashSet<i64>) {
    let known: HashSet<i64> = embedded_migrations().iter().map(|m| m.version).collect();
    let mut unknown: Vec<i64> = applied.difference(&known).copied().collect();
    if !unknown.is_empty() {
        unknown.sort_unstable();
        tracing::warn!(
            ?unknown,
            "database has migrations this binary does not know (newer release?)"
        );
    }
}

/// Creates the database named in `url` when it does not exist yet (first start on a fresh
/// server); returns whether it was created.
pub async fn ensure_database(url: &str) -> Result<bool, StoreError> {
    use sqlx::migrate::MigrateDatabase;
    let connect_error = |source| StoreError::Connect {
        target: crate::pool::mask_password(url),
        source,
    };
    if sqlx::Postgres::database_exists(url)
        .await
        .map_err(connect_error)?
    {
        return Ok(false);
    }
    match sqlx::Postgres::create_database(url).await {
        Ok(()) => Ok(true),
        // Another runner created it between the check and the create.
        Err(_) if sqlx::Postgres::database_exists(url).await.unwrap_or(false) => Ok(false),
        Err(source) => Err(connect_error(source)),
    }
}
