//! Events: product writes reach `product_events`; inventory events drive the in-stock flag.

use crate::helpers::{EVENT_TIMEOUT, TestApp, merge, product_body};
use serde_json::json;
use shop_common::events::Envelope;
use shop_common::kafka::EventProducer;
use shop_common::kafka::producer::OutgoingRecord;
use shop_common::settings::{Env, KafkaSettings};
use shop_testkit::kafka::read_topic;
use shop_testkit::wait_until;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn product_writes_are_published_in_order() {
    let app = TestApp::spawn().await;
    let product = app.create_product(&merge(product_body("EV-1", "Clock", 1500), json!({"initial_stock": 12}))).await;
    app.put_product(product.id, &json!({"name": "Wall Clock"}), None).await;
    app.delete_product(product.id).await;

    let records = read_topic(&app.topic("product_events"), 3, EVENT_TIMEOUT, Duration::from_millis(500)).await.unwrap();
    assert_eq!(records.len(), 3, "each write once");
    let events: Vec<Envelope> = records.iter().map(|r| r.envelope.clone().expect("an envelope")).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["product.created", "product.updated", "product.deleted"]);
    assert!(records.iter().all(|r| r.key == product.id.to_string()), "keyed by product id");
    assert!(events.iter().all(|e| e.source == "catalog" && e.version == 1));
    assert_eq!(events[0].data["initial_stock"], 12);
    assert_eq!(events[0].data["price"], json!({"amount_minor": 1500, "currency": "EUR"}));
    assert_eq!(events[1].data["name"], "Wall Clock");
    assert!(events[1].data.get("initial_stock").is_none());
    assert_eq!(events[2].data["sku"], "EV-1");
    app.stop().await;
}

async fn publish(app: &TestApp, event: &Envelope) {
    let bootstrap = shop_testkit::kafka::bootstrap();
    let settings = KafkaSettings::from_env(&Env::from_pairs([("KAFKA_BOOTSTRAP", bootstrap.as_str())])).unwrap();
    let producer = EventProducer::new(&settings, "catalog-test").unwrap();
    let record = OutgoingRecord {
        topic: app.topic("inventory_events"),
        key: event.key.clone(),
        payload: serde_json::to_vec(event).unwrap(),
        headers: vec![],
    };
    producer.publish(&record).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_events_drive_the_in_stock_filter() {
    let app = TestApp::spawn().await;
    let product = app.create_product(&merge(product_body("INV-1", "Lamp", 1000), json!({"initial_stock": 2}))).await;
    assert_eq!(app.page("/products?in_stock=true").await.total, 1);

    let reserved = Envelope::new(
        "inventory.reserved",
        1,
        "inventory",
        "order-1",
        json!({"order_id": uuid::Uuid::now_v7(), "lines": [{"product_id": product.id, "quantity": 2}], "reserved_at": chrono::Utc::now()}),
    );
    // Delivered twice: applied once (inbox).
    publish(&app, &reserved).await;
    publish(&app, &reserved).await;
    wait_until(EVENT_TIMEOUT, "the reservation to empty the stock", || async {
        app.page("/products?in_stock=false").await.total == 1
    })
    .await
    .unwrap();
    assert_eq!(app.product(product.id).await.available, 0, "the cached product follows too");

    let adjusted = Envelope::new(
        "inventory.adjusted",
        1,
        "inventory",
        product.id.to_string(),
        json!({"product_id": product.id, "on_hand": 10, "reserved": 0, "available": 10, "delta": 10,
               "reason": "restock", "adjusted_at": chrono::Utc::now()}),
    );
    publish(&app, &adjusted).await;
    let released = Envelope::new(
        "inventory.released",
        1,
        "inventory",
        "order-1",
        json!({"order_id": uuid::Uuid::now_v7(), "lines": [{"product_id": product.id, "quantity": 1}], "reason": "cancelled", "released_at": chrono::Utc::now()}),
    );
    publish(&app, &released).await;
    wait_until(EVENT_TIMEOUT, "the restock and release", || async { app.product(product.id).await.available == 11 })
        .await
        .unwrap();
    assert_eq!(app.page("/products?in_stock=true").await.total, 1);
    let applied = app.sql_i64("SELECT count(*) AS value FROM inbox WHERE consumer = 'catalog.inventory'").await;
    assert_eq!(applied, 3, "the duplicate was skipped");
    app.stop().await;
}
