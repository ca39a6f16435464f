//! Checkout end to end, every binary a process, everything through the gateway: carts, orders, the
//! saga over the broker (order → inventory → order) and the cart emptied afterwards.
//!
//! One stack serves several scenarios (a stack is seven processes and six databases; starting one
//! per scenario would cost more than the scenarios).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use futures_util::future::join_all;
use serde_json::{Value, json};
use shop_system_tests::{Stack, StackOptions, status_and_json};
use shop_testkit::wait_for;
use std::time::Duration;

/// The saga's final states.
const FINAL: &[&str] = &["CONFIRMED", "FAILED", "CANCELLED", "SHIPPED"];

fn shipping() -> Value {
    json!({"name": "Ada Lovelace", "line1": "1 Analytical St", "city": "London", "postal_code": "N1 7AA", "country": "GB"})
}

/// Adds a product to a cart: as a user (token) or as a guest (cart token, created on first add).
/// Retries while the cart service has not yet learned the product from `product_events`.
async fn add_to_cart(
    stack: &Stack,
    token: Option<&str>,
    cart_token: Option<&str>,
    product_id: &str,
    quantity: i64,
) -> Option<String> {
    wait_for(Duration::from_secs(30), "the cart to accept the product", || async {
        let mut request =
            stack.client.post(stack.url("/cart/items")).json(&json!({"product_id": product_id, "quantity": quantity}));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(cart_token) = cart_token {
            request = request.header("x-cart-token", cart_token);
        }
        let response = request.send().await.ok()?;
        let header = response.headers().get("x-cart-token").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let (status, body) = status_and_json(response).await;
        match status {
            200 | 201 => Some(header.or_else(|| cart_token.map(str::to_owned))),
            404 | 422 => None, // not in the cart's snapshot yet
            other => panic!("adding to the cart: {other} {body}"),
        }
    })
    .await
    .unwrap()
}

/// Places an order; returns (status, body).
async fn place_order(
    stack: &Stack,
    token: Option<&str>,
    cart_token: Option<&str>,
    idempotency_key: &str,
    body: &Value,
) -> (u16, Value) {
    let mut request = stack.client.post(stack.url("/orders")).header("idempotency-key", idempotency_key).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(cart_token) = cart_token {
        request = request.header("x-cart-token", cart_token);
    }
    status_and_json(request.send().await.unwrap()).await
}

