//! The saga consumer: `inventory.reserved` → payment → `CONFIRMED` (or `AWAITING_PAYMENT` /
//! `FAILED`), `inventory.rejected` → `FAILED`, redeliveries applied once, provider outages retried
//! with the same key, and the payment-timeout sweeper.

use crate::helpers::{EVENT_TIMEOUT, Options, ScriptedProvider, TestApp, outbox_count};
use serde_json::{Value, json};
use shop_common::events::Envelope;
use shop_payments::{PaymentOutcome, ProviderError};
use shop_testkit::kafka::read_topic;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use uuid::Uuid;

fn of_type<'a>(records: &'a [shop_testkit::kafka::ReadRecord], kind: &str) -> Vec<&'a Envelope> {
    records.iter().filter_map(|r| r.envelope.as_ref()).filter(|e| e.event_type == kind).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_stock_is_paid_and_confirmed_with_its_events() {
    let app = TestApp::spawn().await;
    let (order, _) = app.place_order(&app.customer, 2500, 2).await;
    app.publish_reserved(order).await;
    app.wait_status(order, "CONFIRMED").await;

    let view: Value = app.get(&format!("/orders/{order}"), Some(&app.customer)).await.json().await.unwrap();
    assert_eq!(view["payment"]["provider"], "instant");
    assert_eq!(view["payment"]["status"], "succeeded");
    assert_eq!(view["payment"]["amount"], json!({"amount_minor": 5000, "currency": "EUR"}));
    let history: Vec<_> = view["status_history"].as_array().unwrap().iter().map(|h| h["to"].clone()).collect();
    assert_eq!(history, [json!("PENDING"), json!("CONFIRMED")]);
    assert!(view["status_history"][1]["at"].is_string());

    let orders = read_topic(&app.topic("order_events"), 2, EVENT_TIMEOUT, Duration::from_millis(500)).await.unwrap();
    let confirmed = of_type(&orders, "order.confirmed");
    assert_eq!(confirmed.len(), 1);
    assert_eq!(confirmed[0].key, order.to_string());
    assert_eq!(confirmed[0].data["lines"][0]["quantity"], 2);
    assert_eq!(confirmed[0].data["total"]["amount_minor"], 5000);
    assert!(confirmed[0].data.get("cart_id").is_some());
    let payments =
        read_topic(&app.topic("payment_events"), 1, EVENT_TIMEOUT, Duration::from_millis(500)).await.unwrap();
    let succeeded = of_type(&payments, "payment.succeeded");
    assert_eq!(succeeded.len(), 1);
    assert_eq!(succeeded[0].data["provider"], "instant");
    assert_eq!(succeeded[0].data["amount"]["amount_minor"], 5000);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_or_replayed_reservation_is_applied_once() {
    let provider = Arc::new(ScriptedProvider::default());
    let app = TestApp::spawn_with(Options { provider: Some(provider.clone()), ..Default::default() }).await;
    let (order, _) = app.place_order(&app.customer, 1000, 1).await;
    let event = app.publish_reserved(order).await;
    app.publish("inventory_events", &order.to_string(), &event).await;
    let replay = Envelope { id: Uuid::now_v7(), ..event.clone() };
    app.publish("inventory_events", &order.to_string(), &replay).await;
    app.wait_consumed(&replay).await;

    assert_eq!(app.status_of(order).await, "CONFIRMED");
    assert_eq!(provider.starts.load(Ordering::SeqCst), 1, "charged once");
    let mut conn = app.db.connect().await;
    let key = order.to_string();
    assert_eq!(outbox_count(&mut conn, "order.confirmed", Some(&key)).await, 1);
    assert_eq!(outbox_count(&mut conn, "payment.succeeded", Some(&key)).await, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_stock_fails_the_order() {
    let app = TestApp::spawn().await;
    let (order, _) = app.place_order(&app.customer, 1000, 1).await;
    let event = app.publish_rejected(order).await;
    app.publish("inventory_events", &order.to_string(), &event).await;
    app.wait_status(order, "FAILED").await;
    app.wait_consumed(&event).await;

    let view: Value = app.get(&format!("/orders/{order}"), Some(&app.customer)).await.json().await.unwrap();
    assert_eq!(view["failure_reason"], "insufficient_stock");
    assert_eq!(view["payment"], Value::Null, "nothing was charged");
    let mut conn = app.db.connect().await;
    assert_eq!(outbox_count(&mut conn, "order.failed", Some(&order.to_string())).await, 1);
    // A late reservation for the failed order charges nothing.
    let late = app.publish_reserved(order).await;
    app.wait_consumed(&late).await;
    assert_eq!(app.status_of(order).await, "FAILED");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_payment_waits_and_a_declined_one_fails_the_order() {
    let provider = Arc::new(ScriptedProvider::default());
    provider.push(Ok(PaymentOutcome::Pending { payment_id: "pay_pending".into(), client_secret: Some("cs".into()) }));
    provider
        .push(Ok(PaymentOutcome::Failed { payment_id: Some("pay_declined".into()), reason: "card_declined".into() }));
    let app = TestApp::spawn_with(Options { provider: Some(provider.clone()), ..Default::default() }).await;

    let (waiting, _) = app.place_order(&app.customer, 1000, 1).await;
    app.publish_reserved(waiting).await;
    app.wait_status(waiting, "AWAITING_PAYMENT").await;
    let (declined, _) = app.place_order(&app.customer, 1000, 1).await;
    app.publish_reserved(declined).await;
    app.wait_status(declined, "FAILED").await;

    let view: Value = app.get(&format!("/orders/{declined}"), Some(&app.customer)).await.json().await.unwrap();
    assert_eq!(view["payment"]["status"], "failed");
    assert!(view["payment"].get("client_secret").is_none());
    assert_eq!(view["failure_reason"], "payment_failed");
    let mut conn = app.db.connect().await;
    let key = declined.to_string();
    assert_eq!(outbox_count(&mut conn, "order.failed", Some(&key)).await, 1);
    assert_eq!(outbox_count(&mut conn, "payment.failed", Some(&key)).await, 1);
    let view: Value = app.get(&format!("/orders/{waiting}"), Some(&app.customer)).await.json().await.unwrap();
    assert_eq!(view["payment"]["status"], "pending");
    assert_eq!(view["payment"]["payment_id"], "pay_pending");
    assert_eq!(view["payment"]["client_secret"], "cs", "the storefront finishes the payment with it");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_outage_is_retried_with_the_same_idempotency_key() {
    let provider = Arc::new(ScriptedProvider::default());
    provider.push(Err(ProviderError::Unavailable("timeout".into())));
    let app = TestApp::spawn_with(Options { provider: Some(provider.clone()), ..Default::default() }).await;
    let product = app.seed_product(300, "EUR", true).await;
    app.cart.set(&format!("user:{}", app.customer.user_id), &[(product, 1)]);
    let response = app.post_order(&app.customer, None, Some("client-key-7")).await;
    let order: Value = response.json().await.unwrap();
    let order = Uuid::parse_str(order["id"].as_str().unwrap()).unwrap();
    app.publish_reserved(order).await;
    app.wait_status(order, "CONFIRMED").await;
    let keys = provider.keys.lock().unwrap().clone();
    assert_eq!(keys.len(), 2, "one failed call, one retry");
    assert_eq!(keys[0], keys[1]);
    assert_eq!(keys[0], format!("{order}:client-key-7"), "the Idempotency-Key travels on, scoped by the order");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_fails_orders_left_open_past_the_payment_timeout() {
    let provider = Arc::new(ScriptedProvider::default());
    provider.push(Ok(PaymentOutcome::Pending { payment_id: "pay_slow".into(), client_secret: None }));
    let app = TestApp::spawn_with(Options {
        provider: Some(provider.clone()),
        payment_timeout: Some(Duration::from_secs(2)),
        ..Default::default()
    })
    .await;
    let (awaiting, _) = app.place_order(&app.customer, 100, 1).await;
    app.publish_reserved(awaiting).await;
    let (pending, _) = app.place_order(&app.customer, 100, 1).await;
    app.wait_status(pending, "FAILED").await;
    app.wait_status(awaiting, "FAILED").await;
    for order in [pending, awaiting] {
        let view: Value = app.get(&format!("/orders/{order}"), Some(&app.customer)).await.json().await.unwrap();
        assert_eq!(view["failure_reason"], "payment_timeout");
        let mut conn = app.db.connect().await;
        assert_eq!(outbox_count(&mut conn, "order.failed", Some(&order.to_string())).await, 1);
    }
    let records = read_topic(&app.topic("order_events"), 4, EVENT_TIMEOUT, Duration::from_millis(300)).await.unwrap();
    let failed = of_type(&records, "order.failed");
    assert_eq!(failed.len(), 2);
    assert!(failed.iter().all(|e| e.data["reason"] == "payment_timeout"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_webhook_is_made_up_for_by_asking_the_provider_before_timing_out() {
    let provider = Arc::new(ScriptedProvider::default());
    // The customer paid, but the webhook never arrived.
    provider
        .statuses
        .lock()
        .unwrap()
        .insert("pay_lost_webhook".into(), PaymentOutcome::Succeeded { payment_id: "pay_lost_webhook".into() });
    let app = TestApp::spawn_with(Options {
        provider: Some(provider.clone()),
        payment_timeout: Some(Duration::from_secs(5)),
        ..Default::default()
    })
    .await;
    let (order, _) = app.place_order(&app.customer, 100, 1).await;
    // Put it where the saga leaves a payment waiting for its webhook (no broker timing involved).
    let mut conn = app.db.connect().await;
    let moved = diesel_async::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "WITH o AS (UPDATE orders SET status = 'AWAITING_PAYMENT' WHERE id = '{order}' AND status = 'PENDING'
                        RETURNING id, total_minor, currency)
             INSERT INTO payments (order_id, provider, payment_id, status, amount_minor, currency)
             SELECT id, 'scripted', 'pay_lost_webhook', 'pending', total_minor, currency FROM o"
        )),
        &mut conn,
    )
    .await
    .unwrap();
    assert_eq!(moved, 1);
    app.wait_status(order, "CONFIRMED").await;
    assert_eq!(provider.distinct_refunds(), 0);
    assert_eq!(outbox_count(&mut conn, "order.confirmed", Some(&order.to_string())).await, 1);
    assert_eq!(outbox_count(&mut conn, "payment.succeeded", Some(&order.to_string())).await, 1);
    assert_eq!(outbox_count(&mut conn, "order.failed", Some(&order.to_string())).await, 0);
    app.stop().await;
}
