//! The Athena call the research export makes: run a DDL statement (JSON 1.1 protocol).

use serde_json::json;

use super::{AthenaSettings, AwsClient, AwsError, Call};

const SERVICE: &str = "athena";

/// Starts `statement` in the configured catalog, database and work group; returns the query
/// execution id. DDL runs asynchronously in Athena; failures show in its query history.
pub async fn start_query(
    client: &AwsClient,
    settings: &AthenaSettings,
    statement: &str,
) -> Result<String, AwsError> {
    let body = json!({
        "QueryString": statement,
        "QueryExecutionContext": {"Catalog": settings.catalog, "Database": settings.database},
        "WorkGroup": settings.work_group,
    });
    let answer = call(client, "StartQueryExecution", &body).await?;
    answer
        .get("QueryExecutionId")
        .and_then(|id| id.as_str())
        .map(str::to_owned)
        .ok_or_else(|| AwsError::Answer {
            service: SERVICE,
            reason: format!("StartQueryExecution: no QueryExecutionId in {answer}"),
        })
}

/// One Athena action (`AmazonAthena.<action>`) with a JSON body; the JSON answer.
pub async fn call(
    client: &AwsClient,
    action: &str,
    body: &serde_json::Value,
) -> Result<serde_json::Value, AwsError> {
    let bytes = serde_json::to_vec(body).expect("JSON values serialize");
    let answer = client
        .send(
            Call {
                service: SERVICE,
                method: reqwest::Method::POST,
                url: client.endpoint(SERVICE),
                headers: vec![
                    ("content-type".into(), "application/x-amz-json-1.1".into()),
                    ("x-amz-target".into(), format!("AmazonAthena.{action}")),
                ],
                body: &bytes,
            },
            false,
        )
        .await?;
    serde_json::from_slice(&answer.body).map_err(|e| AwsError::Answer {
        service: SERVICE,
        reason: format!("{action}: {e}"),
    })
}
