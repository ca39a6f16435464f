//! The HTTP API: user and guest flows, ownership (404, never 403), validation, merge at login.

use crate::helpers::{TestApp, Who, customer, expect_json, expect_problem, outbox_count, seed_product};
use reqwest::Method;
use serde_json::{Value, json};
use shop_cart::db::products::{self, ProductState};
use uuid::Uuid;

fn line_id(cart: &Value, index: usize) -> String {
    cart["lines"][index]["id"].as_str().expect("a line id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_update_remove_and_clear() {
    let app = TestApp::spawn().await;
    let mut conn = app.conn().await;
    let lamp = seed_product(&mut conn, 1050, "EUR", true).await;
    let desk = seed_product(&mut conn, 20000, "EUR", true).await;
    let me = Who::user(&customer());

    let empty = expect_json(app.get_cart(&me).await, 200).await;
    assert_eq!(empty["id"], Value::Null);
    assert_eq!(empty["lines"], json!([]));
    assert_eq!((empty["item_count"].clone(), empty["subtotal"].clone()), (json!(0), Value::Null));

    let response = app.add_product(&me, lamp, 2).await;
    assert!(response.headers().get("x-cart-token").is_none(), "users get no guest token");
    let cart = expect_json(response, 200).await;
    assert!(cart["id"].is_string());
    assert!(cart.get("cart_token").is_none());
    let line = &cart["lines"][0];
    assert_eq!(line["product_id"], json!(lamp));
    assert_eq!(line["name"], "Test product");
    assert_eq!(line["unit_price"], json!({"amount_minor": 1050, "currency": "EUR"}));
    assert_eq!(line["quantity"], 2);
    assert_eq!(line["line_total"], json!({"amount_minor": 2100, "currency": "EUR"}));
    assert_eq!(line["available"], true);
    assert_eq!(cart["currency"], "EUR");

    // Adding the same product again grows its line.
    let cart = expect_json(app.add_product(&me, lamp, 3).await, 200).await;
    assert_eq!(cart["lines"].as_array().unwrap().len(), 1);
    assert_eq!(cart["lines"][0]["quantity"], 5);
    let cart = expect_json(app.add_product(&me, desk, 1).await, 200).await;
    assert_eq!(cart["item_count"], 6);
    assert_eq!(cart["subtotal"], json!({"amount_minor": 5 * 1050 + 20000, "currency": "EUR"}));

    let lamp_line = line_id(&cart, 0);
    let cart = expect_json(app.update(&me, &lamp_line, &json!({"quantity": 7})).await, 200).await;
    assert_eq!(cart["lines"][0]["quantity"], 7);
    assert_eq!(cart["subtotal"]["amount_minor"], 7 * 1050 + 20000);

    let cart = expect_json(app.remove(&me, &lamp_line).await, 200).await;
    assert_eq!(cart["lines"].as_array().unwrap().len(), 1);
    assert_eq!(cart["lines"][0]["product_id"], json!(desk));
    expect_problem(app.remove(&me, &lamp_line).await, 404, "line_not_found").await;

    let id = cart["id"].clone();
    let cart = expect_json(app.clear(&me).await, 200).await;
    assert_eq!(cart["id"], id, "the cart stays, empty");
    assert_eq!((cart["lines"].clone(), cart["subtotal"].clone()), (json!([]), Value::Null));
    // Clearing an empty cart changes nothing and emits nothing.
    expect_json(app.clear(&me).await, 200).await;

    let metrics = app.request(Method::GET, "/metrics", &Who::anonymous()).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("cart_lines_added_total 3"), "{metrics}");
    assert!(metrics.contains("cart_lines_removed_total 1"));

    for (event, n) in [("cart.item_added", 3), ("cart.item_updated", 1), ("cart.item_removed", 1), ("cart.cleared", 1)]
    {
        assert_eq!(outbox_count(&mut conn, event).await, n, "{event}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guests_use_their_token_and_only_theirs() {
    let app = TestApp::spawn().await;
    let mut conn = app.conn().await;
    let lamp = seed_product(&mut conn, 1050, "EUR", true).await;

    let response = app.add_product(&Who::anonymous(), lamp, 1).await;
    let token = response.headers().get("x-cart-token").expect("a token for the new guest").to_str().unwrap().to_owned();
    assert_eq!(response.headers().get("cache-control").unwrap(), "no-store");
    let cart = expect_json(response, 200).await;
    assert_eq!(cart["cart_token"], token.as_str());
    let guest_a = Who::guest(&token);

    // Only the hash is stored.
    let stored = crate::helpers::count(
        &mut conn,
        &format!("SELECT count(*) AS n FROM carts WHERE token_hash = convert_to('{token}', 'UTF8')"),
    )
    .await;
    assert_eq!(stored, 0);

    let cart = expect_json(app.add_product(&guest_a, lamp, 2).await, 200).await;
    assert!(cart.get("cart_token").is_none(), "the token is issued once");
    assert_eq!(cart["lines"][0]["quantity"], 3);
    let fetched = expect_json(app.get_cart(&guest_a).await, 200).await;
    assert_eq!(fetched["id"], cart["id"]);
    let a_line = line_id(&fetched, 0);

    // No token: an empty cart, not someone else's.
    assert_eq!(expect_json(app.get_cart(&Who::anonymous()).await, 200).await["id"], Value::Null);
    // A forged token: 404, on reads and writes.
    let forged = Who::guest("not-a-real-token");
    expect_problem(app.get_cart(&forged).await, 404, "cart_not_found").await;
    expect_problem(app.add_product(&forged, lamp, 1).await, 404, "cart_not_found").await;
    expect_problem(app.clear(&forged).await, 404, "cart_not_found").await;

    // Another guest cannot touch guest A's line.
    let response = app.add_product(&Who::anonymous(), lamp, 1).await;
    let token_b = response.headers().get("x-cart-token").unwrap().to_str().unwrap().to_owned();
    assert_ne!(token_b, token);
    let guest_b = Who::guest(&token_b);
    expect_problem(app.update(&guest_b, &a_line, &json!({"quantity": 9})).await, 404, "line_not_found").await;
    expect_problem(app.remove(&guest_b, &a_line).await, 404, "line_not_found").await;
    expect_problem(app.remove(&Who::anonymous(), &a_line).await, 404, "line_not_found").await;
    assert_eq!(expect_json(app.get_cart(&guest_a).await, 200).await["lines"][0]["quantity"], 3);

    // Guest A can, and emptying keeps the token valid.
    expect_json(app.update(&guest_a, &a_line, &json!({"quantity": 4})).await, 200).await;
    expect_json(app.clear(&guest_a).await, 200).await;
    let cart = expect_json(app.get_cart(&guest_a).await, 200).await;
    assert_eq!((cart["id"].clone(), cart["lines"].clone()), (fetched["id"].clone(), json!([])));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_cannot_touch_another_users_lines() {
    let app = TestApp::spawn().await;
    let mut conn = app.conn().await;
    let lamp = seed_product(&mut conn, 1050, "EUR", true).await;
    let alice = Who::user(&customer());
    let bob = Who::user(&customer());
    let cart = expect_json(app.add_product(&alice, lamp, 2).await, 200).await;
    let line = line_id(&cart, 0);
    expect_json(app.add_product(&bob, lamp, 1).await, 200).await;

    let body = expect_problem(app.update(&bob, &line, &json!({"quantity": 5})).await, 404, "line_not_found").await;
    assert!(!body["detail"].as_str().unwrap().contains("alice"));
    expect_problem(app.remove(&bob, &line).await, 404, "line_not_found").await;
    expect_problem(app.remove(&bob, "not-a-uuid").await, 404, "line_not_found").await;
    expect_problem(app.remove(&bob, &Uuid::now_v7().to_string()).await, 404, "line_not_found").await;
    let cart = expect_json(app.get_cart(&alice).await, 200).await;
    assert_eq!(cart["lines"][0]["quantity"], 2, "alice's line is untouched");
    let bobs = expect_json(app.get_cart(&bob).await, 200).await;
    assert_ne!(bobs["id"], cart["id"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_requests_are_client_errors_with_problem_json() {
    let app = TestApp::spawn().await;
    let mut conn = app.conn().await;
    let lamp = seed_product(&mut conn, 1050, "EUR", true).await;
    let hidden = seed_product(&mut conn, 500, "EUR", false).await;
    let dollars = seed_product(&mut conn, 500, "USD", true).await;
    let me = Who::user(&customer());

    for quantity in [json!(0), json!(100), json!(-1), json!("two"), json!(1.5), Value::Null] {
        let body = expect_problem(
            app.add(&me, &json!({"product_id": lamp, "quantity": quantity})).await,
            400,
            "validation_failed",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "quantity", "quantity {quantity}: {body}");
    }
    let body =
        expect_problem(app.add(&me, &json!({"product_id": "nope", "quantity": 1})).await, 400, "validation_failed")
            .await;
    assert_eq!(body["errors"][0]["field"], "product_id");
    // A missing field is reported by the shared extractor as an unreadable document.
    expect_problem(app.add(&me, &json!({"quantity": 1})).await, 400, "invalid_json").await;
    expect_problem(
        app.add(&me, &json!({"product_id": lamp, "quantity": 1, "price": 1})).await,
        400,
        "validation_failed",
    )
    .await;
    let response =
        app.request(Method::POST, "/cart/items", &me).header("content-type", "application/json").body("{").send().await;
    expect_problem(response.unwrap(), 400, "invalid_json").await;
    let response = app.request(Method::POST, "/cart/items", &me).body("product=1").send().await.unwrap();
    expect_problem(response, 415, "unsupported_media_type").await;

    let body = expect_problem(
        app.add_product(&me, shop_cart::domain::ProductId(Uuid::now_v7()), 1).await,
        404,
        "product_not_found",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("does not exist"));
    expect_problem(app.add_product(&me, hidden, 1).await, 422, "product_unavailable").await;
    assert_eq!(expect_json(app.get_cart(&me).await, 200).await["id"], Value::Null, "failed adds create no cart");

    let cart = expect_json(app.add_product(&me, lamp, 1).await, 200).await;
    expect_problem(app.add_product(&me, dollars, 1).await, 409, "currency_mismatch").await;
    let line = line_id(&cart, 0);
    for quantity in [json!(0), json!(100)] {
        expect_problem(app.update(&me, &line, &json!({"quantity": quantity})).await, 400, "validation_failed").await;
    }

    // The 101st line.
    for _ in 0..99 {
        let product = seed_product(&mut conn, 1, "EUR", true).await;
        expect_json(app.add_product(&me, product, 1).await, 200).await;
    }
    let extra = seed_product(&mut conn, 1, "EUR", true).await;
    expect_problem(app.add_product(&me, extra, 1).await, 422, "cart_full").await;
    // Growing an existing line is still fine at 100 lines.
    expect_json(app.add_product(&me, lamp, 1).await, 200).await;

    expect_problem(app.request(Method::PATCH, "/cart", &me).send().await.unwrap(), 405, "method_not_allowed").await;
    expect_problem(app.merge(&Who::guest("x")).await, 401, "unauthorized").await;
    expect_problem(app.merge(&me).await, 400, "cart_token_required").await;
    expect_problem(app.merge(&Who::user_with_token(&customer(), "unknown")).await, 404, "cart_not_found").await;
    let response = app.request(Method::GET, "/cart", &Who::anonymous()).header("x-auth-user-id", "nope").send().await;
    expect_problem(response.unwrap(), 401, "unauthorized").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_at_login_sums_caps_and_spends_the_token() {
    let app = TestApp::spawn().await;
    let mut conn = app.conn().await;
    let lamp = seed_product(&mut conn, 1000, "EUR", true).await;
    let desk = seed_product(&mut conn, 5000, "EUR", true).await;
    let chair = seed_product(&mut conn, 3000, "EUR", true).await;

    let response = app.add_product(&Who::anonymous(), lamp, 70).await;
    let token = response.headers().get("x-cart-token").unwrap().to_str().unwrap().to_owned();
    expect_json(response, 200).await;
    let guest_cart = expect_json(app.add_product(&Who::guest(&token), desk, 2).await, 200).await;
    let guest_desk_line = line_id(&guest_cart, 1);

    let alice = customer();
    expect_json(app.add_product(&Who::user(&alice), lamp, 40).await, 200).await;
    expect_json(app.add_product(&Who::user(&alice), chair, 1).await, 200).await;

    let merged = expect_json(app.merge(&Who::user_with_token(&alice, &token)).await, 200).await;
    assert_ne!(merged["id"], guest_cart["id"]);
    let quantities: Vec<(Value, Value)> =
        merged["lines"].as_array().unwrap().iter().map(|l| (l["product_id"].clone(), l["quantity"].clone())).collect();
    assert_eq!(quantities, vec![(json!(lamp), json!(99)), (json!(chair), json!(1)), (json!(desk), json!(2))]);
    assert_eq!(merged["subtotal"]["amount_minor"], 99 * 1000 + 3000 + 2 * 5000);
    assert_eq!(line_id(&merged, 2), guest_desk_line, "a moved line keeps its id");
    let updated = app.update(&Who::user(&alice), &guest_desk_line, &json!({"quantity": 3})).await;
    assert_eq!(expect_json(updated, 200).await["lines"][2]["quantity"], 3);
    expect_problem(app.get_cart(&Who::guest(&token)).await, 404, "cart_not_found").await;
    expect_problem(app.merge(&Who::user_with_token(&alice, &token)).await, 404, "cart_not_found").await;
    // A stale token on an authenticated request is ignored: the user's cart answers.
    let cart = expect_json(app.get_cart(&Who::user_with_token(&alice, &token)).await, 200).await;
    assert_eq!(cart["id"], merged["id"]);

    // Automatic merge: the first authenticated request that still carries a guest token.
    let bob = customer();
    let response = app.add_product(&Who::anonymous(), desk, 3).await;
    let token = response.headers().get("x-cart-token").unwrap().to_str().unwrap().to_owned();
    let cart = expect_json(app.add_product(&Who::user_with_token(&bob, &token), desk, 1).await, 200).await;
    assert_eq!(cart["lines"][0]["quantity"], 4, "merged, then added");
    assert_eq!(outbox_count(&mut conn, "cart.merged").await, 2);
    assert_eq!(crate::helpers::count(&mut conn, "SELECT count(*) AS n FROM carts WHERE user_id IS NULL").await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_products_stay_visible_but_unavailable() {
    let app = TestApp::spawn().await;
    let mut conn = app.conn().await;
    let lamp = seed_product(&mut conn, 1000, "EUR", true).await;
    let desk = seed_product(&mut conn, 5000, "EUR", true).await;
    let me = Who::user(&customer());
    expect_json(app.add_product(&me, lamp, 2).await, 200).await;
    expect_json(app.add_product(&me, desk, 1).await, 200).await;

    products::mark_deleted(&mut conn, lamp, "SKU", chrono::Utc::now()).await.unwrap();
    let state = ProductState {
        product_id: desk,
        sku: "SKU-D",
        name: "Desk",
        price_minor: 4000,
        currency: "EUR",
        active: false,
        as_of: chrono::Utc::now(),
    };
    products::upsert(&mut conn, &state).await.unwrap();
    let cart = expect_json(app.get_cart(&me).await, 200).await;
    let available: Vec<&Value> = cart["lines"].as_array().unwrap().iter().map(|l| &l["available"]).collect();
    assert_eq!(available, vec![&json!(false), &json!(false)]);
    assert_eq!(cart["subtotal"], json!({"amount_minor": 0, "currency": "EUR"}));
    assert_eq!(cart["item_count"], 3);
    expect_problem(app.add_product(&me, lamp, 1).await, 404, "product_not_found").await;
    expect_problem(app.add_product(&me, desk, 1).await, 422, "product_unavailable").await;
    // Such lines can shrink or go, not grow.
    let desk_line = line_id(&cart, 1);
    expect_problem(app.update(&me, &desk_line, &json!({"quantity": 2})).await, 422, "product_unavailable").await;
    let lamp_line = line_id(&cart, 0);
    let cart = expect_json(app.update(&me, &lamp_line, &json!({"quantity": 1})).await, 200).await;
    assert_eq!(cart["item_count"], 2);
    expect_json(app.remove(&me, &desk_line).await, 200).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_sum_exactly() {
    let app = TestApp::spawn().await;
    let mut conn = app.conn().await;
    let lamp = seed_product(&mut conn, 1000, "EUR", true).await;
    let alice = Who::user(&customer());
    let adds = (0..12).map(|_| app.add_product(&alice, lamp, 2));
    for response in futures_util::future::join_all(adds).await {
        expect_json(response, 200).await;
    }
    let cart = expect_json(app.get_cart(&alice).await, 200).await;
    assert_eq!(cart["lines"].as_array().unwrap().len(), 1);
    assert_eq!(cart["lines"][0]["quantity"], 24);

    // The same for a guest: concurrent adds with one token land in one cart.
    let response = app.add_product(&Who::anonymous(), lamp, 1).await;
    let token = response.headers().get("x-cart-token").unwrap().to_str().unwrap().to_owned();
    let guest = Who::guest(&token);
    let adds = (0..12).map(|_| app.add_product(&guest, lamp, 1));
    for response in futures_util::future::join_all(adds).await {
        expect_json(response, 200).await;
    }
    assert_eq!(expect_json(app.get_cart(&guest).await, 200).await["lines"][0]["quantity"], 13);
    assert_eq!(crate::helpers::count(&mut conn, "SELECT count(*) AS n FROM carts").await, 2);
    app.stop().await;
}
