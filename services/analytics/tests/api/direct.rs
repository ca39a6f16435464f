//! The handler and the routes without the broker: exact figures, independence from arrival
//! order, admin-only access, parameter validation.

use crate::figures::{assert_january, snapshot};
use crate::helpers::{DirectApp, count};
use crate::history::{applied, january};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scripted_month_gives_exact_figures() {
    let app = DirectApp::start().await;
    let events = january();
    app.feed(&events).await;
    let mut conn = app.db.connect().await;
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM inbox").await, applied(&events) as i64);
    // The order facts carry their status, derived from the event times.
    for (status, expected) in [("pending", 1), ("confirmed", 3), ("shipped", 1), ("cancelled", 2), ("failed", 1)] {
        let sql = format!("SELECT count(*) AS n FROM orders WHERE status = '{status}'");
        assert_eq!(count(&mut conn, &sql).await, expected, "{status}");
    }
    // The refund that arrived before its order is kept, not dropped.
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM refunds").await, 2);
    assert_january(&app.api).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrival_order_does_not_change_any_figure() {
    let forward = DirectApp::start().await;
    let backward = DirectApp::start().await;
    let events = january();
    forward.feed(&events).await;
    // Everything reversed: confirmations before creations, cancellations before confirmations,
    // product updates before creations, the duplicate before the original.
    backward.feed(events.iter().rev()).await;
    assert_january(&backward.api).await;
    assert_eq!(snapshot(&forward.api).await, snapshot(&backward.api).await);
    // Feeding the whole month again (a redelivery of everything) changes nothing.
    backward.feed(&events).await;
    assert_eq!(snapshot(&forward.api).await, snapshot(&backward.api).await);
    backward.stop().await;

    // A few fixed pseudo-random interleavings, each into a fresh database.
    for seed in [7_u64, 2026, 0x5eed] {
        let shuffled = DirectApp::start().await;
        shuffled.feed(shuffle(&events, seed).iter()).await;
        assert_eq!(snapshot(&forward.api).await, snapshot(&shuffled.api).await, "seed {seed}");
        shuffled.stop().await;
    }
    forward.stop().await;
}

/// Fisher–Yates with a xorshift generator: reproducible without a `rand` dependency.
fn shuffle<T: Clone>(items: &[T], seed: u64) -> Vec<T> {
    let mut state = seed.max(1);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = items.to_vec();
    for i in (1..out.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        out.swap(i, j);
    }
    out
}

const ENDPOINTS: [&str; 3] = ["/analytics/top-selling", "/analytics/revenue", "/analytics/users"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_for_admins_only() {
    let app = DirectApp::start().await;
    for path in ENDPOINTS {
        let response = app.api.get_as(path, None).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        let response = app.api.get_as(path, Some(&app.api.customer)).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "forbidden");
        assert_eq!(app.api.get_as(path, Some(&app.api.admin)).await.status(), StatusCode::OK, "{path}");
    }
    // Invalid parameters from a non-admin are still a 403: the role is checked first.
    let response = app.api.get_as("/analytics/revenue?interval=year", Some(&app.api.customer)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_parameters_are_400_with_field_errors() {
    let app = DirectApp::start().await;
    let cases: &[(&str, &[&str])] = &[
        ("/analytics/top-selling?from=yesterday", &["from"]),
        ("/analytics/top-selling?to=2026-13-01", &["to"]),
        ("/analytics/top-selling?from=2026-02-01&to=2026-01-01", &["from"]),
        ("/analytics/top-selling?limit=101", &["limit"]),
        ("/analytics/top-selling?limit=0", &["limit"]),
        ("/analytics/top-selling?limit=ten", &["limit"]),
        ("/analytics/top-selling?by=price", &["by"]),
        ("/analytics/top-selling?sort=units", &["sort"]),
        ("/analytics/revenue?interval=year", &["interval"]),
        ("/analytics/revenue?interval=hour&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", &["from", "interval"]),
        ("/analytics/users?from=2026-01-01T25:00:00Z", &["from"]),
        ("/analytics/users?from=2026-01-02&to=2026-01-01", &["from"]),
    ];
    for (path, fields) in cases {
        let response = app.api.get_as(path, Some(&app.api.admin)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "validation_failed", "{path}");
        let got: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(&got, fields, "{path}: {body}");
    }
    // Boundaries that are fine: limit 100, an empty range (from = to), an offset converted to UTC.
    for path in [
        "/analytics/top-selling?limit=100",
        "/analytics/revenue?from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
        "/analytics/users?from=2026-01-01T10:00:00%2B02:00",
    ] {
        assert_eq!(app.api.get_as(path, Some(&app.api.admin)).await.status(), StatusCode::OK, "{path}");
    }
    let body = app.api.report("/analytics/users?from=2026-01-01T10:00:00%2B02:00").await;
    assert_eq!(body["from"], "2026-01-01T08:00:00Z");
    app.stop().await;
}
