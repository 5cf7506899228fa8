//! `update_research_environment` (ops.md §1.4 #9): exports the newest regular RDS snapshot to S3
//! and makes it queryable in Athena. AWS only; off by default.
//!
//! Each run: find the newest available snapshot of the instance that is not a fast-sync one.
//! If its export's manifest (`<export>/export_info_<export>.json`, written by RDS when an export
//! completes) is in the bucket, create for every exported table a raw Parquet table
//! `<yyyy_mm_dd>_raw_<table>` over `s3://<bucket>/<export>/<database>/public.<table>/` and a
//! view `<yyyy_mm_dd>_<table>` with decimals as DECIMAL (the date is the snapshot's); once
//! done, a Redis marker stops later runs from issuing the same DDL again. Otherwise, unless an
//! export of that snapshot is already running, start one (encrypted with `KMS_KEY_ARN`, written
//! as `ECS_TASK_ROLE_ARN`). The table list comes from our own schema, so it never drifts from
//! the migrations.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use indexer_store::roundtable::research::{self, ExportedColumn};

use crate::aws::{athena, rds, s3, AthenaSettings, AwsClient, AwsError, ResearchSettings};
use crate::jobs::Deps;
use crate::scheduler::{Job, RunContext};
use crate::JobError;

/// Athena has no arbitrary-precision decimal; 38 digits with 18 decimals holds every size,
/// price and balance the chain produces (18 decimals is the finest quantum conversion).
const VIEW_DECIMAL: &str = "DECIMAL(38, 18)";

/// Where the export goes and how it is described.
#[derive(Clone)]
pub struct ResearchTarget {
    pub client: AwsClient,
    pub instance: String,
    pub fast_sync_prefix: String,
    pub research: ResearchSettings,
    pub athena: AthenaSettings,
    pub skip_to_athena_table_writing: bool,
}

pub struct UpdateResearchEnvironment {
    deps: Deps,
    target: ResearchTarget,
}

impl UpdateResearchEnvironment {
    pub fn new(deps: Deps, target: ResearchTarget) -> Self {
        UpdateResearchEnvironment { deps, target }
    }

    fn marker_key(&self, export_id: &str) -> String {
        self.deps.cache.keys().research_tables_written(export_id)
    }

    async fn write_tables(
        &self,
        snapshot: &rds::Snapshot,
        export_id: &str,
    ) -> Result<(), JobError> {
        let marker = self.marker_key(export_id);
        let mut redis = self.deps.cache.conn();
        let done: bool = redis::cmd("EXISTS")
            .arg(&marker)
            .query_async(&mut redis)
            .await?;
        if done {
            return Ok(());
        }
        let reader = self.deps.pools.reader();
        let database = research::database_name(reader).await?;
        let columns = research::exported_columns(reader).await?;
        let date = snapshot.created_at.unwrap_or_else(Utc::now);
        let location = ExportLocation {
            bucket: &self.target.research.bucket,
            export_id,
            database: &database,
        };
        let statements = athena_statements(&columns, &location, date);
        for statement in &statements {
            athena::start_query(&self.target.client, &self.target.athena, statement)
                .await
                .map_err(aws)?;
        }
        let _: () = redis::cmd("SET")
            .arg(&marker)
            .arg(Utc::now().to_rfc3339())
            .query_async(&mut redis)
            .await?;
        tracing::info!(
            export = export_id,
            statements = statements.len(),
            "research tables created in Athena"
        );
        Ok(())
    }

    async fn export_if_idle(
        &self,
        snapshot: &rds::Snapshot,
        export_id: &str,
    ) -> Result<(), JobError> {
        let client = &self.target.client;
        let tasks = rds::describe_export_tasks(client, Some(&snapshot.arn))
            .await
            .map_err(aws)?;
        if let Some(task) = tasks.iter().find(|t| t.is_running()) {
            tracing::info!(export = %task.id, status = %task.status, "research export still running");
            return Ok(());
        }
        if let Some(task) = tasks.iter().find(|t| t.id == export_id) {
            // RDS never reuses an export identifier; a finished export without its manifest
            // needs an operator (the bucket or the role changed under it).
            return Err(JobError::External(format!(
                "export {} ended {} but s3://{}/{} is missing",
                task.id,
                task.status,
                self.target.research.bucket,
                manifest_key(export_id)
            )));
        }
        let research = &self.target.research;
        rds::start_export_task(
            client,
            &rds::ExportRequest {
                id: export_id,
                source_arn: &snapshot.arn,
                bucket: &research.bucket,
                role_arn: &research.task_role_arn,
                kms_key_arn: &research.kms_key_arn,
            },
        )
        .await
        .map_err(aws)?;
        tracing::info!(export = export_id, snapshot = %snapshot.id, "research export started");
        Ok(())
    }
}

