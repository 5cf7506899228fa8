//! Destructive maintenance used by the rebuild tooling and tests.

use sqlx::PgPool;

use crate::StoreError;

/// The table sqlx keeps its migration history in; never cleared.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

/// Empties every data table (all tables of the current schema except the migration history) in
/// one `TRUNCATE ... CASCADE`, and refreshes the materialized views so they do not show rows of
/// the old data. The schema is kept.
///
/// This also resets ender's state: `ender_progress` loses its row (the next block creates a new
/// one with a new stream epoch), the outbox is emptied and channel sequences restart. Serial ids
/// keep counting (no `RESTART IDENTITY`), so an outbox relay that remembers the last id it saw
/// never mistakes new rows for old ones.
///
/// Returns the names of the tables that were cleared.
pub async fn clear_data(pool: &PgPool) -> Result<Vec<String>, StoreError> {
    let mut tx = pool.begin().await?;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables \
         WHERE schemaname = current_schema() AND tablename <> $1 ORDER BY tablename",
    )
    .bind(MIGRATIONS_TABLE)
    .fetch_all(&mut *tx)
    .await?;
    if !tables.is_empty() {
        let list = tables
            .iter()
            .map(|t| quote_ident(t))
            .collect::<Vec<_>>()
            .join(", ");
        sqlx::query(&format!("TRUNCATE TABLE {list} CASCADE"))
            .execute(&mut *tx)
            .await?;
    }
    let views: Vec<String> = sqlx::query_scalar(
        "SELECT matviewname::text FROM pg_matviews \
         WHERE schemaname = current_schema() ORDER BY matviewname",
    )
    .fetch_all(&mut *tx)
    .await?;
    for view in &views {
        sqlx::query(&format!("REFRESH MATERIALIZED VIEW {}", quote_ident(view)))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    tracing::warn!(tables = tables.len(), "all data tables cleared");
    Ok(tables)
}

/// A Postgres identifier in double quotes, safe for any name.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::quote_ident;

    #[test]
    fn identifiers_are_quoted_and_embedded_quotes_doubled() {
        assert_eq!(quote_ident("blocks"), "\"blocks\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }
}
