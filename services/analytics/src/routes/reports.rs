//! `GET /analytics/{top-selling,revenue,users}` (admin). Definitions of every figure are in
//! docs/analytics.md; the SQL lives in `db::reports`.

use super::AppState;
use crate::db::reports;
use crate::domain::{self, Interval, Range, RankBy, RawParams, average_order_value, rate};
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shop_common::auth::AdminIdentity;
use shop_common::error::{ApiError, ApiResult};
use shop_common::money::Money;
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct TopSellingItem {
    pub rank: usize,
    /// Set when ranking by revenue: the ranking is per currency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    pub product_id: Uuid,
    pub sku: Option<String>,
    pub name: Option<String>,
    /// The product's current category (the filter uses the category at the time of each order).
    pub category: Option<String>,
    pub units: i64,
    pub orders: i64,
    /// Revenue per currency (one entry when ranking by revenue).
    pub revenue: Vec<Money>,
}

#[derive(Debug, Serialize)]
pub struct TopSelling {
    pub by: RankBy,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub category: Option<String>,
    pub limit: i64,
    pub items: Vec<TopSellingItem>,
}

/// `GET /analytics/top-selling?by=units|revenue&from=&to=&limit=&category=`
#[tracing::instrument(skip_all)]
pub async fn get_top_selling(
    state: web::Data<AppState>,
    _admin: AdminIdentity,
    query: web::Query<RawParams>,
) -> ApiResult<HttpResponse> {
    let params = domain::top_selling(&query).map_err(ApiError::validation)?;
    let mut conn = state.conn().await?;
    let sales = reports::product_sales(&mut conn, params.range, params.category.as_deref()).await?;

    let mut items: Vec<TopSellingItem> = match params.by {
        RankBy::Units => {
            let mut by_product: BTreeMap<Uuid, (i64, i64, Vec<Money>)> = BTreeMap::new();
            for row in sales {
                let entry = by_product.entry(row.product_id).or_default();
                entry.0 += row.units;
                entry.1 += row.orders;
                entry.2.push(Money::new(row.revenue_minor, row.currency));
            }
            let mut ranked: Vec<_> = by_product.into_iter().collect();
            // Most units first; ties by product id so the order is stable (and replay-identical).
            ranked.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(&b.0)));
            ranked
                .into_iter()
                .take(usize::try_from(params.limit).unwrap_or(usize::MAX))
                .enumerate()
                .map(|(i, (product_id, (units, orders, revenue)))| {
                    item(i + 1, None, product_id, units, orders, revenue)
                })
                .collect()
        }
        RankBy::Revenue => {
            let mut by_currency: BTreeMap<String, Vec<reports::ProductSales>> = BTreeMap::new();
            for row in sales {
                by_currency.entry(row.currency.clone()).or_default().push(row);
            }
            let mut items = Vec::new();
            for (currency, mut rows) in by_currency {
                rows.sort_by(|a, b| b.revenue_minor.cmp(&a.revenue_minor).then(a.product_id.cmp(&b.product_id)));
                let limit = usize::try_from(params.limit).unwrap_or(usize::MAX);
                for (i, row) in rows.into_iter().take(limit).enumerate() {
                    let revenue = vec![Money::new(row.revenue_minor, currency.clone())];
                    items.push(item(i + 1, Some(currency.clone()), row.product_id, row.units, row.orders, revenue));
                }
            }
            items
        }
    };

    let ids: Vec<Uuid> = items.iter().map(|i| i.product_id).collect();
    let labels = reports::product_labels(&mut conn, &ids).await?;
    for item in &mut items {
        if let Some(label) = labels.iter().find(|l| l.product_id == item.product_id) {
            item.sku.clone_from(&label.sku);
            item.name.clone_from(&label.name);
            item.category.clone_from(&label.category);
        }
    }
    Ok(HttpResponse::Ok().json(TopSelling {
        by: params.by,
        from: params.range.from,
        to: params.range.to,
        category: params.category,
        limit: params.limit,
        items,
    }))
}

fn item(
    rank: usize,
    currency: Option<String>,
    product_id: Uuid,
    units: i64,
    orders: i64,
    revenue: Vec<Money>,
) -> TopSellingItem {
    TopSellingItem { rank, currency, product_id, sku: None, name: None, category: None, units, orders, revenue }
}

/// One currency's figures over a bucket or the whole range (integer minor units).
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, Clone, Default)]
pub struct CurrencyRevenue {
    pub currency: String,
    pub gross_minor: i64,
    pub refunds_minor: i64,
    pub net_minor: i64,
    pub orders: i64,
    /// `gross_minor / orders`, rounded down; 0 without orders.
    pub average_order_value_minor: i64,
}