#[async_trait]
impl Job for UpdateResearchEnvironment {
    async fn run(&self, _ctx: &RunContext) -> Result<(), JobError> {
        let snapshots = rds::describe_snapshots(&self.target.client, &self.target.instance, None)
            .await
            .map_err(aws)?;
        let Some(snapshot) = newest_regular(&snapshots, &self.target.fast_sync_prefix) else {
            tracing::info!("no snapshot to export yet");
            return Ok(());
        };
        let export_id = export_identifier(&snapshot.id);
        let exported = self.target.skip_to_athena_table_writing
            || s3::object_exists(
                &self.target.client,
                &self.target.research.bucket,
                &manifest_key(&export_id),
            )
            .await
            .map_err(aws)?;
        if exported {
            self.write_tables(snapshot, &export_id).await
        } else {
            self.export_if_idle(snapshot, &export_id).await
        }
    }
}

/// The newest available snapshot whose name does not start with the fast-sync prefix.
pub fn newest_regular<'a>(
    snapshots: &'a [rds::Snapshot],
    fast_sync_prefix: &str,
) -> Option<&'a rds::Snapshot> {
    snapshots
        .iter()
        .filter(|s| !s.id.starts_with(fast_sync_prefix) && s.status == "available")
        .filter(|s| s.created_at.is_some())
        .max_by_key(|s| s.created_at)
}

/// An export task identifier for a snapshot: letters, digits and hyphens, starting with a
/// letter, at most 60 characters (automated snapshots are named `rds:<instance>-<date>`).
pub fn export_identifier(snapshot_id: &str) -> String {
    let cleaned: String = snapshot_id
        .trim_start_matches("rds:")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let mut id = cleaned.trim_matches('-').to_string();
    if !id.starts_with(|c: char| c.is_ascii_alphabetic()) {
        id = format!("x-{id}");
    }
    id.truncate(60);
    id.trim_end_matches('-').to_string()
}

/// The file RDS writes next to a completed export.
pub fn manifest_key(export_id: &str) -> String {
    format!("{export_id}/export_info_{export_id}.json")
}

/// Where an export's Parquet files are.
pub struct ExportLocation<'a> {
    pub bucket: &'a str,
    pub export_id: &'a str,
    pub database: &'a str,
}

/// For every table: the raw Parquet table (Hive DDL, backtick identifiers) and the view (Trino
/// SQL, double-quoted identifiers), named after `date`.
pub fn athena_statements(
    columns: &[ExportedColumn],
    location: &ExportLocation<'_>,
    date: DateTime<Utc>,
) -> Vec<String> {
    let day = date.format("%Y_%m_%d").to_string();
    let mut statements = Vec::new();
    for table_columns in columns.chunk_by(|a, b| a.table == b.table) {
        let table = &table_columns[0].table;
        let raw = format!("{day}_raw_{table}");
        let fields = table_columns
            .iter()
            .map(|c| format!("`{}` {}", c.column, raw_type(c)))
            .collect::<Vec<_>>()
            .join(", ");
        statements.push(format!(
            "CREATE EXTERNAL TABLE IF NOT EXISTS `{raw}` ({fields}) STORED AS PARQUET \
             LOCATION 's3://{}/{}/{}/public.{table}/'",
            location.bucket, location.export_id, location.database
        ));
        let selected = table_columns
            .iter()
            .map(view_column)
            .collect::<Vec<_>>()
            .join(", ");
        statements.push(format!(
            "CREATE OR REPLACE VIEW \"{day}_{table}\" AS SELECT {selected} FROM \"{raw}\""
        ));
    }
    statements
}

