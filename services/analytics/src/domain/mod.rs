//! Report parameters and their validation (no I/O): time ranges, intervals, rankings.
//!
//! Every report takes an optional half-open UTC range `[from, to)`. A value is an RFC 3339 /
//! ISO 8601 date-time (`2026-01-05T10:00:00Z`, an offset is converted to UTC, no offset means UTC)
//! or a calendar date. A date in `from` means its midnight; a date in `to` means the end of that
//! day (the next midnight), so `from=2026-01-05&to=2026-01-05` is the whole of 5 January.

pub mod ids;

use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, Utc};
use serde::Serialize;
use shop_common::error::FieldError;
use std::collections::HashMap;

/// The most rows a ranking returns.
pub const MAX_LIMIT: i64 = 100;
/// Rows a ranking returns without `limit`.
pub const DEFAULT_LIMIT: i64 = 10;
const MAX_CATEGORY_LEN: usize = 100;

/// A half-open UTC range; `None` ends are unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Range {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Bucket width of the revenue series (UTC; weeks start on Monday, ISO 8601).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Interval {
    Day,
    Week,
    Month,
}

impl Interval {
    /// The `date_trunc` field name.
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Day => "day",
            Interval::Week => "week",
            Interval::Month => "month",
        }
    }
}

/// What `top-selling` ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RankBy {
    Units,
    Revenue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopSellingParams {
    pub range: Range,
    pub by: RankBy,
    pub limit: i64,
    pub category: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevenueParams {
    pub range: Range,
    pub interval: Interval,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsersParams {
    pub range: Range,
}

/// Query parameters as received; empty values count as absent.
pub type RawParams = HashMap<String, String>;

struct Reader<'a> {
    params: &'a RawParams,
    errors: Vec<FieldError>,
}

impl<'a> Reader<'a> {
    fn new(params: &'a RawParams, allowed: &[&str]) -> Self {
        let mut errors = Vec::new();
        let mut unknown: Vec<&String> = params.keys().filter(|k| !allowed.contains(&k.as_str())).collect();
        unknown.sort();
        for name in unknown {
            errors.push(FieldError::new(name, format!("unknown parameter (allowed: {})", allowed.join(", "))));
        }
        Self { params, errors }
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        self.params.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    fn fail(&mut self, name: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(name, message));
    }

    fn range(&mut self) -> Range {
        let from = self.get("from").and_then(|v| match parse_instant(v, false) {
            Ok(at) => Some(at),
            Err(message) => {
                self.fail("from", message);
                None
            }
        });
        let to = self.get("to").and_then(|v| match parse_instant(v, true) {
            Ok(at) => Some(at),
            Err(message) => {
                self.fail("to", message);
                None
            }
        });
        // A date `to` ends at the following midnight, so `from` must come before that midnight
        // (`from=2026-01-02&to=2026-01-01` is reversed, not empty); a date-time `to` may equal `from`.
        let to_is_date = self.get("to").is_some_and(|v| NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok());
        if let (Some(f), Some(t)) = (from, to)
            && (f > t || (to_is_date && f == t))
        {
            self.fail("from", "must not be after `to`");
        }
        Range { from, to }
    }

    fn finish<T>(self, value: T) -> Result<T, Vec<FieldError>> {
        if self.errors.is_empty() { Ok(value) } else { Err(self.errors) }
    }
}

/// Parses a range bound; `end` turns a bare date into the following midnight.
pub fn parse_instant(value: &str, end: bool) -> Result<DateTime<Utc>, String> {
    // An unencoded `+01:00` offset arrives as a space after form decoding.
    let value = value.replace(' ', "+");
    if let Ok(at) = DateTime::parse_from_rfc3339(&value) {
        return Ok(at.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(&value, format) {
            return Ok(naive.and_utc());
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(&value, "%Y-%m-%d") {
        let day = if end { date.checked_add_days(Days::new(1)) } else { Some(date) };
        if let Some(midnight) = day.and_then(|d| d.and_hms_opt(0, 0, 0)) {
            return Ok(midnight.and_utc());
        }
    }
    Err("must be an ISO 8601 date (2026-01-31) or date-time (2026-01-31T12:00:00Z)".into())
}

pub fn top_selling(params: &RawParams) -> Result<TopSellingParams, Vec<FieldError>> {
    let mut r = Reader::new(params, &["by", "from", "to", "limit", "category"]);
    let range = r.range();
    let by = match r.get("by") {
        None | Some("units") => RankBy::Units,
        Some("revenue") => RankBy::Revenue,
        Some(_) => {
            r.fail("by", "must be `units` or `revenue`");
            RankBy::Units
        }
    };
    let limit = match r.get("limit").map(str::parse::<i64>) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            r.fail("limit", format!("must be an integer from 1 to {MAX_LIMIT}"));
            DEFAULT_LIMIT
        }
    };
    let category = r.get("category").map(str::to_owned);
    if category.as_ref().is_some_and(|c| c.chars().count() > MAX_CATEGORY_LEN) {
        r.fail("category", format!("must be at most {MAX_CATEGORY_LEN} characters"));
    }
    r.finish(TopSellingParams { range, by, limit, category })
}

pub fn revenue(params: &RawParams) -> Result<RevenueParams, Vec<FieldError>> {
    let mut r = Reader::new(params, &["interval", "from", "to"]);
    let range = r.range();
    let interval = match r.get("interval") {
        None | Some("day") => Interval::Day,
        Some("week") => Interval::Week,
        Some("month") => Interval::Month,
        Some(_) => {
            r.fail("interval", "must be `day`, `week` or `month`");
            Interval::Day
        }
    };
    r.finish(RevenueParams { range, interval })
}

pub fn users(params: &RawParams) -> Result<UsersParams, Vec<FieldError>> {
    let mut r = Reader::new(params, &["from", "to"]);
    let range = r.range();
    r.finish(UsersParams { range })
}

/// `numerator / denominator` rounded to 4 decimals; `None` when nothing was there to divide.
pub fn rate(numerator: i64, denominator: i64) -> Option<f64> {
    (denominator > 0).then(|| ((numerator as f64 / denominator as f64) * 10_000.0).round() / 10_000.0)
}

/// Average order value in minor units, rounded down (towards negative infinity); 0 without orders.
pub fn average_order_value(gross_minor: i64, orders: i64) -> i64 {
    if orders > 0 { gross_minor.div_euclid(orders) } else { 0 }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawParams {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn dates_cover_whole_days_and_times_are_utc() {
        let p = users(&raw(&[("from", "2026-01-05"), ("to", "2026-01-05")])).unwrap();
        assert_eq!(p.range.from, Some(at("2026-01-05T00:00:00Z")));
        assert_eq!(p.range.to, Some(at("2026-01-06T00:00:00Z")));
        let p = users(&raw(&[("from", "2026-01-05T10:00:00 01:00"), ("to", "2026-01-05T12:00:00")])).unwrap();
        assert_eq!(p.range.from, Some(at("2026-01-05T09:00:00Z")));
        assert_eq!(p.range.to, Some(at("2026-01-05T12:00:00Z")));
        assert_eq!(users(&raw(&[("from", ""), ("to", " ")])).unwrap().range, Range::default());
    }

    #[test]
    fn invalid_parameters_are_field_errors() {
        let errors =
            top_selling(&raw(&[("from", "yesterday"), ("limit", "101"), ("by", "price"), ("x", "1")])).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["x", "from", "by", "limit"]);
        let errors = revenue(&raw(&[("from", "2026-02-01"), ("to", "2026-01-01"), ("interval", "year")])).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["from", "interval"]);
        assert!(top_selling(&raw(&[("limit", "0")])).is_err());
        assert!(top_selling(&raw(&[("limit", "2.5")])).is_err());
        assert!(users(&raw(&[("to", "2026-02-30")])).is_err());
        // A reversed pair of dates is an error even though `to` reaches the next midnight.
        assert!(users(&raw(&[("from", "2026-01-02"), ("to", "2026-01-01")])).is_err());
        assert!(users(&raw(&[("from", "2026-01-01T10:00:00Z"), ("to", "2026-01-01")])).is_ok());
        assert!(users(&raw(&[("from", "2026-01-01T10:00:00Z"), ("to", "2026-01-01T10:00:00Z")])).is_ok());
    }

    #[test]
    fn defaults() {
        let p = top_selling(&RawParams::new()).unwrap();
        assert_eq!((p.by, p.limit, p.category), (RankBy::Units, DEFAULT_LIMIT, None));
        assert_eq!(revenue(&RawParams::new()).unwrap().interval, Interval::Day);
        let p = top_selling(&raw(&[("by", "revenue"), ("limit", "100"), ("category", "lamps")])).unwrap();
        assert_eq!((p.by, p.limit, p.category.as_deref()), (RankBy::Revenue, 100, Some("lamps")));
    }

    #[test]
    fn averages_round_down_and_rates_to_four_decimals() {
        assert_eq!(average_order_value(1000, 3), 333);
        assert_eq!(average_order_value(-1000, 3), -334);
        assert_eq!(average_order_value(500, 0), 0);
        assert_eq!(rate(1, 3), Some(0.3333));
        assert_eq!(rate(2, 3), Some(0.6667));
        assert_eq!(rate(0, 0), None);
    }
}