/// Reads an order as its owner (token) or as a guest (order token).
async fn get_order(stack: &Stack, id: &str, token: Option<&str>, order_token: Option<&str>) -> (u16, Value) {
    let mut request = stack.client.get(stack.url(&format!("/orders/{id}")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(order_token) = order_token {
        request = request.header("x-order-token", order_token);
    }
    status_and_json(request.send().await.unwrap()).await
}

async fn wait_final(
    stack: &Stack,
    id: &str,
    token: Option<&str>,
    order_token: Option<&str>,
    within: Duration,
) -> Value {
    wait_for(within, &format!("order {id} to reach a final state"), || async {
        let (status, body) = get_order(stack, id, token, order_token).await;
        assert_eq!(status, 200, "{body}");
        FINAL.contains(&body["status"].as_str().unwrap()).then_some(body)
    })
    .await
    .unwrap()
}

async fn stock(stack: &Stack, product_id: &str) -> Value {
    let response = stack.client.get(stack.url(&format!("/inventory/{product_id}"))).send().await.unwrap();
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn cart(stack: &Stack, token: Option<&str>, cart_token: Option<&str>) -> Value {
    let mut request = stack.client.get(stack.url("/cart"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(cart_token) = cart_token {
        request = request.header("x-cart-token", cart_token);
    }
    let (status, body) = status_and_json(request.send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_through_the_gateway() {
    let stack = Stack::start(StackOptions::default()).await;
    let admin = stack.admin_token().await;
    let product = stack.create_product(&admin, 1250, 100).await;

    // --- A signed-in customer: cart → order → CONFIRMED within 5 s, stock reserved, cart emptied.
    let (_, customer) = stack.new_customer().await;
    add_to_cart(&stack, Some(&customer), None, &product, 3).await;
    let (status, order) =
        place_order(&stack, Some(&customer), None, "user-order-1", &json!({"shipping_address": shipping()})).await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["status"], "PENDING", "{order}");
    assert_eq!(order["total"], json!({"amount_minor": 3750, "currency": "EUR"}), "{order}");
    let order_id = order["id"].as_str().unwrap().to_owned();
    let confirmed = wait_final(&stack, &order_id, Some(&customer), None, Duration::from_secs(5)).await;
    assert_eq!(confirmed["status"], "CONFIRMED", "{confirmed}");
    let history: Vec<&str> =
        confirmed["status_history"].as_array().unwrap().iter().map(|h| h["to"].as_str().unwrap()).collect();
    assert_eq!(history.first(), Some(&"PENDING"), "{confirmed}");
    assert_eq!(history.last(), Some(&"CONFIRMED"), "{confirmed}");
    let level = stock(&stack, &product).await;
    assert_eq!(level["available"], 97, "{level}");
    wait_for(Duration::from_secs(10), "the customer's cart to empty after checkout", || async {
        cart(&stack, Some(&customer), None).await["lines"].as_array().unwrap().is_empty().then_some(())
    })
    .await
    .unwrap();

    // The same key and body again: the first answer, no second order.
    let (status, again) =
        place_order(&stack, Some(&customer), None, "user-order-1", &json!({"shipping_address": shipping()})).await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["id"], order_id.as_str());

    // --- Another customer can neither read nor cancel it (404), nor ship it (403).
    let (_, stranger) = stack.new_customer().await;
    let (status, _) = get_order(&stack, &order_id, Some(&stranger), None).await;
    assert_eq!(status, 404);
    let response =
        stack.client.put(stack.url(&format!("/orders/{order_id}/cancel"))).bearer_auth(&stranger).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let response =
        stack.client.put(stack.url(&format!("/orders/{order_id}/ship"))).bearer_auth(&stranger).send().await.unwrap();
    assert_eq!(response.status(), 403);

    // --- The admin ships it; the customer sees SHIPPED and a notification.
    let response =
        stack.client.put(stack.url(&format!("/orders/{order_id}/ship"))).bearer_auth(&admin).send().await.unwrap();
    let (status, shipped) = status_and_json(response).await;
    assert_eq!(status, 200, "{shipped}");
    let (_, seen) = get_order(&stack, &order_id, Some(&customer), None).await;
    assert_eq!(seen["status"], "SHIPPED", "{seen}");
    assert!(!seen["notifications"].as_array().unwrap().is_empty(), "{seen}");

    // --- A guest: cart token → order with email and address → CONFIRMED, followed with the order token.
    let cart_token = add_to_cart(&stack, None, None, &product, 2).await.expect("a guest cart token");
    let guest_body = json!({"email": "guest@example.com", "shipping_address": shipping()});
    let (status, guest_order) = place_order(&stack, None, Some(&cart_token), "guest-order-1", &guest_body).await;
    assert_eq!(status, 201, "{guest_order}");
    let guest_id = guest_order["id"].as_str().unwrap().to_owned();
    let order_token = guest_order["order_token"].as_str().unwrap().to_owned();
    let done = wait_final(&stack, &guest_id, None, Some(&order_token), Duration::from_secs(5)).await;
    assert_eq!(done["status"], "CONFIRMED", "{done}");
    let (status, _) = get_order(&stack, &guest_id, None, Some("not-the-token")).await;
    assert_eq!(status, 404, "a wrong order token reveals nothing");

    // --- 20 concurrent POST /orders with one Idempotency-Key: one order.
    let (_, racer) = stack.new_customer().await;
    add_to_cart(&stack, Some(&racer), None, &product, 1).await;
    let body = json!({"shipping_address": shipping()});
    let answers = join_all((0..20).map(|_| place_order(&stack, Some(&racer), None, "race-key", &body))).await;
    let ids: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 201, "{body}");
            body["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "one key, one order: {ids:?}");
    let response = stack.client.get(stack.url("/orders")).bearer_auth(&racer).send().await.unwrap();
    let (status, list) = status_and_json(response).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    // The same key with another body is refused.
    let (status, _) = place_order(&stack, Some(&racer), None, "race-key", &json!({"shipping_address": {"name": "Other", "line1": "2 Other Rd", "city": "Paris", "postal_code": "75001", "country": "FR"}})).await;
    assert_eq!(status, 422);

    stack.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_customers_racing_for_ten_units_never_oversell() {
    let stack = Stack::start(StackOptions::default()).await;
    let admin = stack.admin_token().await;
    let product = stack.create_product(&admin, 999, 10).await;

    // 50 guests, one unit each, all checking out at once.
    let carts = join_all((0..50).map(|_| add_to_cart(&stack, None, None, &product, 1))).await;
    let orders = join_all(carts.iter().enumerate().map(|(i, cart_token)| {
        let body = json!({"email": format!("racer{i}@example.com"), "shipping_address": shipping()});
        let stack = &stack;
        async move {
            let cart_token = cart_token.as_deref().unwrap();
            let (status, order) = place_order(stack, None, Some(cart_token), &format!("race-{i}"), &body).await;
            assert_eq!(status, 201, "{order}");
            (order["id"].as_str().unwrap().to_owned(), order["order_token"].as_str().unwrap().to_owned())
        }
    }))
    .await;

    let finals =
        join_all(orders.iter().map(|(id, token)| wait_final(&stack, id, None, Some(token), Duration::from_secs(60))))
            .await;
    let confirmed = finals.iter().filter(|o| o["status"] == "CONFIRMED").count();
    let failed = finals.iter().filter(|o| o["status"] == "FAILED").count();
    assert_eq!((confirmed, failed), (10, 40));
    let level = stock(&stack, &product).await;
    assert_eq!(level["available"], 0, "{level}");
    assert_eq!(level["reserved"], 10, "{level}");

    stack.stop();
}
