//! Compliance screening state (serve.md §4.4.1–§4.4.2): the screening provider's verdicts in
//! `compliance_data` and the per-address `compliance_status`. The status upsert is the one write
//! comlink performs (an address found restricted while screening gets a status).

use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::json::IsoTime;
use crate::QueryError;

/// The provider whose verdicts are stored (the only value the schema allows).
const PROVIDER: &str = "ELLIPTIC";

/// Whether the provider's stored verdict blocks the address (no row: not restricted, since the
/// provider integration is pluggable and off by default).
pub async fn is_blocked(pool: &PgPool, address: &str) -> Result<bool, QueryError> {
    let blocked: Option<bool> = sqlx::query_scalar(
        "SELECT blocked FROM compliance_data WHERE address = $1 AND provider = $2",
    )
    .bind(address)
    .bind(PROVIDER)
    .fetch_optional(pool)
    .await?;
    Ok(blocked.unwrap_or(false))
}

/// `{status, reason, updatedAt}` of a `compliance_status` row, or `{"status": "COMPLIANT"}`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComplianceStatus {
    pub status: String,
    /// Present (possibly null) when read from a row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<IsoTime>,
}

impl ComplianceStatus {
    /// A status that is not backed by a row.
    pub fn bare(status: &str, reason: Option<&str>) -> Self {
        Self {
            status: status.to_owned(),
            reason: reason.map(|r| Some(r.to_owned())),
            updated_at: None,
        }
    }
}

type StatusRow = (String, Option<String>, IsoTime);

fn from_row((status, reason, updated_at): StatusRow) -> ComplianceStatus {
    ComplianceStatus {
        status,
        reason: Some(reason),
        updated_at: Some(updated_at),
    }
}

/// The stored status of an address.
pub async fn status(pool: &PgPool, address: &str) -> Result<Option<ComplianceStatus>, QueryError> {
    let row: Option<StatusRow> = sqlx::query_as(
        r#"SELECT status, reason, "updatedAt" FROM compliance_status WHERE address = $1"#,
    )
    .bind(address)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(from_row))
}

/// Records a screening hit: a new address becomes `BLOCKED`, an address with a status other
/// than `CLOSE_ONLY` / `BLOCKED` becomes `CLOSE_ONLY`, both with reason `COMPLIANCE_PROVIDER`.
/// Returns the resulting row.
pub async fn record_restricted(
    primary: &PgPool,
    address: &str,
) -> Result<ComplianceStatus, QueryError> {
    let row: StatusRow = sqlx::query_as(
        r#"INSERT INTO compliance_status (address, status, reason)
           VALUES ($1, 'BLOCKED', 'COMPLIANCE_PROVIDER')
           ON CONFLICT (address) DO UPDATE SET
               status = CASE WHEN compliance_status.status IN ('CLOSE_ONLY', 'BLOCKED')
                             THEN compliance_status.status ELSE 'CLOSE_ONLY' END,
               reason = CASE WHEN compliance_status.status IN ('CLOSE_ONLY', 'BLOCKED')
                             THEN compliance_status.reason ELSE 'COMPLIANCE_PROVIDER' END,
               "updatedAt" = CASE WHEN compliance_status.status IN ('CLOSE_ONLY', 'BLOCKED')
                                  THEN compliance_status."updatedAt" ELSE now() END
           RETURNING status, reason, "updatedAt""#,
    )
    .bind(address)
    .fetch_one(primary)
    .await?;
    Ok(from_row(row))
}

/// The status after a successful geoblock check (`POST /v4/compliance/geoblock`): an address
/// without a row becomes `COMPLIANT`; an existing row is returned unchanged.
pub async fn ensure_status(
    primary: &PgPool,
    address: &str,
) -> Result<ComplianceStatus, QueryError> {
    let row: StatusRow = sqlx::query_as(
        r#"WITH inserted AS (
               INSERT INTO compliance_status (address, status) VALUES ($1, 'COMPLIANT')
               ON CONFLICT (address) DO NOTHING
               RETURNING status, reason, "updatedAt")
           SELECT * FROM inserted
           UNION ALL
           SELECT status, reason, "updatedAt" FROM compliance_status WHERE address = $1
           LIMIT 1"#,
    )
    .bind(address)
    .fetch_one(primary)
    .await?;
    Ok(from_row(row))
}

/// Sets an address's status and reason (`POST /v4/compliance/setStatus`, operators only).
pub async fn set_status(
    primary: &PgPool,
    address: &str,
    status: &str,
    reason: Option<&str>,
) -> Result<ComplianceStatus, QueryError> {
    let row: StatusRow = sqlx::query_as(
        r#"INSERT INTO compliance_status (address, status, reason) VALUES ($1, $2, $3)
           ON CONFLICT (address) DO UPDATE SET status = EXCLUDED.status,
               reason = EXCLUDED.reason, "updatedAt" = now()
           RETURNING status, reason, "updatedAt""#,
    )
    .bind(address)
    .bind(status)
    .bind(reason)
    .fetch_one(primary)
    .await?;
    Ok(from_row(row))
}
