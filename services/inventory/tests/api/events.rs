//! The consumers: `product.created` builds a stock row; `order.*` drive the engine once per
//! order, whatever the redeliveries.

use crate::helpers::{EVENT_TIMEOUT, TestApp, count, row, seed};
use serde_json::json;
use shop_common::events::Envelope;
use shop_inventory::db::stock;
use shop_inventory::domain::ProductId;
use shop_testkit::kafka::read_topic;
use shop_testkit::wait_until;
use std::time::Duration;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn product_created_creates_the_stock_row_once() {
    let app = TestApp::spawn().await;
    let product_id = Uuid::now_v7();
    let created = Envelope::new(
        "product.created",
        1,
        "catalog",
        product_id.to_string(),
        json!({"product_id": product_id, "sku": "SKU-1", "name": "Lamp", "initial_stock": 42, "low_stock_threshold": 4,
               "price": {"amount_minor": 1000, "currency": "EUR"}, "active": true}),
    );
    app.publish("product_events", &product_id.to_string(), &created).await;
    // A redelivery, then a replay under a new event id: both change nothing.
    app.publish("product_events", &product_id.to_string(), &created).await;
    let replay = Envelope { id: Uuid::now_v7(), ..created.clone() };
    app.publish("product_events", &product_id.to_string(), &replay).await;

    let db = &app.db;
    wait_until(EVENT_TIMEOUT, "the stock row", || async move {
        let mut conn = db.connect().await;
        stock::find(&mut conn, ProductId(product_id)).await.unwrap().is_some()
    })
    .await
    .unwrap();
    let mut conn = app.db.connect().await;
    wait_until(EVENT_TIMEOUT, "the replay to be consumed", || async {
        let mut conn = db.connect().await;
        count(&mut conn, &format!("SELECT count(*) AS n FROM inbox WHERE event_id = '{}'", replay.id)).await == 1
    })
    .await
    .unwrap();
    let s = row(&mut conn, ProductId(product_id)).await;
    assert_eq!((s.on_hand, s.reserved, s.low_stock_threshold, s.active), (42, 0, 4, true));
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM stock_adjustments").await, 1, "one initial audit row");

    let body: serde_json::Value = app.get(&format!("/inventory/{product_id}"), None).await.json().await.unwrap();
    assert_eq!(body["available"], 42);

    // product.deleted keeps the row but takes it out of stock.
    let deleted = Envelope::new(
        "product.deleted",
        1,
        "catalog",
        product_id.to_string(),
        json!({"product_id": product_id, "sku": "SKU-1"}),
    );
    app.publish("product_events", &product_id.to_string(), &deleted).await;
    wait_until(EVENT_TIMEOUT, "the product to be deactivated", || async {
        let mut conn = db.connect().await;
        !row(&mut conn, ProductId(product_id)).await.active
    })
    .await
    .unwrap();
    let body: serde_json::Value = app.get(&format!("/inventory/{product_id}"), None).await.json().await.unwrap();
    assert_eq!(body["in_stock"], false);
    app.stop().await;
}

fn order_created(order_id: Uuid, product: ProductId, quantity: i64) -> Envelope {
    Envelope::new(
        "order.created",
        1,
        "order",
        order_id.to_string(),
        json!({"order_id": order_id, "user_id": null, "lines": [{"product_id": product, "sku": "S", "name": "N", "quantity": quantity,
               "unit_price": {"amount_minor": 100, "currency": "EUR"}}], "total": {"amount_minor": 100, "currency": "EUR"},
               "created_at": chrono::Utc::now()}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_order_created_reserves_once_and_cancel_releases() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect().await;
    let product = seed(&mut conn, 10, 0).await;
    let order_id = Uuid::now_v7();
    let key = order_id.to_string();
    let created = order_created(order_id, product, 4);

    app.publish("order_events", &key, &created).await;
    app.publish("order_events", &key, &created).await;
    // The same order under a new event id (e.g. a producer replay) is a no-op as well.
    let replay = Envelope { id: Uuid::now_v7(), ..created.clone() };
    app.publish("order_events", &key, &replay).await;
    // An unknown type and an unknown version: ignored and dead-lettered, never blocking the partition.
    app.publish("order_events", &key, &Envelope::new("order.paid", 1, "order", key.clone(), json!({}))).await;
    app.publish("order_events", &key, &Envelope { id: Uuid::now_v7(), version: 9, ..created.clone() }).await;

    // Same key, same partition: once the replay is in the inbox, both earlier deliveries were handled.
    let db = &app.db;
    wait_until(EVENT_TIMEOUT, "the replay to be consumed", || async {
        let mut conn = db.connect().await;
        count(&mut conn, &format!("SELECT count(*) AS n FROM inbox WHERE event_id = '{}'", replay.id)).await == 1
    })
    .await
    .unwrap();
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM reservation_orders").await, 1);
    let records =
        read_topic(&app.topic("inventory_events"), 1, EVENT_TIMEOUT, Duration::from_millis(1500)).await.unwrap();
    let reserved: Vec<_> =
        records.iter().filter_map(|r| r.envelope.as_ref()).filter(|e| e.event_type == "inventory.reserved").collect();
    assert_eq!(reserved.len(), 1, "inventory.reserved exactly once");
    assert_eq!(reserved[0].key, key);
    assert_eq!(reserved[0].data["lines"], json!([{"product_id": product, "quantity": 4}]));
    let s = row(&mut conn, product).await;
    assert_eq!((s.reserved, s.available), (4, 6));
    let dead = read_topic(&app.topic("order_events.dlq"), 1, EVENT_TIMEOUT, Duration::from_millis(500)).await.unwrap();
    assert_eq!(dead.len(), 1, "only the unknown version is dead-lettered");

    // Cancelling releases; the same cancel again releases nothing more.
    let cancelled = Envelope::new(
        "order.cancelled",
        1,
        "order",
        key.clone(),
        json!({"order_id": order_id, "reason": "customer", "at": chrono::Utc::now()}),
    );
    app.publish("order_events", &key, &cancelled).await;
    app.publish("order_events", &key, &Envelope { id: Uuid::now_v7(), ..cancelled.clone() }).await;
    wait_until(EVENT_TIMEOUT, "the reservation to be released", || async {
        let mut conn = db.connect().await;
        row(&mut conn, product).await.available == 10
    })
    .await
    .unwrap();
    let records =
        read_topic(&app.topic("inventory_events"), 2, EVENT_TIMEOUT, Duration::from_millis(1500)).await.unwrap();
    let released =
        records.iter().filter_map(|r| r.envelope.as_ref()).filter(|e| e.event_type == "inventory.released").count();
    assert_eq!(released, 1);
    let s = row(&mut conn, product).await;
    assert_eq!((s.on_hand, s.reserved), (10, 0));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_shipped_commits_the_reservation() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect().await;
    let product = seed(&mut conn, 10, 0).await;
    let order_id = Uuid::now_v7();
    let key = order_id.to_string();
    app.publish("order_events", &key, &order_created(order_id, product, 3)).await;
    let shipped = Envelope::new(
        "order.shipped",
        1,
        "order",
        key.clone(),
        json!({"order_id": order_id, "at": chrono::Utc::now()}),
    );
    app.publish("order_events", &key, &shipped).await;
    let db = &app.db;
    wait_until(EVENT_TIMEOUT, "the sale to be committed", || async {
        let mut conn = db.connect().await;
        row(&mut conn, product).await.sold == 3
    })
    .await
    .unwrap();
    let s = row(&mut conn, product).await;
    assert_eq!((s.on_hand, s.reserved, s.available, s.sold), (7, 0, 7, 3));
    app.stop().await;
}
