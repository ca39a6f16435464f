//! The HTTP API: public reads, admin updates (validation, conflicts, concurrency, audit), the
//! low-stock listing, admin-only enforcement, metrics.

use crate::helpers::{EVENT_TIMEOUT, TestApp, count, row, seed};
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shop_common::events::Envelope;
use shop_testkit::kafka::read_topic;
use std::time::Duration;

fn problem_code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_inventory_shows_stock_and_answers_problems_for_unknown_ids() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect().await;
    let p = seed(&mut conn, 7, 2).await;

    let response = app.get(&format!("/inventory/{p}"), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"product_id": p, "on_hand": 7, "reserved": 0, "available": 7, "low_stock_threshold": 2, "in_stock": true})
    );

    for path in
        [format!("/inventory/{}", uuid::Uuid::now_v7()), "/inventory/not-a-uuid".into(), "/inventory/%00".into()]
    {
        let response = app.get(&path, None).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        let body: Value = response.json().await.unwrap();
        assert_eq!(problem_code(&body), "not_found");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_is_admin_only_validated_and_never_goes_below_reserved() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect().await;
    let p = seed(&mut conn, 10, 0).await;
    let body = json!({"product_id": p, "mode": "adjust", "quantity": 5, "reason": "restock"});

    assert_eq!(app.update(&body, None).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.update(&body, Some(&app.customer)).await.status(), StatusCode::FORBIDDEN);

    let response = app.update(&body, Some(&app.admin)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let view: Value = response.json().await.unwrap();
    assert_eq!(view["on_hand"], 15);

    // Hold 12 units in a reservation, then try to go below them.
    shop_inventory::db::engine::reserve(&mut conn, crate::helpers::order(), &[crate::helpers::line(p, 12)])
        .await
        .unwrap();
    for (mode, quantity) in [("adjust", -4), ("set", 11)] {
        let response = app
            .update(&json!({"product_id": p, "mode": mode, "quantity": quantity, "reason": "count"}), Some(&app.admin))
            .await;
        assert_eq!(response.status(), StatusCode::CONFLICT, "{mode} {quantity}");
        assert_eq!(problem_code(&response.json().await.unwrap()), "conflict");
    }
    let ok =
        app.update(&json!({"product_id": p, "mode": "set", "quantity": 12, "reason": "count"}), Some(&app.admin)).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let s = row(&mut conn, p).await;
    assert_eq!((s.on_hand, s.reserved, s.available), (12, 12, 0));

    let unknown = json!({"product_id": uuid::Uuid::now_v7(), "mode": "adjust", "quantity": 1, "reason": "x"});
    assert_eq!(app.update(&unknown, Some(&app.admin)).await.status(), StatusCode::NOT_FOUND);

    let invalid = [
        json!({"product_id": p, "mode": "adjust", "quantity": 0, "reason": "x"}),
        json!({"product_id": p, "mode": "set", "quantity": -1, "reason": "x"}),
        json!({"product_id": p, "mode": "set", "quantity": 1, "reason": ""}),
        json!({"product_id": p, "mode": "set", "quantity": 1, "reason": "r".repeat(201)}),
        json!({"product_id": p, "mode": "double", "quantity": 1, "reason": "x"}),
        json!({"product_id": p, "mode": "set", "quantity": "1", "reason": "x"}),
        json!({"product_id": "nope", "mode": "set", "quantity": 1, "reason": "x"}),
        json!({"product_id": p, "mode": "set", "quantity": 1, "reason": "x", "on_hand": 99}),
        json!({"product_id": p, "mode": "set", "quantity": 1}),
    ];
    for body in invalid {
        let response = app.update(&body, Some(&app.admin)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(response.headers()["content-type"], "application/problem+json");
    }
    // Audit: the initial row, +5 and set 12 — rejected requests left nothing behind.
    let audited =
        count(&mut conn, &format!("SELECT count(*) AS n FROM stock_adjustments WHERE product_id = '{p}'")).await;
    assert_eq!(audited, 3);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deltas_never_lose_an_update() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect().await;
    let p = seed(&mut conn, 100, 0).await;

    let requests = (0..50).map(|i| {
        let quantity = if i % 2 == 0 { 3 } else { -1 };
        let body = json!({"product_id": p, "mode": "adjust", "quantity": quantity, "reason": format!("delta {i}")});
        let app = &app;
        async move { app.update(&body, Some(&app.admin)).await.status() }
    });
    let statuses = join_all(requests).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{statuses:?}");

    assert_eq!(row(&mut conn, p).await.on_hand, 100 + 25 * 3 - 25);
    let audit_rows = count(
        &mut conn,
        &format!("SELECT count(*) AS n FROM stock_adjustments WHERE product_id = '{p}' AND mode = 'adjust'"),
    )
    .await;
    assert_eq!(audit_rows, 50);
    // Each audit row's before/after chain is consistent: the afters are all distinct values.
    let chained = count(
        &mut conn,
        &format!(
            "SELECT count(*) AS n FROM stock_adjustments WHERE product_id = '{p}' \
             AND mode = 'adjust' AND on_hand_after = on_hand_before + delta"
        ),
    )
    .await;
    assert_eq!(chained, 50);
    let events =
        read_topic(&app.topic("inventory_events"), 50, EVENT_TIMEOUT, Duration::from_millis(500)).await.unwrap();
    let adjusted =
        events.iter().filter(|r| r.envelope.as_ref().is_some_and(|e| e.event_type == "inventory.adjusted")).count();
    assert_eq!(adjusted, 50);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_stock_alerts_once_per_crossing_and_is_listed_for_admins() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect().await;
    let p = seed(&mut conn, 10, 5).await;
    let healthy = seed(&mut conn, 100, 5).await;
    let adjust = |quantity: i64| json!({"product_id": p, "mode": "adjust", "quantity": quantity, "reason": "sale"});

    assert_eq!(app.update(&adjust(-5), Some(&app.admin)).await.status(), StatusCode::OK); // 5: crossed
    assert_eq!(app.update(&adjust(-1), Some(&app.admin)).await.status(), StatusCode::OK); // 4: still low
    assert_eq!(app.update(&adjust(-1), Some(&app.admin)).await.status(), StatusCode::OK); // 3: still low

    let records =
        read_topic(&app.topic("inventory_events"), 4, EVENT_TIMEOUT, Duration::from_millis(1500)).await.unwrap();
    let events: Vec<Envelope> = records.iter().filter_map(|r| r.envelope.clone()).collect();
    let low: Vec<&Envelope> = events.iter().filter(|e| e.event_type == "inventory.low_stock").collect();
    assert_eq!(low.len(), 1, "one alert for one crossing: {events:?}");
    assert_eq!(low[0].data["available"], 5);
    assert_eq!(low[0].data["threshold"], 5);
    assert_eq!(low[0].key, p.to_string());
    assert_eq!(events.iter().filter(|e| e.event_type == "inventory.adjusted").count(), 3);

    assert_eq!(app.get("/inventory/low-stock", None).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/inventory/low-stock", Some(&app.customer)).await.status(), StatusCode::FORBIDDEN);
    let response = app.get("/inventory/low-stock?page=1&page_size=10", Some(&app.admin)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let page: Value = response.json().await.unwrap();
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["product_id"], json!(p));
    assert_eq!(page["items"][0]["available"], 3);
    assert!(page["items"].as_array().unwrap().iter().all(|i| i["product_id"] != json!(healthy)));

    // Back above the threshold: off the list.
    assert_eq!(app.update(&adjust(10), Some(&app.admin)).await.status(), StatusCode::OK);
    let page: Value = app.get("/inventory/low-stock", Some(&app.admin)).await.json().await.unwrap();
    assert_eq!(page["total"], 0);

    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains(&format!("ecommerce_inventory_stock{{product_id=\"{p}\"}} 13")), "{metrics}");
    app.stop().await;
}
