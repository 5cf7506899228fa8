//! `GET /v4/fundingPayments` and `…/parentSubaccount` (serve.md §4.3.13).

use axum::Json;
use indexer_query::funding_payments::{self, FundingPaymentsFilter, FundingPaymentsResponse};
use indexer_query::subaccounts::SubaccountSelector;
use indexer_query::Pagination;

use crate::ctx::Ctx;
use crate::error::{ApiResult, ErrorBody, Location, ValidationErrorBody};
use crate::params::Validator;
use crate::routes::{account_request, subaccount_number_map, AccountScope};

/// Funding payments of a subaccount, newest first; zero payments only with `showZeroPayments`.
#[utoipa::path(get, path = "/v4/fundingPayments", tag = "accounts",
    params(("address" = String, Query), ("subaccountNumber" = u32, Query),
        ("limit" = Option<u32>, Query), ("ticker" = Option<String>, Query),
        ("createdOnOrAfter" = Option<String>, Query, description = "alias: afterOrAt"),
        ("page" = Option<u32>, Query),
        ("showZeroPayments" = Option<bool>, Query, description = "alias: zeroPayments"),
        ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = FundingPaymentsResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 403, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_funding_payments(ctx: Ctx) -> ApiResult<Json<FundingPaymentsResponse>> {
    let snapshot = ctx.markets(ctx.query_param("ticker")).await;
    let (selector, filter) = account_request(&ctx, AccountScope::Subaccount, |v| {
        filter(v, &snapshot, true)
    })?;
    respond(&ctx, selector, filter).await
}

/// The same over every child of a parent (`ticker` is accepted but unused, as in the reference).
#[utoipa::path(get, path = "/v4/fundingPayments/parentSubaccount", tag = "accounts",
    params(("address" = String, Query), ("parentSubaccountNumber" = u32, Query),
        ("limit" = Option<u32>, Query), ("createdOnOrAfter" = Option<String>, Query),
        ("page" = Option<u32>, Query), ("showZeroPayments" = Option<bool>, Query),
        ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = FundingPaymentsResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 403, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_parent_funding_payments(ctx: Ctx) -> ApiResult<Json<FundingPaymentsResponse>> {
    let snapshot = ctx.markets(ctx.query_param("ticker")).await;
    let (selector, filter) = account_request(&ctx, AccountScope::ParentSubaccount, |v| {
        filter(v, &snapshot, false)
    })?;
    respond(&ctx, selector, filter).await
}

fn filter(
    v: &mut Validator<'_>,
    markets: &indexer_query::MarketsSnapshot,
    ticker_applies: bool,
) -> FundingPaymentsFilter {
    let limit = v.limit();
    let ticker = v.ticker(Location::Query, "ticker", false, markets);
    let after = v.iso_time("createdOnOrAfter");
    // Accepted as an alias: the official clients send it (serve.md decision D5).
    let after_alias = v.iso_time("afterOrAt");
    // Validated but unused, as in the reference.
    let _ = v.non_negative_int("createdBeforeOrAtHeight");
    let _ = v.iso_time("createdBeforeOrAt");
    let _ = v.non_negative_int("createdOnOrAfterHeight");
    let page = v.page();
    let show = v.boolean("showZeroPayments");
    let show_alias = v.boolean("zeroPayments");
    FundingPaymentsFilter {
        ticker: ticker
            .filter(|_| ticker_applies)
            .map(|market| market.ticker.clone()),
        created_on_or_after: after.or(after_alias),
        show_zero_payments: show.or(show_alias).unwrap_or(false),
        pagination: Pagination::new(limit, page),
    }
}

async fn respond(
    ctx: &Ctx,
    selector: SubaccountSelector,
    filter: FundingPaymentsFilter,
) -> ApiResult<Json<FundingPaymentsResponse>> {
    ctx.check_compliance(Some(selector.address())).await?;
    let db = ctx.reader().await?;
    let numbers = subaccount_number_map(&db.pool, &selector).await?;
    let paged = funding_payments::funding_payments(&db.pool, &numbers, &filter).await?;
    Ok(Json(paged.into()))
}
