//! `refresh_vault_pnl`: the materialized views behind the vault PnL charts.

use sqlx::PgConnection;

use crate::StoreError;

/// A materialized view roundtable refreshes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VaultPnlView {
    Hourly,
    Daily,
}

impl VaultPnlView {
    pub fn name(self) -> &'static str {
        match self {
            VaultPnlView::Hourly => "vaults_hourly_pnl",
            VaultPnlView::Daily => "vaults_daily_pnl",
        }
    }
}

/// Refreshes `view` without blocking its readers (CONCURRENTLY, which its unique index allows).
pub async fn refresh_vault_pnl_view(
    conn: &mut PgConnection,
    view: VaultPnlView,
) -> Result<(), StoreError> {
    // The name is one of two constants, never user input.
    sqlx::query(&format!(
        "REFRESH MATERIALIZED VIEW CONCURRENTLY {}",
        view.name()
    ))
    .execute(&mut *conn)
    .await?;
    Ok(())
}
