//! The RDS calls the snapshot jobs make (Query API, version 2014-10-31, XML answers).

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{AwsClient, AwsError, Call};

const SERVICE: &str = "rds";
const VERSION: &str = "2014-10-31";

/// A DB snapshot as the jobs see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub id: String,
    pub arn: String,
    pub status: String,
    /// `manual` or `automated`.
    pub kind: String,
    /// Unset while the snapshot is being created.
    pub created_at: Option<DateTime<Utc>>,
}

/// An export of a snapshot to S3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportTask {
    pub id: String,
    pub source_arn: String,
    /// `STARTING`, `IN_PROGRESS`, `COMPLETE`, `CANCELING`, `CANCELED` or `FAILED`.
    pub status: String,
}

impl ExportTask {
    pub fn is_running(&self) -> bool {
        matches!(self.status.as_str(), "STARTING" | "IN_PROGRESS")
    }
}

/// Every snapshot of `instance` (of `kind` when given), following pagination.
pub async fn describe_snapshots(
    client: &AwsClient,
    instance: &str,
    kind: Option<&str>,
) -> Result<Vec<Snapshot>, AwsError> {
    let mut snapshots = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut params = vec![("DBInstanceIdentifier", instance.to_string())];
        if let Some(kind) = kind {
            params.push(("SnapshotType", kind.to_string()));
        }
        if let Some(marker) = &marker {
            params.push(("Marker", marker.clone()));
        }
        let page: DescribeSnapshots = query(client, "DescribeDBSnapshots", &params).await?;
        let result = page.result;
        for raw in result.snapshots.items {
            snapshots.push(raw.into_snapshot()?);
        }
        match result.marker.filter(|m| !m.is_empty()) {
            Some(next) => marker = Some(next),
            None => return Ok(snapshots),
        }
    }
}

/// The snapshot `id`, or `None` when it does not exist.
pub async fn describe_snapshot(client: &AwsClient, id: &str) -> Result<Option<Snapshot>, AwsError> {
    let params = [("DBSnapshotIdentifier", id.to_string())];
    match query::<DescribeSnapshots>(client, "DescribeDBSnapshots", &params).await {
        Ok(page) => page
            .result
            .snapshots
            .items
            .into_iter()
            .next()
            .map(RawSnapshot::into_snapshot)
            .transpose(),
        Err(AwsError::Status { status: 404, .. }) => Ok(None),
        Err(AwsError::Status { body, .. }) if body.contains("DBSnapshotNotFound") => Ok(None),
        Err(error) => Err(error),
    }
}

/// Starts a manual snapshot `id` of `instance`.
pub async fn create_snapshot(
    client: &AwsClient,
    instance: &str,
    id: &str,
) -> Result<Snapshot, AwsError> {
    let params = [
        ("DBInstanceIdentifier", instance.to_string()),
        ("DBSnapshotIdentifier", id.to_string()),
    ];
    let answer: CreateSnapshot = query(client, "CreateDBSnapshot", &params).await?;
    answer.result.snapshot.into_snapshot()
}

pub async fn delete_snapshot(client: &AwsClient, id: &str) -> Result<(), AwsError> {
    let params = [("DBSnapshotIdentifier", id.to_string())];
    let _: DeleteSnapshot = query(client, "DeleteDBSnapshot", &params).await?;
    Ok(())
}

/// Export tasks of `source_arn` (every export task when `None`).
pub async fn describe_export_tasks(
    client: &AwsClient,
    source_arn: Option<&str>,
) -> Result<Vec<ExportTask>, AwsError> {
    let params: Vec<(&str, String)> = source_arn
        .map(|arn| vec![("SourceArn", arn.to_string())])
        .unwrap_or_default();
    let answer: DescribeExportTasks = query(client, "DescribeExportTasks", &params).await?;
    Ok(answer
        .result
        .tasks
        .items
        .into_iter()
        .map(RawExportTask::into_task)
        .collect())
}

/// What an export needs.
pub struct ExportRequest<'a> {
    pub id: &'a str,
    pub source_arn: &'a str,
    pub bucket: &'a str,
    pub role_arn: &'a str,
    pub kms_key_arn: &'a str,
}

pub async fn start_export_task(
    client: &AwsClient,
    export: &ExportRequest<'_>,
) -> Result<ExportTask, AwsError> {
    let params = [
        ("ExportTaskIdentifier", export.id.to_string()),
        ("SourceArn", export.source_arn.to_string()),
        ("S3BucketName", export.bucket.to_string()),
        ("IamRoleArn", export.role_arn.to_string()),
        ("KmsKeyId", export.kms_key_arn.to_string()),
    ];
    let answer: StartExportTask = query(client, "StartExportTask", &params).await?;
    Ok(answer.result.into_task())
}

/// One Query API call: a form-encoded POST, an XML answer.
async fn query<T: serde::de::DeserializeOwned>(
    client: &AwsClient,
    action: &str,
    params: &[(&str, String)],
) -> Result<T, AwsError> {
    let body = form_body(action, params);
    let answer = client
        .send(
            Call {
                service: SERVICE,
                method: reqwest::Method::POST,
                url: client.endpoint(SERVICE),
                headers: vec![(
                    "content-type".into(),
                    "application/x-www-form-urlencoded; charset=utf-8".into(),
                )],
                body: body.as_bytes(),
            },
            false,
        )
        .await?;
    quick_xml::de::from_reader(answer.body.as_slice()).map_err(|e| AwsError::Answer {
        service: SERVICE,
        reason: format!("{action}: {e}"),
    })
}

