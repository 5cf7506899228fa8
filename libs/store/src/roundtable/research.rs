//! What `update_research_environment` needs to describe an RDS export to Athena: the exported
//! database's name and the columns of its tables.

use sqlx::PgExecutor;

use crate::StoreError;

/// Our own bookkeeping tables, not indexer data: left out of the analytics export's tables.
const INTERNAL_TABLES: [&str; 4] = [
    "_sqlx_migrations",
    "ender_outbox",
    "ender_progress",
    "channel_sequences",
];

/// One column of an exported table.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ExportedColumn {
    pub table: String,
    pub column: String,
    /// `information_schema.columns.data_type` (e.g. `numeric`, `timestamp with time zone`).
    pub data_type: String,
    pub numeric_precision: Option<i32>,
    pub numeric_scale: Option<i32>,
}

/// The current database's name (the folder RDS exports it under).
pub async fn database_name<'e, E: PgExecutor<'e>>(executor: E) -> Result<String, StoreError> {
    Ok(sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(executor)
        .await?)
}

/// The columns of every base table of schema `public` but ours, by table and position.
pub async fn exported_columns<'e, E: PgExecutor<'e>>(
    executor: E,
) -> Result<Vec<ExportedColumn>, StoreError> {
    let internal: Vec<String> = INTERNAL_TABLES.iter().map(|t| t.to_string()).collect();
    Ok(sqlx::query_as(
        r#"SELECT c.table_name::text AS "table", c.column_name::text AS "column",
                  c.data_type::text AS data_type, c.numeric_precision::int AS numeric_precision,
                  c.numeric_scale::int AS numeric_scale
           FROM information_schema.columns c
           JOIN information_schema.tables t
             ON t.table_schema = c.table_schema AND t.table_name = c.table_name
           WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
             AND NOT (c.table_name = ANY($1))
           ORDER BY c.table_name, c.ordinal_position"#,
    )
    .bind(internal)
    .fetch_all(executor)
    .await?)
}
