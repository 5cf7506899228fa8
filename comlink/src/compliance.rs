//! The compliance and geo check of account routes (serve.md §2.6), run after validation.
//!
//! Pluggable by configuration: the `compliance_status` lookup (addresses an operator or the
//! screening job marked `BLOCKED`) is on by default as the spec decides; the geo check on the
//! `Geo-Origin-Status` header set by the edge is off by default.

use crate::ctx::Ctx;
use crate::error::{ApiError, ApiResult};

/// Statuses that may keep trading (closing positions) even from a restricted region.
const CLOSE_ONLY_STATUSES: [&str; 2] = ["CLOSE_ONLY", "FIRST_STRIKE_CLOSE_ONLY"];

pub async fn check(ctx: &Ctx, address: Option<&str>) -> ApiResult<()> {
    let state = &ctx.state;
    let settings = state.settings();
    if ctx
        .client_ip
        .as_deref()
        .is_some_and(|ip| state.is_internal_ip(ip))
    {
        return Ok(());
    }
    if address.is_some_and(|a| settings.whitelisted_addresses.iter().any(|w| w == a)) {
        return Ok(());
    }
    if let (Some(address), true) = (address, settings.compliance_check_enabled) {
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM compliance_status WHERE address = $1")
                .bind(address)
                .fetch_optional(state.pools().reader())
                .await
                .map_err(|e| ApiError::Internal(format!("compliance status: {e}")))?;
        match status.as_deref() {
            Some(status) if CLOSE_ONLY_STATUSES.contains(&status) => return Ok(()),
            Some("BLOCKED") => return Err(ApiError::ComplianceBlocked),
            _ => {}
        }
    }
    if settings.geoblocking_enabled && !geo_origin_ok(ctx) {
        return Err(ApiError::Geoblocked);
    }
    Ok(())
}

/// The edge marks allowed requests with `Geo-Origin-Status: ok` (exactly); anything else,
/// including a missing header, is restricted.
pub(crate) fn geo_origin_ok(ctx: &Ctx) -> bool {
    ctx.headers
        .get("geo-origin-status")
        .is_some_and(|value| value.as_bytes() == b"ok")
}
