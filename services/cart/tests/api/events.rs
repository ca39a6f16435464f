//! The consumers and the published events, through the broker: the snapshot follows
//! `product_events`, `order.confirmed` takes the ordered lines out once, and every change lands on
//! `cart_events`.

use crate::helpers::{EVENT_TIMEOUT, TestApp, Who, count, customer, expect_json};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde_json::{Value, json};
use shop_cart::db::products;
use shop_cart::domain::ProductId;
use shop_common::events::Envelope;
use shop_testkit::kafka::read_topic;
use shop_testkit::wait_until;
use std::time::Duration;
use uuid::Uuid;

/// A catalog-shaped `product.created` / `product.updated` payload.
fn product_event(kind: &str, id: Uuid, name: &str, price: i64, active: bool, at: DateTime<Utc>) -> Envelope {
    let mut data = json!({
        "product_id": id, "sku": "SKU-LAMP", "name": name, "description": "A lamp",
        "price": {"amount_minor": price, "currency": "EUR"}, "category_slug": "lighting", "attributes": {},
        "image_urls": [], "active": active, "low_stock_threshold": 2, "created_at": at - ChronoDuration::hours(1),
    });
    if kind == "product.created" {
        data["initial_stock"] = json!(10);
        data["created_at"] = json!(at);
    } else {
        data["updated_at"] = json!(at);
    }
    Envelope::new(kind, 1, "catalog", id.to_string(), data)
}

