//! The figures `history::january()` must produce, computed by hand, and the report queries whose
//! answers the replay test compares.

use crate::helpers::Api;
use crate::history::{P1, P2, P3};
use serde_json::{Value, json};

/// Queries covering every endpoint and parameter; the replay test compares all of them.
pub const QUERIES: &[&str] = &[
    "/analytics/top-selling",
    "/analytics/top-selling?by=revenue",
    "/analytics/top-selling?category=furniture",
    "/analytics/top-selling?category=textiles&by=revenue",
    "/analytics/top-selling?from=2026-01-06&to=2026-01-12",
    "/analytics/top-selling?limit=1",
    "/analytics/revenue",
    "/analytics/revenue?interval=week",
    "/analytics/revenue?interval=month",
    "/analytics/revenue?interval=day&from=2026-01-07&to=2026-01-08T12:00:00Z",
    "/analytics/users",
    "/analytics/users?from=2026-01-12&to=2026-01-31",
];

fn eur(amount_minor: i64) -> Value {
    json!({"amount_minor": amount_minor, "currency": "EUR"})
}

fn usd(amount_minor: i64) -> Value {
    json!({"amount_minor": amount_minor, "currency": "USD"})
}

fn lamp() -> Value {
    json!({"product_id": P1, "sku": "LAMP-1", "name": "Desk Lamp", "category": "lighting"})
}
fn chair() -> Value {
    json!({"product_id": P2, "sku": "CHAIR-1", "name": "Oak Chair", "category": "furniture"})
}
/// The rug's current category is furniture (it was textiles until 10 Jan).
fn rug() -> Value {
    json!({"product_id": P3, "sku": "RUG-1", "name": "Wool Rug", "category": "furniture"})
}

fn item(rank: u32, product: Value, units: i64, orders: i64, revenue: Value, currency: Option<&str>) -> Value {
    let mut item = product;
    item["rank"] = json!(rank);
    item["units"] = json!(units);
    item["orders"] = json!(orders);
    item["revenue"] = revenue;
    if let Some(currency) = currency {
        item["currency"] = json!(currency);
    }
    item
}

fn figures(currency: &str, gross: i64, refunds: i64, orders: i64, aov: i64) -> Value {
    json!({"currency": currency, "gross_minor": gross, "refunds_minor": refunds, "net_minor": gross - refunds,
           "orders": orders, "average_order_value_minor": aov})
}

fn bucket(start: &str, currencies: Value) -> Value {
    json!({"start": start, "currencies": currencies})
}

fn active(series: &[(&str, i64)]) -> Value {
    Value::Array(series.iter().map(|(start, users)| json!({"start": start, "users": users})).collect())
}

