//! `POST /payments/webhook` against the local Stripe double: signed success and failure,
//! bad and stale signatures, replays, and out-of-order deliveries.

use crate::helpers::{EVENT_TIMEOUT, Options, TestApp, count, outbox_count, problem_code};
use reqwest::StatusCode;
use serde_json::Value;
use shop_payments::fake_stripe::{FakeStripe, NextIntent};
use shop_payments::webhook::sign;
use shop_testkit::wait_until;
use uuid::Uuid;

async fn spawn_stripe() -> (TestApp, FakeStripe) {
    let fake = FakeStripe::start().await;
    let app = TestApp::spawn_with(Options { payment: Some(fake.payment_settings()), ..Default::default() }).await;
    (app, fake)
}

/// An order whose PaymentIntent waits for the customer (`AWAITING_PAYMENT`); returns its payment id.
async fn awaiting_order(app: &TestApp, fake: &FakeStripe) -> (Uuid, String) {
    fake.script_next_intent(NextIntent::RequiresAction);
    let (order, _) = app.place_order(&app.customer, 1999, 1).await;
    app.publish_reserved(order).await;
    app.wait_status(order, "AWAITING_PAYMENT").await;
    let view: Value = app.get(&format!("/orders/{order}"), Some(&app.customer)).await.json().await.unwrap();
    assert_eq!(view["payment"]["provider"], "stripe");
    assert!(view["payment"]["client_secret"].is_string(), "3-D Secure needs the client secret: {view}");
    (order, view["payment"]["payment_id"].as_str().unwrap().to_owned())
}