impl CurrencyRevenue {
    fn new(currency: String, gross_minor: i64, refunds_minor: i64, orders: i64) -> Self {
        Self {
            currency,
            gross_minor,
            refunds_minor,
            net_minor: gross_minor - refunds_minor,
            orders,
            average_order_value_minor: average_order_value(gross_minor, orders),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Bucket {
    pub start: DateTime<Utc>,
    pub currencies: Vec<CurrencyRevenue>,
}

#[derive(Debug, Serialize)]
pub struct Revenue {
    pub interval: Interval,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub buckets: Vec<Bucket>,
    pub totals: Vec<CurrencyRevenue>,
}

/// `GET /analytics/revenue?interval=day|week|month&from=&to=`
#[tracing::instrument(skip_all)]
pub async fn get_revenue(
    state: web::Data<AppState>,
    _admin: AdminIdentity,
    query: web::Query<RawParams>,
) -> ApiResult<HttpResponse> {
    let params = domain::revenue(&query).map_err(ApiError::validation)?;
    let mut conn = state.conn().await?;
    let rows = reports::revenue(&mut conn, params.range, params.interval).await?;
    let mut buckets: Vec<Bucket> = Vec::new();
    let mut totals: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
    for row in rows {
        let total = totals.entry(row.currency.clone()).or_default();
        total.0 += row.gross_minor;
        total.1 += row.refunds_minor;
        total.2 += row.orders;
        let figures = CurrencyRevenue::new(row.currency, row.gross_minor, row.refunds_minor, row.orders);
        match buckets.last_mut() {
            Some(bucket) if bucket.start == row.bucket => bucket.currencies.push(figures),
            _ => buckets.push(Bucket { start: row.bucket, currencies: vec![figures] }),
        }
    }
    let totals = totals
        .into_iter()
        .map(|(currency, (gross, refunds, orders))| CurrencyRevenue::new(currency, gross, refunds, orders))
        .collect();
    Ok(HttpResponse::Ok().json(Revenue {
        interval: params.interval,
        from: params.range.from,
        to: params.range.to,
        buckets,
        totals,
    }))
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ActiveUsers {
    pub start: DateTime<Utc>,
    pub users: i64,
}

#[derive(Debug, Serialize)]
pub struct Users {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub registrations: i64,
    pub logins: i64,
    pub active_users: i64,
    pub daily_active_users: Vec<ActiveUsers>,
    pub weekly_active_users: Vec<ActiveUsers>,
    pub monthly_active_users: Vec<ActiveUsers>,
    pub buyers: i64,
    pub repeat_buyers: i64,
    pub repeat_buyer_rate: Option<f64>,
    pub carts_with_add: i64,
    pub carts_converted: i64,
    pub cart_conversion_rate: Option<f64>,
}

/// `GET /analytics/users?from=&to=`
#[tracing::instrument(skip_all)]
pub async fn get_users(
    state: web::Data<AppState>,
    _admin: AdminIdentity,
    query: web::Query<RawParams>,
) -> ApiResult<HttpResponse> {
    let params = domain::users(&query).map_err(ApiError::validation)?;
    let range: Range = params.range;
    let mut conn = state.conn().await?;
    let totals = reports::user_totals(&mut conn, range).await?;
    let mut series = Vec::with_capacity(3);
    for interval in [Interval::Day, Interval::Week, Interval::Month] {
        let periods = reports::active_users(&mut conn, range, interval).await?;
        series.push(periods.into_iter().map(|p| ActiveUsers { start: p.start, users: p.users }).collect::<Vec<_>>());
    }
    let monthly = series.pop().unwrap_or_default();
    let weekly = series.pop().unwrap_or_default();
    let daily = series.pop().unwrap_or_default();
    Ok(HttpResponse::Ok().json(Users {
        from: range.from,
        to: range.to,
        registrations: totals.registrations,
        logins: totals.logins,
        active_users: totals.active_users,
        daily_active_users: daily,
        weekly_active_users: weekly,
        monthly_active_users: monthly,
        buyers: totals.buyers,
        repeat_buyers: totals.repeat_buyers,
        repeat_buyer_rate: rate(totals.repeat_buyers, totals.buyers),
        carts_with_add: totals.carts_with_add,
        carts_converted: totals.carts_converted,
        cart_conversion_rate: rate(totals.carts_converted, totals.carts_with_add),
    }))
}
