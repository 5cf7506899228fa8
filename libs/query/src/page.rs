//! Limits and offset pagination (serve.md §2.4).

use serde::Serialize;
use utoipa::ToSchema;

/// Default and maximum `limit` (`API_LIMIT_V4`).
pub const API_LIMIT: u32 = 1000;

/// How many rows to return, and which page when the caller asked for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pagination {
    pub limit: u32,
    /// 1-based page; `None` means no pagination keys in the response.
    pub page: Option<u32>,
}

impl Pagination {
    pub fn new(limit: u32, page: Option<u32>) -> Self {
        Self { limit, page }
    }

    /// `(max(1, page) − 1) × limit`, or 0 without a page.
    pub fn offset(&self) -> u64 {
        self.page
            .map(|page| u64::from(page.max(1) - 1) * u64::from(self.limit))
            .unwrap_or(0)
    }

    /// The keys added to a paged response.
    pub fn info(&self, total_results: i64) -> Option<PageInfo> {
        self.page.map(|_| PageInfo {
            page_size: self.limit,
            total_results,
            offset: self.offset(),
        })
    }
}

impl Default for Pagination {
    fn default() -> Self {
        Self::new(API_LIMIT, None)
    }
}

/// `pageSize`, `totalResults` and `offset` (JSON numbers), present only when `page` was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    pub page_size: u32,
    pub total_results: i64,
    pub offset: u64,
}

/// Items of one page plus the pagination keys when paged.
#[derive(Debug, Clone, PartialEq)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub page: Option<PageInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_is_zero_based_and_page_zero_counts_as_one() {
        assert_eq!(Pagination::new(10, None).offset(), 0);
        assert_eq!(Pagination::new(10, Some(1)).offset(), 0);
        assert_eq!(Pagination::new(10, Some(3)).offset(), 20);
        assert_eq!(Pagination::new(10, Some(0)).offset(), 0);
        assert_eq!(Pagination::new(10, None).info(5), None);
        assert_eq!(
            Pagination::new(10, Some(2)).info(15),
            Some(PageInfo {
                page_size: 10,
                total_results: 15,
                offset: 10
            })
        );
    }
}