async fn post_webhook(app: &TestApp, body: &[u8], signature: Option<&str>) -> (StatusCode, Value) {
    let mut request = app.client.post(app.url("/payments/webhook")).header("content-type", "application/json");
    if let Some(signature) = signature {
        request = request.header("Stripe-Signature", signature);
    }
    let response = request.body(body.to_vec()).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_webhook_provider_the_endpoint_is_404() {
    let app = TestApp::spawn().await;
    let (status, body) = post_webhook(&app, b"{}", Some("t=1,v1=00")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(problem_code(&body), "not_found");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_success_confirms_the_order_and_a_replay_changes_nothing() {
    let (app, fake) = spawn_stripe().await;
    let (order, payment_id) = awaiting_order(&app, &fake).await;
    let intent = fake.set_intent_status(&payment_id, "succeeded").unwrap();
    let (body, header) = fake.webhook("payment_intent.succeeded", &intent);

    let (status, answer) = post_webhook(&app, &body, Some(&header)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["outcome"], "applied");
    assert_eq!(app.status_of(order).await, "CONFIRMED");

    let (status, answer) = post_webhook(&app, &body, Some(&header)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["outcome"], "duplicate");
    // The same news under a new event id is harmless too.
    let (body2, header2) = fake.webhook("payment_intent.succeeded", &intent);
    assert_eq!(post_webhook(&app, &body2, Some(&header2)).await.0, StatusCode::OK);

    let mut conn = app.db.connect().await;
    let key = order.to_string();
    assert_eq!(outbox_count(&mut conn, "order.confirmed", Some(&key)).await, 1);
    assert_eq!(outbox_count(&mut conn, "payment.succeeded", Some(&key)).await, 1);
    assert_eq!(fake.intents_created(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_missing_and_stale_signatures_are_400_and_change_nothing() {
    let (app, fake) = spawn_stripe().await;
    let (order, payment_id) = awaiting_order(&app, &fake).await;
    let intent = fake.set_intent_status(&payment_id, "succeeded").unwrap();
    let (body, header) = fake.webhook("payment_intent.succeeded", &intent);

    let tampered = format!("{}{}", &header[..header.len() - 1], if header.ends_with('0') { '1' } else { '0' });
    let now = chrono::Utc::now().timestamp();
    let stale = sign(&body, fake.webhook_secret(), now - 3600);
    let wrong_secret = sign(&body, "whsec_someone_else", now);
    for signature in [Some(tampered.as_str()), None, Some(stale.as_str()), Some(wrong_secret.as_str()), Some("garbage")]
    {
        let (status, problem) = post_webhook(&app, &body, signature).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{signature:?}");
        assert_eq!(problem_code(&problem), "bad_request");
    }
    let mut altered = body.clone();
    altered.extend_from_slice(b" ");
    assert_eq!(post_webhook(&app, &altered, Some(&header)).await.0, StatusCode::BAD_REQUEST);

    assert_eq!(app.status_of(order).await, "AWAITING_PAYMENT");
    let mut conn = app.db.connect().await;
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM webhook_events").await, 0);
    // The genuine delivery still works afterwards.
    assert_eq!(post_webhook(&app, &body, Some(&header)).await.0, StatusCode::OK);
    assert_eq!(app.status_of(order).await, "CONFIRMED");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_fails_the_order_and_a_later_success_is_refunded() {
    let (app, fake) = spawn_stripe().await;
    let (order, payment_id) = awaiting_order(&app, &fake).await;
    let declined = fake.set_intent_status(&payment_id, "requires_payment_method").unwrap();
    let (status, _, _) =
        fake.deliver(&app.url("/payments/webhook"), "payment_intent.payment_failed", &declined).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.status_of(order).await, "FAILED");
    let mut conn = app.db.connect().await;
    let key = order.to_string();
    assert_eq!(outbox_count(&mut conn, "order.failed", Some(&key)).await, 1);
    assert_eq!(outbox_count(&mut conn, "payment.failed", Some(&key)).await, 1);

    // The customer paid after all (out of order): the money goes back, the order stays failed.
    let paid = fake.set_intent_status(&payment_id, "succeeded").unwrap();
    let (status, _, _) = fake.deliver(&app.url("/payments/webhook"), "payment_intent.succeeded", &paid).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let app_ref = &app;
    wait_until(EVENT_TIMEOUT, "the refund", || async move {
        let view: Value = app_ref.get(&format!("/orders/{order}"), Some(&app_ref.admin)).await.json().await.unwrap();
        view["payment"]["status"] == "refunded"
    })
    .await
    .unwrap();
    assert_eq!(app.status_of(order).await, "FAILED");
    assert_eq!(fake.refunds(), 1);
    assert_eq!(outbox_count(&mut conn, "payment.refunded", Some(&key)).await, 1);

    // A cancelled order whose payment then succeeds is refunded as well.
    let (cancelled, cancelled_payment) = awaiting_order(&app, &fake).await;
    assert_eq!(app.put(&format!("/orders/{cancelled}/cancel"), Some(&app.customer)).await.status(), StatusCode::OK);
    let paid = fake.set_intent_status(&cancelled_payment, "succeeded").unwrap();
    fake.deliver(&app.url("/payments/webhook"), "payment_intent.succeeded", &paid).await.unwrap();
    wait_until(EVENT_TIMEOUT, "the second refund", || async { fake.refunds() == 2 }).await.unwrap();
    assert_eq!(app.status_of(cancelled).await, "CANCELLED");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_after_confirmation_is_ignored() {
    let (app, fake) = spawn_stripe().await;
    let (order, _) = app.place_order(&app.customer, 500, 1).await;
    app.publish_reserved(order).await;
    app.wait_status(order, "CONFIRMED").await;
    let view: Value = app.get(&format!("/orders/{order}"), Some(&app.customer)).await.json().await.unwrap();
    let payment_id = view["payment"]["payment_id"].as_str().unwrap().to_owned();
    let intent = fake.intent(&payment_id).unwrap();
    let (status, _, _) =
        fake.deliver(&app.url("/payments/webhook"), "payment_intent.payment_failed", &intent).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.status_of(order).await, "CONFIRMED");
    let mut conn = app.db.connect().await;
    assert_eq!(outbox_count(&mut conn, "order.failed", Some(&order.to_string())).await, 0);
    assert_eq!(outbox_count(&mut conn, "payment.failed", Some(&order.to_string())).await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_an_awaiting_order_cancels_its_payment_at_the_provider() {
    let (app, fake) = spawn_stripe().await;
    let (order, payment_id) = awaiting_order(&app, &fake).await;
    assert_eq!(app.put(&format!("/orders/{order}/cancel"), Some(&app.customer)).await.status(), StatusCode::OK);
    let app_ref = &app;
    wait_until(EVENT_TIMEOUT, "the payment to be cancelled", || async move {
        let view: Value = app_ref.get(&format!("/orders/{order}"), Some(&app_ref.admin)).await.json().await.unwrap();
        view["payment"]["status"] == "failed"
    })
    .await
    .unwrap();
    assert_eq!(fake.intent(&payment_id).unwrap()["status"], "canceled");
    assert_eq!(app.status_of(order).await, "CANCELLED");
    assert_eq!(fake.refunds(), 0, "nothing was paid, nothing to refund");
    let mut conn = app.db.connect().await;
    assert_eq!(outbox_count(&mut conn, "payment.failed", Some(&order.to_string())).await, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stripe_outage_is_retried_with_the_same_key_and_charges_once() {
    let (app, fake) = spawn_stripe().await;
    fake.fail_next(shop_payments::fake_stripe::Fault::Status { status: 503, message: "try later".into() });
    let product = app.seed_product(1500, "EUR", true).await;
    app.cart.set(&format!("user:{}", app.customer.user_id), &[(product, 1)]);
    let order: Value = app.post_order(&app.customer, None, Some("stripe-key-1")).await.json().await.unwrap();
    let order = Uuid::parse_str(order["id"].as_str().unwrap()).unwrap();
    app.publish_reserved(order).await;
    app.wait_status(order, "CONFIRMED").await;
    assert_eq!(fake.intents_created(), 1);
    let keys: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/payment_intents"))
        .map(|r| r.idempotency_key)
        .collect();
    assert_eq!(keys.len(), 2, "the refused attempt and the retry");
    assert!(keys.iter().all(|k| k.as_deref() == Some(format!("{order}:stripe-key-1").as_str())), "{keys:?}");
    app.stop().await;
}
