//! Progress markers of roundtable's incremental jobs, kept in `persistent_cache` and moved in the
//! same transaction as the rows they describe, so a crash can never leave data written but the
//! marker behind (the reference's Redis watermark could, and then counted a window twice).

use sqlx::PgConnection;

use crate::StoreError;

/// Locks the marker `key` for the rest of the caller's transaction and returns its value
/// (`None` when it was never set). Creates the row if needed so that even a first run takes the
/// lock: two runs can never work from the same marker.
pub async fn lock_watermark(
    conn: &mut PgConnection,
    key: &str,
) -> Result<Option<String>, StoreError> {
    sqlx::query(
        "INSERT INTO persistent_cache (key, value) VALUES ($1, '') ON CONFLICT (key) DO NOTHING",
    )
    .bind(key)
    .execute(&mut *conn)
    .await?;
    let value: String =
        sqlx::query_scalar("SELECT value FROM persistent_cache WHERE key = $1 FOR UPDATE")
            .bind(key)
            .fetch_one(&mut *conn)
            .await?;
    Ok((!value.is_empty()).then_some(value))
}

/// Sets the marker `key` (inside the caller's transaction).
pub async fn set_watermark(
    conn: &mut PgConnection,
    key: &str,
    value: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO persistent_cache (key, value) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
    )
    .bind(key)
    .bind(value)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
