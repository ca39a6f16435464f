//! Stripe webhooks through the gateway, every binary a process, the order service talking to a
//! local Stripe double: a bad signature, an altered body or an old timestamp is refused with the
//! order unchanged; a good one confirms the order; the same event again changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use serde_json::{Value, json};
use shop_payments::fake_stripe::{FAKE_PAYMENT_METHOD, FAKE_SECRET_KEY, FAKE_WEBHOOK_SECRET, FakeStripe, NextIntent};
use shop_system_tests::{Stack, StackOptions, status_and_json};
use shop_testkit::wait_for;
use std::time::Duration;

async fn order(stack: &Stack, id: &str, token: &str) -> Value {
    let response = stack.client.get(stack.url(&format!("/orders/{id}"))).bearer_auth(token).send().await.unwrap();
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn wait_status(stack: &Stack, id: &str, token: &str, status: &str) -> Value {
    wait_for(Duration::from_secs(20), &format!("order {id} to be {status}"), || async {
        let body = order(stack, id, token).await;
        (body["status"] == status).then_some(body)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_verified_and_applied_once() {
    let fake = FakeStripe::start().await;
    let options = StackOptions::default()
        .with("order", "PAYMENT_PROVIDER", "stripe")
        .with("order", "STRIPE_API_BASE", fake.base_url())
        .with("order", "STRIPE_SECRET_KEY", FAKE_SECRET_KEY)
        .with("order", "STRIPE_WEBHOOK_SECRET", FAKE_WEBHOOK_SECRET)
        .with("order", "STRIPE_PAYMENT_METHOD", FAKE_PAYMENT_METHOD);
    let stack = Stack::start(options).await;
    let admin = stack.admin_token().await;
    let product = stack.create_product(&admin, 4200, 10).await;
    let (_, customer) = stack.new_customer().await;

    // 3-D Secure: the intent waits for the customer; the order waits for the webhook.
    fake.script_next_intent(NextIntent::RequiresAction);
    let response = stack
        .client
        .post(stack.url("/cart/items"))
        .bearer_auth(&customer)
        .json(&json!({"product_id": product, "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let address = json!({"name": "Ada", "line1": "1 St", "city": "London", "postal_code": "N1", "country": "GB"});
    let response = stack
        .client
        .post(stack.url("/orders"))
        .bearer_auth(&customer)
        .header("idempotency-key", "webhook-order")
        .json(&json!({"shipping_address": address}))
        .send()
        .await
        .unwrap();
    let (status, placed) = status_and_json(response).await;
    assert_eq!(status, 201, "{placed}");
    let id = placed["id"].as_str().unwrap().to_owned();
    wait_status(&stack, &id, &customer, "AWAITING_PAYMENT").await;
    let intent_ids = fake.intent_ids();
    assert_eq!(intent_ids.len(), 1, "one PaymentIntent for one order");
    // The customer completes 3-D Secure; Stripe tells the shop.
    let intent = fake.set_intent_status(&intent_ids[0], "succeeded").unwrap();
    let (body, signature) = fake.webhook("payment_intent.succeeded", &intent);
    let url = stack.url("/payments/webhook");

    // Forged signature, altered body, stale timestamp, no signature: 400, order unchanged.
    let forged = signature.replace("v1=", "v1=00");
    assert_eq!(fake.deliver_signed(&url, &body, &forged).await.unwrap(), 400);
    let mut altered = body.clone();
    let position = altered.iter().position(|b| *b == b'4').unwrap();
    altered[position] = b'5';
    assert_eq!(fake.deliver_signed(&url, &altered, &signature).await.unwrap(), 400);
    let stale = shop_payments::webhook::sign(&body, FAKE_WEBHOOK_SECRET, chrono_now() - 600);
    assert_eq!(fake.deliver_signed(&url, &body, &stale).await.unwrap(), 400);
    let unsigned = stack.client.post(&url).body(body.clone()).send().await.unwrap();
    assert_eq!(unsigned.status(), 400);
    assert_eq!(order(&stack, &id, &customer).await["status"], "AWAITING_PAYMENT");

    // The genuine event confirms the order; delivered again, it changes nothing.
    assert!(fake.deliver_signed(&url, &body, &signature).await.unwrap().is_success());
    let confirmed = wait_status(&stack, &id, &customer, "CONFIRMED").await;
    assert!(fake.deliver_signed(&url, &body, &signature).await.unwrap().is_success());
    let again = order(&stack, &id, &customer).await;
    assert_eq!(again["status"], "CONFIRMED");
    assert_eq!(again["status_history"], confirmed["status_history"], "a replay adds no transition");
    assert_eq!(fake.intents_created(), 1);
    assert_eq!(fake.refunds(), 0);

    stack.stop();
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}