/// The Parquet type RDS writes for a Postgres column, as Athena names it.
fn raw_type(column: &ExportedColumn) -> String {
    match column.data_type.as_str() {
        "smallint" | "integer" => "int".into(),
        "bigint" => "bigint".into(),
        "boolean" => "boolean".into(),
        "double precision" => "double".into(),
        "real" => "float".into(),
        "date" => "date".into(),
        "timestamp with time zone" | "timestamp without time zone" => "timestamp".into(),
        "numeric" => match (column.numeric_precision, column.numeric_scale) {
            (Some(precision), Some(scale)) if precision <= 38 => {
                format!("decimal({precision},{scale})")
            }
            _ => "string".into(),
        },
        _ => "string".into(),
    }
}

/// Unbounded numerics arrive as text; the view makes them numbers.
fn view_column(column: &ExportedColumn) -> String {
    let name = &column.column;
    if column.data_type == "numeric" && raw_type(column) == "string" {
        format!("CAST(\"{name}\" AS {VIEW_DECIMAL}) AS \"{name}\"")
    } else {
        format!("\"{name}\"")
    }
}

fn aws(error: AwsError) -> JobError {
    JobError::External(error.to_string())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn column(table: &str, column: &str, data_type: &str) -> ExportedColumn {
        ExportedColumn {
            table: table.into(),
            column: column.into(),
            data_type: data_type.into(),
            numeric_precision: None,
            numeric_scale: None,
        }
    }

    #[test]
    fn export_identifiers_are_valid_task_names() {
        assert_eq!(
            export_identifier("rds:indexer-2026-11-22-04-05"),
            "indexer-2026-11-22-04-05"
        );
        assert_eq!(export_identifier("Daily_Backup.1"), "daily-backup-1");
        assert_eq!(export_identifier("2026-snap"), "x-2026-snap");
        assert!(export_identifier(&"a".repeat(100)).len() <= 60);
    }

    #[test]
    fn the_newest_regular_snapshot_is_exported() {
        let at = |h| Some(Utc.with_ymd_and_hms(2026, 11, 22, h, 0, 0).unwrap());
        let snapshot = |id: &str, status: &str, created| rds::Snapshot {
            id: id.into(),
            arn: id.into(),
            status: status.into(),
            kind: "automated".into(),
            created_at: created,
        };
        let all = [
            snapshot("rds:indexer-1", "available", at(1)),
            snapshot("rds:indexer-2", "available", at(2)),
            snapshot("fast-sync-indexer", "available", at(3)),
            snapshot("rds:indexer-4", "creating", None),
        ];
        assert_eq!(
            newest_regular(&all, "fast-sync").unwrap().id,
            "rds:indexer-2"
        );
    }

    #[test]
    fn statements_describe_each_table_and_its_view() {
        let mut price = column("fills", "price", "numeric");
        price.numeric_precision = None;
        let mut fixed = column("fills", "fee_scale", "numeric");
        fixed.numeric_precision = Some(10);
        fixed.numeric_scale = Some(2);
        let columns = vec![
            column("blocks", "blockHeight", "bigint"),
            column("blocks", "time", "timestamp with time zone"),
            column("fills", "id", "uuid"),
            price,
            fixed,
        ];
        let date = Utc.with_ymd_and_hms(2026, 11, 22, 4, 0, 0).unwrap();
        let location = ExportLocation {
            bucket: "research",
            export_id: "indexer-1",
            database: "dydx",
        };
        let statements = athena_statements(&columns, &location, date);
        assert_eq!(
            statements,
            vec![
                "CREATE EXTERNAL TABLE IF NOT EXISTS `2026_11_22_raw_blocks` (`blockHeight` bigint, `time` timestamp) STORED AS PARQUET LOCATION 's3://research/indexer-1/dydx/public.blocks/'".to_string(),
                "CREATE OR REPLACE VIEW \"2026_11_22_blocks\" AS SELECT \"blockHeight\", \"time\" FROM \"2026_11_22_raw_blocks\"".to_string(),
                "CREATE EXTERNAL TABLE IF NOT EXISTS `2026_11_22_raw_fills` (`id` string, `price` string, `fee_scale` decimal(10,2)) STORED AS PARQUET LOCATION 's3://research/indexer-1/dydx/public.fills/'".to_string(),
                "CREATE OR REPLACE VIEW \"2026_11_22_fills\" AS SELECT \"id\", CAST(\"price\" AS DECIMAL(38, 18)) AS \"price\", \"fee_scale\" FROM \"2026_11_22_raw_fills\"".to_string(),
            ]
        );
    }
}