/// Waits until the cart consumer recorded `event` in its inbox.
async fn wait_applied(app: &TestApp, event: &Envelope) {
    let db = &app.db;
    let sql = format!("SELECT count(*) AS n FROM inbox WHERE event_id = '{}'", event.id);
    wait_until(EVENT_TIMEOUT, &format!("{} to be consumed", event.event_type), || async {
        let mut conn = db.connect().await;
        count(&mut conn, &sql).await == 1
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_snapshot_follows_product_events() {
    let app = TestApp::spawn().await;
    let id = Uuid::now_v7();
    let key = id.to_string();
    let t0 = Utc::now();
    let created = product_event("product.created", id, "Lamp", 1000, true, t0);
    app.publish("product_events", &key, &created).await;
    wait_applied(&app, &created).await;

    let me = Who::user(&customer());
    let cart = expect_json(app.add_product(&me, ProductId(id), 2).await, 200).await;
    assert_eq!(cart["lines"][0]["name"], "Lamp");
    assert_eq!(cart["lines"][0]["unit_price"]["amount_minor"], 1000);

    // A newer update reprices the line; a redelivery and an older update change nothing.
    let updated = product_event("product.updated", id, "Lamp XL", 1250, true, t0 + ChronoDuration::seconds(10));
    app.publish("product_events", &key, &updated).await;
    app.publish("product_events", &key, &updated).await;
    let stale = product_event("product.updated", id, "Lamp (old)", 900, true, t0 + ChronoDuration::seconds(5));
    app.publish("product_events", &key, &stale).await;
    // An unknown version is dead-lettered, never applied.
    let future = Envelope { id: Uuid::now_v7(), version: 2, ..updated.clone() };
    app.publish("product_events", &key, &future).await;
    wait_applied(&app, &stale).await;
    let cart = expect_json(app.get_cart(&me).await, 200).await;
    let line = &cart["lines"][0];
    assert_eq!((line["name"].clone(), line["unit_price"]["amount_minor"].clone()), (json!("Lamp XL"), json!(1250)));
    assert_eq!(cart["subtotal"]["amount_minor"], 2500);
    let dead =
        read_topic(&app.topic("product_events.dlq"), 1, EVENT_TIMEOUT, Duration::from_millis(300)).await.unwrap();
    assert_eq!(dead.len(), 1);

    // Deactivated, then deleted: the line stays, unavailable, out of the subtotal.
    let inactive = product_event("product.updated", id, "Lamp XL", 1250, false, t0 + ChronoDuration::seconds(20));
    app.publish("product_events", &key, &inactive).await;
    wait_applied(&app, &inactive).await;
    let cart = expect_json(app.get_cart(&me).await, 200).await;
    assert_eq!(cart["lines"][0]["available"], false);
    assert_eq!(cart["subtotal"]["amount_minor"], 0);

    let deleted = Envelope::new(
        "product.deleted",
        1,
        "catalog",
        key.clone(),
        json!({"product_id": id, "sku": "SKU-LAMP", "deleted_at": t0 + ChronoDuration::seconds(30)}),
    );
    app.publish("product_events", &key, &deleted).await;
    wait_applied(&app, &deleted).await;
    let mut conn = app.conn().await;
    assert!(products::find(&mut conn, ProductId(id)).await.unwrap().unwrap().deleted);
    let cart = expect_json(app.get_cart(&me).await, 200).await;
    assert_eq!((cart["lines"][0]["available"].clone(), cart["item_count"].clone()), (json!(false), json!(2)));
    app.stop().await;
}

fn order_confirmed(order_id: Uuid, user: Uuid, cart: &Value, lines: &[(&Value, i64)]) -> Envelope {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(product, quantity)| {
            json!({"product_id": product, "quantity": quantity, "unit_price": {"amount_minor": 100, "currency": "EUR"}})
        })
        .collect();
    Envelope::new(
        "order.confirmed",
        1,
        "order",
        order_id.to_string(),
        json!({"order_id": order_id, "user_id": user, "cart_id": cart, "lines": lines,
               "total": {"amount_minor": 100, "currency": "EUR"}, "at": Utc::now()}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_confirmed_takes_the_ordered_lines_out_once() {
    let app = TestApp::spawn().await;
    let mut conn = app.conn().await;
    let lamp = crate::helpers::seed_product(&mut conn, 1000, "EUR", true).await;
    let desk = crate::helpers::seed_product(&mut conn, 5000, "EUR", true).await;
    let alice = customer();
    let me = Who::user(&alice);
    expect_json(app.add_product(&me, lamp, 3).await, 200).await;
    let cart = expect_json(app.add_product(&me, desk, 2).await, 200).await;
    let cart_id = cart["id"].clone();
    let (lamp_json, desk_json) = (json!(lamp), json!(desk));

    let order_id = Uuid::now_v7();
    let key = order_id.to_string();
    let confirmed = order_confirmed(order_id, alice.user_id, &cart_id, &[(&lamp_json, 3), (&desk_json, 1)]);
    app.publish("order_events", &key, &confirmed).await;
    app.publish("order_events", &key, &confirmed).await; // delivered twice
    let replay = Envelope { id: Uuid::now_v7(), ..confirmed.clone() }; // replayed under a new id
    app.publish("order_events", &key, &replay).await;
    wait_applied(&app, &replay).await;

    let cart = expect_json(app.get_cart(&me).await, 200).await;
    let lines = cart["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 1, "the lamp line went: {cart}");
    assert_eq!((lines[0]["product_id"].clone(), lines[0]["quantity"].clone()), (desk_json.clone(), json!(1)));

    // The next order takes the rest: the cart ends empty, cart.cleared(checkout) once.
    let second = Uuid::now_v7();
    let confirmed = order_confirmed(second, alice.user_id, &cart_id, &[(&desk_json, 1)]);
    app.publish("order_events", &second.to_string(), &confirmed).await;
    app.publish("order_events", &second.to_string(), &confirmed).await;
    let replay = Envelope { id: Uuid::now_v7(), ..confirmed.clone() };
    app.publish("order_events", &second.to_string(), &replay).await;
    wait_applied(&app, &replay).await;
    let cart = expect_json(app.get_cart(&me).await, 200).await;
    assert_eq!((cart["id"].clone(), cart["lines"].clone()), (cart_id.clone(), json!([])));

    let records = read_topic(&app.topic("cart_events"), 5, EVENT_TIMEOUT, Duration::from_millis(1500)).await.unwrap();
    let events: Vec<&Envelope> = records.iter().filter_map(|r| r.envelope.as_ref()).collect();
    let of = |t: &str| events.iter().filter(|e| e.event_type == t).count();
    assert_eq!(
        (of("cart.item_added"), of("cart.item_removed"), of("cart.item_updated"), of("cart.cleared")),
        (2, 1, 1, 1),
        "{events:?}"
    );
    let cleared = events.iter().find(|e| e.event_type == "cart.cleared").unwrap();
    assert_eq!(cleared.data["reason"], "checkout");
    assert_eq!(cleared.data["cart_id"], cart_id);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_is_published_on_cart_events() {
    let app = TestApp::spawn().await;
    let mut conn = app.conn().await;
    let lamp = crate::helpers::seed_product(&mut conn, 1000, "EUR", true).await;

    let response = app.add_product(&Who::anonymous(), lamp, 2).await;
    let token = response.headers().get("x-cart-token").unwrap().to_str().unwrap().to_owned();
    let guest_cart = expect_json(response, 200).await;
    let guest = Who::guest(&token);
    let line = guest_cart["lines"][0]["id"].as_str().unwrap().to_owned();
    expect_json(app.update(&guest, &line, &serde_json::json!({"quantity": 5})).await, 200).await;
    expect_json(app.remove(&guest, &line).await, 200).await;
    expect_json(app.add_product(&guest, lamp, 1).await, 200).await;
    let alice = customer();
    let merged = expect_json(app.merge(&Who::user_with_token(&alice, &token)).await, 200).await;
    expect_json(app.clear(&Who::user(&alice)).await, 200).await;

    let records = read_topic(&app.topic("cart_events"), 6, EVENT_TIMEOUT, Duration::from_millis(1500)).await.unwrap();
    assert_eq!(records.len(), 6, "one event per change, no duplicates");
    let mut events: Vec<&Envelope> = records.iter().filter_map(|r| r.envelope.as_ref()).collect();
    events.sort_by_key(|e| e.id); // v7 ids: creation order across partitions
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        ["cart.item_added", "cart.item_updated", "cart.item_removed", "cart.item_added", "cart.merged", "cart.cleared"]
    );
    let guest_id = guest_cart["id"].as_str().unwrap();
    let user_cart = merged["id"].as_str().unwrap();
    for event in &events[..4] {
        assert_eq!((event.key.as_str(), event.source.as_str(), event.version), (guest_id, "cart", 1));
        assert_eq!(event.data["user_id"], Value::Null);
    }
    assert_eq!(events[0].data["quantity"], 2);
    assert_eq!(events[0].data["line_quantity"], 2);
    assert_eq!(events[0].data["unit_price"], json!({"amount_minor": 1000, "currency": "EUR"}));
    assert_eq!(events[1].data["quantity"], 5);
    assert_eq!(events[4].key, user_cart);
    assert_eq!(
        (events[4].data["from_cart_id"].as_str(), events[4].data["into_cart_id"].as_str()),
        (Some(guest_id), Some(user_cart))
    );
    assert_eq!(events[4].data["user_id"], json!(alice.user_id));
    assert_eq!(
        (events[5].data["reason"].clone(), events[5].data["user_id"].clone()),
        (json!("user"), json!(alice.user_id))
    );
    let record = records.iter().find(|r| r.envelope.as_ref().is_some_and(|e| e.event_type == "cart.merged")).unwrap();
    assert_eq!(record.key, user_cart, "the record key is the cart id");
    app.stop().await;
}