/// Asserts every figure of the scripted month.
pub async fn assert_january(api: &Api) {
    // Sales: O1, O2, O5 (EUR) and O6 (USD). O3/O8 (cancelled), O4 (failed), O7 (pending) are out.
    let body = api.report("/analytics/top-selling").await;
    assert_eq!(body["by"], "units");
    assert_eq!(body["limit"], 10);
    assert_eq!((body["from"].clone(), body["to"].clone()), (Value::Null, Value::Null));
    assert_eq!(
        body["items"],
        json!([
            // P1 and P3 tie on 3 units: the lower product id first.
            item(1, lamp(), 3, 2, json!([eur(4500)]), None),
            item(2, rug(), 3, 2, json!([eur(24000)]), None),
            item(3, chair(), 2, 2, json!([eur(12000), usd(13000)]), None),
        ])
    );

    // By revenue: one ranking per currency, never adding EUR to USD.
    let body = api.report("/analytics/top-selling?by=revenue").await;
    assert_eq!(
        body["items"],
        json!([
            item(1, rug(), 3, 2, json!([eur(24000)]), Some("EUR")),
            item(2, chair(), 1, 1, json!([eur(12000)]), Some("EUR")),
            item(3, lamp(), 3, 2, json!([eur(4500)]), Some("EUR")),
            item(1, chair(), 1, 1, json!([usd(13000)]), Some("USD")),
        ])
    );

    // The category is the product's at the time of the order: O2's rug was textiles.
    let body = api.report("/analytics/top-selling?category=furniture").await;
    assert_eq!(body["category"], "furniture");
    assert_eq!(
        body["items"],
        json!([
            item(1, chair(), 2, 2, json!([eur(12000), usd(13000)]), None),
            item(2, rug(), 2, 1, json!([eur(16000)]), None),
        ])
    );
    let body = api.report("/analytics/top-selling?category=textiles&by=revenue").await;
    assert_eq!(body["items"], json!([item(1, rug(), 1, 1, json!([eur(8000)]), Some("EUR"))]));

    // A date `to` covers that whole day: [6 Jan, 13 Jan) holds O2 only (O3 was cancelled).
    let body = api.report("/analytics/top-selling?from=2026-01-06&to=2026-01-12").await;
    assert_eq!(
        (body["from"].as_str(), body["to"].as_str()),
        (Some("2026-01-06T00:00:00Z"), Some("2026-01-13T00:00:00Z"))
    );
    assert_eq!(body["items"], json!([item(1, rug(), 1, 1, json!([eur(8000)]), None)]));

    let body = api.report("/analytics/top-selling?limit=1").await;
    assert_eq!(body["items"], json!([item(1, lamp(), 3, 2, json!([eur(4500)]), None)]));

    // Revenue: gross by confirmation day (cancelled orders included: their refunds are subtracted
    // on the refund's day); AOV = gross / orders rounded down.
    let body = api.report("/analytics/revenue").await;
    assert_eq!(body["interval"], "day");
    assert_eq!(
        body["buckets"],
        json!([
            bucket("2026-01-05T00:00:00Z", json!([figures("EUR", 15000, 0, 1, 15000)])),
            bucket("2026-01-06T00:00:00Z", json!([figures("EUR", 8000, 0, 1, 8000)])),
            bucket("2026-01-07T00:00:00Z", json!([figures("EUR", 4500, 0, 1, 4500)])),
            bucket("2026-01-08T00:00:00Z", json!([figures("EUR", 0, 4500, 0, 0)])),
            bucket("2026-01-13T00:00:00Z", json!([figures("EUR", 17500, 0, 1, 17500)])),
            bucket("2026-01-14T00:00:00Z", json!([figures("USD", 13000, 0, 1, 13000)])),
            bucket("2026-01-20T00:00:00Z", json!([figures("EUR", 1501, 0, 1, 1501)])),
            bucket("2026-01-21T00:00:00Z", json!([figures("EUR", 0, 1501, 0, 0)])),
        ])
    );
    // 46501 / 5 = 9300.2 → 9300.
    let totals = json!([figures("EUR", 46501, 6001, 5, 9300), figures("USD", 13000, 0, 1, 13000)]);
    assert_eq!(body["totals"], totals);

    let body = api.report("/analytics/revenue?interval=week").await;
    assert_eq!(
        body["buckets"],
        json!([
            // 27500 / 3 = 9166.67 → 9166.
            bucket("2026-01-05T00:00:00Z", json!([figures("EUR", 27500, 4500, 3, 9166)])),
            bucket(
                "2026-01-12T00:00:00Z",
                json!([figures("EUR", 17500, 0, 1, 17500), figures("USD", 13000, 0, 1, 13000)])
            ),
            bucket("2026-01-19T00:00:00Z", json!([figures("EUR", 1501, 1501, 1, 1501)])),
        ])
    );
    assert_eq!(body["totals"], totals);

    let body = api.report("/analytics/revenue?interval=month").await;
    assert_eq!(body["buckets"], json!([bucket("2026-01-01T00:00:00Z", totals.clone())]));

    let body = api.report("/analytics/revenue?interval=day&from=2026-01-07&to=2026-01-08T12:00:00Z").await;
    assert_eq!(
        body["buckets"],
        json!([
            bucket("2026-01-07T00:00:00Z", json!([figures("EUR", 4500, 0, 1, 4500)])),
            bucket("2026-01-08T00:00:00Z", json!([figures("EUR", 0, 4500, 0, 0)])),
        ])
    );
    assert_eq!(body["totals"], json!([figures("EUR", 4500, 4500, 1, 4500)]));

    // Users: the duplicate login counts once; activity = logins plus orders placed.
    let body = api.report("/analytics/users").await;
    assert_eq!(
        body,
        json!({
            "from": null, "to": null,
            "registrations": 3,
            "logins": 6,
            "active_users": 3,
            "daily_active_users": active(&[
                ("2026-01-05T00:00:00Z", 1), ("2026-01-06T00:00:00Z", 2), ("2026-01-12T00:00:00Z", 1),
                ("2026-01-13T00:00:00Z", 1), ("2026-01-14T00:00:00Z", 1), ("2026-01-15T00:00:00Z", 1),
                ("2026-01-20T00:00:00Z", 1), ("2026-02-02T00:00:00Z", 1),
            ]),
            "weekly_active_users": active(&[
                ("2026-01-05T00:00:00Z", 2), ("2026-01-12T00:00:00Z", 3), ("2026-01-19T00:00:00Z", 1),
                ("2026-02-02T00:00:00Z", 1),
            ]),
            "monthly_active_users": active(&[("2026-01-01T00:00:00Z", 3), ("2026-02-01T00:00:00Z", 1)]),
            // U1 (O1), U2 (O2, O5), U3 (O6): one repeat buyer of three.
            "buyers": 3,
            "repeat_buyers": 1,
            "repeat_buyer_rate": 0.3333,
            // C1, C2, C3 (through O6's user), G1 (O3, confirmed before its cancellation) and G2
            // (merged into C2, which ordered O5 later) converted; G3 did not.
            "carts_with_add": 6,
            "carts_converted": 5,
            "cart_conversion_rate": 0.8333,
        })
    );

    let body = api.report("/analytics/users?from=2026-01-12&to=2026-01-31").await;
    assert_eq!(
        body,
        json!({
            "from": "2026-01-12T00:00:00Z", "to": "2026-02-01T00:00:00Z",
            "registrations": 1,
            "logins": 1,
            "active_users": 3,
            "daily_active_users": active(&[
                ("2026-01-12T00:00:00Z", 1), ("2026-01-13T00:00:00Z", 1), ("2026-01-14T00:00:00Z", 1),
                ("2026-01-15T00:00:00Z", 1), ("2026-01-20T00:00:00Z", 1),
            ]),
            "weekly_active_users": active(&[("2026-01-12T00:00:00Z", 3), ("2026-01-19T00:00:00Z", 1)]),
            "monthly_active_users": active(&[("2026-01-01T00:00:00Z", 3)]),
            "buyers": 2,
            "repeat_buyers": 0,
            "repeat_buyer_rate": 0.0,
            "carts_with_add": 1,
            "carts_converted": 1,
            "cart_conversion_rate": 1.0,
        })
    );
}

/// Every query's answer, for comparing two instances.
pub async fn snapshot(api: &Api) -> Vec<(String, Value)> {
    let mut answers = Vec::new();
    for query in QUERIES {
        answers.push(((*query).to_owned(), api.report(query).await));
    }
    answers
}
