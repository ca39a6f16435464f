//! Pagination parameters with a capped page size, and the page envelope list endpoints return.

use serde::{Deserialize, Serialize};

pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const MAX_PAGE_SIZE: u32 = 100;

/// `?page=1&page_size=20` (also `limit`); values out of range are clamped, not rejected, so a
/// client asking for 10,000 rows gets the maximum instead of an error.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub struct PageParams {
    #[serde(default)]
    page: Option<u32>,
    #[serde(default, alias = "limit", alias = "per_page")]
    page_size: Option<u32>,
}

impl PageParams {
    pub fn new(page: u32, page_size: u32) -> Self {
        Self { page: Some(page), page_size: Some(page_size) }
    }
    /// 1-based page number.
    pub fn page(&self) -> u32 {
        self.page.unwrap_or(1).max(1)
    }
    pub fn page_size(&self) -> u32 {
        self.page_size.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE)
    }
    pub fn limit(&self) -> i64 {
        i64::from(self.page_size())
    }
    pub fn offset(&self) -> i64 {
        i64::from(self.page() - 1) * self.limit()
    }
}

/// One page of results with what a client needs to page on.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub page_size: u32,
    pub total: i64,
    pub total_pages: i64,
}

impl<T> Page<T> {
    pub fn new(items: Vec<T>, params: PageParams, total: i64) -> Self {
        let size = i64::from(params.page_size());
        Self {
            items,
            page: params.page(),
            page_size: params.page_size(),
            total,
            total_pages: (total + size - 1) / size,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_is_clamped() {
        let params: PageParams = serde_json::from_str(r#"{"page": 0, "page_size": 100000}"#).unwrap();
        assert_eq!(params.page(), 1);
        assert_eq!(params.page_size(), MAX_PAGE_SIZE);
        assert_eq!(PageParams::new(3, 0).page_size(), 1);
    }

    #[test]
    fn offsets_follow_pages() {
        let params = PageParams::new(3, 25);
        assert_eq!(params.offset(), 50);
        assert_eq!(params.limit(), 25);
        assert_eq!(Page::new(vec![1], params, 51).total_pages, 3);
        assert_eq!(Page::<u8>::new(vec![], params, 0).total_pages, 0);
    }
}
