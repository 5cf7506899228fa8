//! Filter clauses several list queries add to their `QueryBuilder`.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};

/// ` AND {column} = ANY(values)`; an empty list means "no filter", so nothing is added.
pub(crate) fn push_any_of(query: &mut QueryBuilder<'_, Postgres>, column: &str, values: &[String]) {
    if !values.is_empty() {
        query
            .push(format!(" AND {column} = ANY("))
            .push_bind(values.to_vec())
            .push(")");
    }
}

/// ` AND {column} <> ALL(values)`; an empty list means "no filter", so nothing is added.
pub(crate) fn push_none_of(
    query: &mut QueryBuilder<'_, Postgres>,
    column: &str,
    values: &[String],
) {
    if !values.is_empty() {
        query
            .push(format!(" AND {column} <> ALL("))
            .push_bind(values.to_vec())
            .push(")");
    }
}

/// The `createdBeforeOrAtHeight` / `createdBeforeOrAt` bounds on `"createdAtHeight"` and
/// `"createdAt"`.
pub(crate) fn push_created_before_or_at(
    query: &mut QueryBuilder<'_, Postgres>,
    height: Option<i64>,
    time: Option<DateTime<Utc>>,
) {
    if let Some(height) = height {
        query
            .push(r#" AND "createdAtHeight" <= "#)
            .push_bind(height);
    }
    if let Some(time) = time {
        query.push(r#" AND "createdAt" <= "#).push_bind(time);
    }
}