fn form_body(action: &str, params: &[(&str, String)]) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("Action", action);
    form.append_pair("Version", VERSION);
    for (name, value) in params {
        form.append_pair(name, value);
    }
    form.finish()
}

#[derive(Deserialize)]
struct DescribeSnapshots {
    #[serde(rename = "DescribeDBSnapshotsResult")]
    result: SnapshotPage,
}

#[derive(Deserialize)]
struct SnapshotPage {
    #[serde(rename = "DBSnapshots", default)]
    snapshots: SnapshotList,
    #[serde(rename = "Marker")]
    marker: Option<String>,
}

#[derive(Deserialize, Default)]
struct SnapshotList {
    #[serde(rename = "DBSnapshot", default)]
    items: Vec<RawSnapshot>,
}

#[derive(Deserialize)]
struct CreateSnapshot {
    #[serde(rename = "CreateDBSnapshotResult")]
    result: CreatedSnapshot,
}

#[derive(Deserialize)]
struct CreatedSnapshot {
    #[serde(rename = "DBSnapshot")]
    snapshot: RawSnapshot,
}

#[derive(Deserialize)]
struct DeleteSnapshot {}

#[derive(Deserialize)]
struct RawSnapshot {
    #[serde(rename = "DBSnapshotIdentifier")]
    id: String,
    #[serde(rename = "DBSnapshotArn", default)]
    arn: String,
    #[serde(rename = "Status", default)]
    status: String,
    #[serde(rename = "SnapshotType", default)]
    kind: String,
    #[serde(rename = "SnapshotCreateTime")]
    created_at: Option<String>,
}

impl RawSnapshot {
    fn into_snapshot(self) -> Result<Snapshot, AwsError> {
        let created_at = self
            .created_at
            .filter(|t| !t.is_empty())
            .map(|t| parse_time(&t))
            .transpose()?;
        Ok(Snapshot {
            id: self.id,
            arn: self.arn,
            status: self.status,
            kind: self.kind,
            created_at,
        })
    }
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, AwsError> {
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z"))
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| AwsError::Answer {
            service: SERVICE,
            reason: format!("snapshot time {text:?}: {e}"),
        })
}

#[derive(Deserialize)]
struct DescribeExportTasks {
    #[serde(rename = "DescribeExportTasksResult")]
    result: ExportTaskPage,
}

#[derive(Deserialize)]
struct ExportTaskPage {
    #[serde(rename = "ExportTasks", default)]
    tasks: ExportTaskList,
}

#[derive(Deserialize, Default)]
struct ExportTaskList {
    #[serde(rename = "ExportTask", default)]
    items: Vec<RawExportTask>,
}

#[derive(Deserialize)]
struct StartExportTask {
    #[serde(rename = "StartExportTaskResult")]
    result: RawExportTask,
}

#[derive(Deserialize)]
struct RawExportTask {
    #[serde(rename = "ExportTaskIdentifier")]
    id: String,
    #[serde(rename = "SourceArn", default)]
    source_arn: String,
    #[serde(rename = "Status", default)]
    status: String,
}

impl RawExportTask {
    fn into_task(self) -> ExportTask {
        ExportTask {
            id: self.id,
            source_arn: self.source_arn,
            status: self.status.to_ascii_uppercase(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_describe_answer_is_read_with_its_marker() {
        let xml = r#"<DescribeDBSnapshotsResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">
  <DescribeDBSnapshotsResult>
    <Marker>next-page</Marker>
    <DBSnapshots>
      <DBSnapshot>
        <DBSnapshotIdentifier>fast-sync-indexer-2026-11-22-04-00</DBSnapshotIdentifier>
        <DBSnapshotArn>arn:aws:rds:us-east-1:1:snapshot:fast-sync-indexer-2026-11-22-04-00</DBSnapshotArn>
        <SnapshotCreateTime>2026-11-22T04:00:12.345Z</SnapshotCreateTime>
        <Status>available</Status>
        <SnapshotType>manual</SnapshotType>
      </DBSnapshot>
      <DBSnapshot>
        <DBSnapshotIdentifier>creating</DBSnapshotIdentifier>
        <Status>creating</Status>
        <SnapshotType>manual</SnapshotType>
      </DBSnapshot>
    </DBSnapshots>
  </DescribeDBSnapshotsResult>
  <ResponseMetadata><RequestId>x</RequestId></ResponseMetadata>
</DescribeDBSnapshotsResponse>"#;
        let page: DescribeSnapshots = quick_xml::de::from_str(xml).unwrap();
        assert_eq!(page.result.marker.as_deref(), Some("next-page"));
        let snapshots: Vec<Snapshot> = page
            .result
            .snapshots
            .items
            .into_iter()
            .map(|s| s.into_snapshot().unwrap())
            .collect();
        assert_eq!(snapshots.len(), 2);
        assert_eq!(
            snapshots[0].created_at.unwrap().to_rfc3339(),
            "2026-11-22T04:00:12.345+00:00"
        );
        assert_eq!(snapshots[1].created_at, None);
    }

    #[test]
    fn an_empty_list_is_no_snapshots() {
        let xml = "<DescribeDBSnapshotsResponse><DescribeDBSnapshotsResult><DBSnapshots/></DescribeDBSnapshotsResult></DescribeDBSnapshotsResponse>";
        let page: DescribeSnapshots = quick_xml::de::from_str(xml).unwrap();
        assert!(page.result.snapshots.items.is_empty());
    }
}
