//! The listing query (`GET /products`, `/products/category/{c}`, `/products/search`): page,
//! filters and sort, parsed from the raw query pairs because `attr.<name>` keys are open-ended.

use super::search::SearchTerms;
use shop_common::error::{ApiError, ErrorCode};
use shop_common::http::PageParams;

/// Sort orders; each one ends with the id so pages never overlap or skip rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    PriceAsc,
    PriceDesc,
    Name,
    Newest,
    Relevance,
}

impl Sort {
    fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "price" => Sort::PriceAsc,
            "-price" => Sort::PriceDesc,
            "name" => Sort::Name,
            "newest" => Sort::Newest,
            "relevance" => Sort::Relevance,
            _ => return None,
        })
    }
}

/// A parsed listing request.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub page: PageParams,
    pub category: Option<String>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub in_stock: Option<bool>,
    /// `attr.color=red&attr.size=M` → `{"color": "red", "size": "M"}`, matched by containment.
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub sort: Sort,
    pub search: Option<SearchTerms>,
    /// True when a `q` was given but held no word: the answer is an empty page.
    pub unmatchable: bool,
}

const MAX_ATTRIBUTE_FILTERS: usize = 10;

fn invalid(detail: String) -> ApiError {
    ApiError::new(ErrorCode::InvalidQuery, detail)
}

impl ListQuery {
    /// Parses the query pairs. `require_q` is the search endpoint's rule: an empty `q` is a 400.
    pub fn parse(pairs: &[(String, String)], require_q: bool) -> Result<Self, ApiError> {
        let mut page: Option<u32> = None;
        let mut page_size: Option<u32> = None;
        let mut query = ListQuery {
            page: PageParams::new(1, shop_common::http::pagination::DEFAULT_PAGE_SIZE),
            category: None,
            min_price: None,
            max_price: None,
            in_stock: None,
            attributes: serde_json::Map::new(),
            sort: Sort::Newest,
            search: None,
            unmatchable: false,
        };
        let mut sort: Option<Sort> = None;
        let mut q: Option<&str> = None;
        for (key, value) in pairs {
            match key.as_str() {
                "page" => {
                    page = Some(
                        value
                            .parse()
                            .map_err(|_| invalid(format!("page must be a positive integer, got {value:?}")))?,
                    )
                }
                "page_size" | "limit" | "per_page" => {
                    page_size = Some(
                        value
                            .parse()
                            .map_err(|_| invalid(format!("page_size must be a positive integer, got {value:?}")))?,
                    )
                }
                "category" => query.category = Some(value.clone()).filter(|v| !v.is_empty()),
                "min_price" => query.min_price = Some(parse_price("min_price", value)?),
                "max_price" => query.max_price = Some(parse_price("max_price", value)?),
                "in_stock" => {
                    query.in_stock = Some(match value.as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(invalid(format!("in_stock must be true or false, got {value:?}"))),
                    })
                }
                "sort" => {
                    sort = Some(Sort::parse(value).ok_or_else(|| {
                        invalid(format!("sort must be one of price, -price, name, newest, relevance; got {value:?}"))
                    })?)
                }
                "q" => q = Some(value.as_str()),
                other => {
                    if let Some(name) = other.strip_prefix("attr.") {
                        if name.is_empty() || name.chars().count() > 64 {
                            return Err(invalid("attribute filter names must be 1 to 64 characters".into()));
                        }
                        query.attributes.insert(name.to_owned(), serde_json::Value::String(value.clone()));
                        if query.attributes.len() > MAX_ATTRIBUTE_FILTERS {
                            return Err(invalid(format!("at most {MAX_ATTRIBUTE_FILTERS} attribute filters")));
                        }
                    }
                    // Other unknown parameters are ignored, like unknown body fields.
                }
            }
        }
        query.page =
            PageParams::new(page.unwrap_or(1), page_size.unwrap_or(shop_common::http::pagination::DEFAULT_PAGE_SIZE));
        match q.map(str::trim) {
            Some(text) if !text.is_empty() => match SearchTerms::parse(text) {
                Some(terms) => query.search = Some(terms),
                None => query.unmatchable = true,
            },
            _ if require_q => return Err(invalid("q must not be empty".into())),
            _ => {}
        }
        query.sort = match (sort, &query.search) {
            (Some(Sort::Relevance), None) => Sort::Newest,
            (Some(sort), _) => sort,
            (None, Some(_)) => Sort::Relevance,
            (None, None) => Sort::Newest,
        };
        if let (Some(min), Some(max)) = (query.min_price, query.max_price)
            && min > max
        {
            return Err(invalid("min_price must not exceed max_price".into()));
        }
        Ok(query)
    }
}

fn parse_price(name: &str, value: &str) -> Result<i64, ApiError> {
    value
        .parse::<i64>()
        .ok()
        .filter(|v| *v >= 0)
        .ok_or_else(|| invalid(format!("{name} must be a non-negative integer in minor units, got {value:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(raw: &[(&str, &str)]) -> Vec<(String, String)> {
        raw.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn filters_and_sort() {
        let query = ListQuery::parse(
            &pairs(&[
                ("page", "2"),
                ("page_size", "500"),
                ("category", "shoes"),
                ("min_price", "100"),
                ("in_stock", "true"),
                ("attr.color", "red"),
                ("sort", "-price"),
                ("utm", "x"),
            ]),
            false,
        )
        .unwrap();
        assert_eq!(query.page.page(), 2);
        assert_eq!(query.page.page_size(), 100);
        assert_eq!(query.category.as_deref(), Some("shoes"));
        assert_eq!(query.min_price, Some(100));
        assert_eq!(query.in_stock, Some(true));
        assert_eq!(query.attributes["color"], "red");
        assert_eq!(query.sort, Sort::PriceDesc);
    }

    #[test]
    fn bad_values_are_400() {
        for raw in [("page", "x"), ("min_price", "-1"), ("in_stock", "yes"), ("sort", "random")] {
            let err = ListQuery::parse(&pairs(&[raw]), false).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidQuery, "{raw:?}");
        }
        assert!(ListQuery::parse(&pairs(&[("min_price", "5"), ("max_price", "4")]), false).is_err());
        assert!(ListQuery::parse(&pairs(&[("q", "  ")]), true).is_err());
    }

    #[test]
    fn search_defaults_to_relevance_and_punctuation_matches_nothing() {
        let query = ListQuery::parse(&pairs(&[("q", "lamp")]), true).unwrap();
        assert_eq!(query.sort, Sort::Relevance);
        let query = ListQuery::parse(&pairs(&[("q", "%_\\")]), true).unwrap();
        assert!(query.unmatchable);
        let query = ListQuery::parse(&pairs(&[("sort", "relevance")]), false).unwrap();
        assert_eq!(query.sort, Sort::Newest);
    }
}
