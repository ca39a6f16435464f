//! Checkout under faults, every binary a process: the broker stopped for 10 s mid-flow, and the
//! inventory service SIGKILLed during a burst and restarted as the same instance (same
//! `KAFKA_GROUP_INSTANCE_ID`, as a container restarted in its pod). Every order still reaches a final state, and every
//! reservation is applied exactly once (the stock adds up to the units ordered, no more, no less).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use futures_util::future::join_all;
use serde_json::{Value, json};
use shop_system_tests::{PrivateBroker, Stack, StackOptions, status_and_json};
use shop_testkit::wait_for;
use std::time::Duration;

fn shipping() -> Value {
    json!({"name": "Grace Hopper", "line1": "2 Compiler Way", "city": "Arlington", "postal_code": "22201", "country": "US"})
}

/// A guest buys `quantity` units: cart, then order. Returns (order id, order token).
async fn guest_order(stack: &Stack, product: &str, quantity: i64, n: usize) -> (String, String) {
    let cart_token = wait_for(Duration::from_secs(60), "the cart to accept the product", || async {
        let response = stack
            .client
            .post(stack.url("/cart/items"))
            .json(&json!({"product_id": product, "quantity": quantity}))
            .send()
            .await
            .ok()?;
        let token = response.headers().get("x-cart-token")?.to_str().ok()?.to_owned();
        response.status().is_success().then_some(token)
    })
    .await
    .unwrap();
    let response = stack
        .client
        .post(stack.url("/orders"))
        .header("x-cart-token", &cart_token)
        .header("idempotency-key", format!("fault-{n}"))
        .json(&json!({"email": format!("fault{n}@example.com"), "shipping_address": shipping()}))
        .send()
        .await
        .unwrap();
    let (status, order) = status_and_json(response).await;
    assert_eq!(status, 201, "{order}");
    (order["id"].as_str().unwrap().to_owned(), order["order_token"].as_str().unwrap().to_owned())
}

async fn final_status(stack: &Stack, id: &str, token: &str, within: Duration) -> Value {
    wait_for(within, &format!("order {id} to reach a final state"), || async {
        let response =
            stack.client.get(stack.url(&format!("/orders/{id}"))).header("x-order-token", token).send().await.ok()?;
        let (status, body) = status_and_json(response).await;
        (status == 200 && ["CONFIRMED", "FAILED"].contains(&body["status"].as_str()?)).then_some(body)
    })
    .await
    .unwrap()
}

/// Every order CONFIRMED exactly once, and the stock reserved is exactly what was ordered.
async fn assert_all_confirmed_once(
    stack: &Stack,
    product: &str,
    orders: &[(String, String)],
    units_each: i64,
    stock: i64,
) {
    let finals =
        join_all(orders.iter().map(|(id, token)| final_status(stack, id, token, Duration::from_secs(90)))).await;
    for order in &finals {
        assert_eq!(order["status"], "CONFIRMED", "{order}");
        let confirmations =
            order["status_history"].as_array().unwrap().iter().filter(|h| h["to"] == "CONFIRMED").count();
        assert_eq!(confirmations, 1, "{order}");
    }
    let ordered = units_each * orders.len() as i64;
    // Inventory may still be applying the last events when the orders are final: wait for the
    // counts to settle, then require them exact.
    wait_for(Duration::from_secs(30), "the stock to account for every order exactly once", || async {
        let response = stack.client.get(stack.url(&format!("/inventory/{product}"))).send().await.ok()?;
        let (_, level) = status_and_json(response).await;
        (level["reserved"] == ordered && level["available"] == stock - ordered).then_some(())
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_survive_the_broker_stopping_for_ten_seconds() {
    let mut broker = PrivateBroker::start().await;
    let stack = Stack::start(StackOptions { kafka_bootstrap: Some(broker.bootstrap()), ..Default::default() }).await;
    let admin = stack.admin_token().await;
    let product = stack.create_product(&admin, 500, 1000).await;

    let mut orders = Vec::new();
    for n in 0..5 {
        orders.push(guest_order(&stack, &product, 2, n).await);
    }
    // The broker goes away: orders are still taken (the outbox holds their events).
    broker.kill();
    let outage = std::time::Instant::now();
    for n in 5..10 {
        orders.push(guest_order(&stack, &product, 2, n).await);
    }
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(outage.elapsed())).await;
    broker.resume().await;
    for n in 10..15 {
        orders.push(guest_order(&stack, &product, 2, n).await);
    }
    assert_all_confirmed_once(&stack, &product, &orders, 2, 1000).await;
    stack.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_survive_the_inventory_service_being_killed_mid_burst() {
    let mut stack = Stack::start(StackOptions::default()).await;
    let admin = stack.admin_token().await;
    let product = stack.create_product(&admin, 700, 1000).await;

    let mut orders = join_all((0..10).map(|n| guest_order(&stack, &product, 1, n))).await;
    stack.kill("inventory");
    orders.extend(join_all((10..20).map(|n| guest_order(&stack, &product, 1, n))).await);
    stack.restart("inventory");
    orders.extend(join_all((20..30).map(|n| guest_order(&stack, &product, 1, n))).await);
    assert_all_confirmed_once(&stack, &product, &orders, 1, 1000).await;
    stack.stop();
}
