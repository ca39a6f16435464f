//! Reads, cancel, ship, the listing, the orders gauge and the shipping e-mail.

use crate::helpers::{Options, ScriptedProvider, TestApp, count, identity, outbox_count, problem_code};
use reqwest::StatusCode;
use serde_json::Value;
use shop_common::auth::Role;
use shop_testkit::wait_until;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_paid_order_refunds_it_once() {
    let provider = Arc::new(ScriptedProvider::default());
    let app = TestApp::spawn_with(Options { provider: Some(provider.clone()), ..Default::default() }).await;
    let (order, _) = app.place_order(&app.customer, 4200, 1).await;
    app.publish_reserved(order).await;
    app.wait_status(order, "CONFIRMED").await;

    let response = app.put(&format!("/orders/{order}/cancel"), Some(&app.customer)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let view: Value = response.json().await.unwrap();
    assert_eq!(view["status"], "CANCELLED");
    assert_eq!(view["failure_reason"], "cancelled_by_customer");
    assert_eq!(view["payment"]["status"], "refunded");
    assert_eq!(view["payment"]["refund_id"], format!("re_{order}"));
    assert_eq!(provider.distinct_refunds(), 1);

    // Cancelling again changes nothing and refunds nothing more.
    let again = app.put(&format!("/orders/{order}/cancel"), Some(&app.customer)).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(provider.distinct_refunds(), 1);
    let mut conn = app.db.connect().await;
    let key = order.to_string();
    assert_eq!(outbox_count(&mut conn, "order.cancelled", Some(&key)).await, 1);
    assert_eq!(outbox_count(&mut conn, "payment.refunded", Some(&key)).await, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_is_for_the_owner_or_an_admin_and_only_until_shipping() {
    let app = TestApp::spawn().await;
    let stranger = identity(Role::Customer);
    let (pending, _) = app.place_order(&app.customer, 100, 1).await;

    assert_eq!(app.put(&format!("/orders/{pending}/cancel"), Some(&stranger)).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.put(&format!("/orders/{pending}/cancel"), None).await.status(), StatusCode::NOT_FOUND);
    let response = app.put(&format!("/orders/{pending}/cancel"), Some(&app.admin)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let view: Value = response.json().await.unwrap();
    assert_eq!(view["failure_reason"], "cancelled_by_admin");
    assert_eq!(view["payment"], Value::Null);

    let (shipped, _) = app.place_order(&app.customer, 100, 1).await;
    app.publish_reserved(shipped).await;
    app.wait_status(shipped, "CONFIRMED").await;
    assert_eq!(app.put(&format!("/orders/{shipped}/ship"), Some(&app.admin)).await.status(), StatusCode::OK);
    let response = app.put(&format!("/orders/{shipped}/cancel"), Some(&app.customer)).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(problem_code(&response.json().await.unwrap()), "conflict");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipping_is_admin_only_for_confirmed_orders_and_records_a_notification() {
    let app = TestApp::spawn().await;
    let (order, _) = app.place_order(&app.customer, 100, 3).await;
    assert_eq!(app.put(&format!("/orders/{order}/ship"), Some(&app.admin)).await.status(), StatusCode::CONFLICT);
    app.publish_reserved(order).await;
    app.wait_status(order, "CONFIRMED").await;

    assert_eq!(app.put(&format!("/orders/{order}/ship"), Some(&app.customer)).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.put(&format!("/orders/{order}/ship"), None).await.status(), StatusCode::UNAUTHORIZED);
    let response = app.put(&format!("/orders/{order}/ship"), Some(&app.admin)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let view: Value = response.json().await.unwrap();
    assert_eq!(view["status"], "SHIPPED");
    let notifications = view["notifications"].as_array().unwrap();
    assert_eq!(notifications.len(), 1);
    assert_eq!(notifications[0]["kind"], "order_shipped");
    assert_eq!(notifications[0]["status"], "skipped", "no SMTP configured and no address: recorded only");
    assert_eq!(app.put(&format!("/orders/{order}/ship"), Some(&app.admin)).await.status(), StatusCode::CONFLICT);

    let fetched: Value = app.get(&format!("/orders/{order}"), Some(&app.customer)).await.json().await.unwrap();
    assert_eq!(fetched["notifications"].as_array().unwrap().len(), 1);
    let mut conn = app.db.connect().await;
    assert_eq!(outbox_count(&mut conn, "order.shipped", Some(&order.to_string())).await, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_customers_order_and_malformed_ids_are_404() {
    let app = TestApp::spawn().await;
    let (order, _) = app.place_order(&app.customer, 100, 1).await;
    let stranger = identity(Role::Customer);
    for path in [format!("/orders/{order}"), format!("/orders/{}", uuid::Uuid::now_v7()), "/orders/not-a-uuid".into()] {
        let response = app.get(&path, Some(&stranger)).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(response.headers()["content-type"], "application/problem+json");
    }
    assert_eq!(app.get(&format!("/orders/{order}"), Some(&app.admin)).await.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listing_pages_own_orders_and_admins_filter_all() {
    let app = TestApp::spawn().await;
    let mut mine = Vec::new();
    for _ in 0..3 {
        mine.push(app.place_order(&app.customer, 100, 2).await.0);
    }
    let other = identity(Role::Customer);
    app.place_order(&other, 100, 1).await;
    app.put(&format!("/orders/{}/cancel", mine[0]), Some(&app.customer)).await;

    let page: Value = app.get("/orders?page=1&page_size=2", Some(&app.customer)).await.json().await.unwrap();
    assert_eq!((page["total"].as_i64(), page["total_pages"].as_i64()), (Some(3), Some(2)));
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["items"][0]["id"], mine[2].to_string(), "newest first");
    assert_eq!(page["items"][0]["item_count"], 2);
    let page: Value = app.get("/orders?page=2&page_size=2", Some(&app.customer)).await.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["id"], mine[0].to_string());

    let all: Value = app.get("/orders", Some(&app.admin)).await.json().await.unwrap();
    assert_eq!(all["total"], 4);
    let cancelled: Value = app.get("/orders?status=CANCELLED", Some(&app.admin)).await.json().await.unwrap();
    assert_eq!(cancelled["total"], 1);
    let today = chrono::Utc::now().date_naive();
    let tomorrow = today.succ_opt().unwrap();
    let yesterday = today.pred_opt().unwrap();
    let from_tomorrow: Value =
        app.get(&format!("/orders?from={tomorrow}"), Some(&app.admin)).await.json().await.unwrap();
    assert_eq!(from_tomorrow["total"], 0);
    let to_yesterday: Value = app.get(&format!("/orders?to={yesterday}"), Some(&app.admin)).await.json().await.unwrap();
    assert_eq!(to_yesterday["total"], 0);
    let window: Value = app
        .get(&format!("/orders?from={today}&to={today}&status=PENDING"), Some(&app.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(window["total"], 3);

    assert_eq!(app.get("/orders?status=PAID", Some(&app.admin)).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.get("/orders?from=yesterday", Some(&app.admin)).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.get("/orders", None).await.status(), StatusCode::UNAUTHORIZED);

    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    for (status, n) in [("PENDING", 3), ("CANCELLED", 1), ("SHIPPED", 0)] {
        let series = format!(r#"ecommerce_orders_total{{service="order",status="{status}"}} {n}"#);
        assert!(metrics.lines().any(|line| line == series), "{series} in {metrics}");
    }
    app.stop().await;
}

/// A minimal SMTP server that accepts every message and keeps the DATA it received.
async fn fake_smtp() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    let received = Arc::new(std::sync::Mutex::new(Vec::new()));
    let store = received.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let store = store.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 fake ESMTP\r\n").await.unwrap();
                let mut in_data = false;
                let mut data = String::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            store.lock().unwrap().push(std::mem::take(&mut data));
                            write.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            data.push_str(&line);
                            data.push('\n');
                        }
                        continue;
                    }
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250 fake\r\n"
                    } else if upper.starts_with("DATA") {
                        in_data = true;
                        b"354 go ahead\r\n"
                    } else if upper.starts_with("QUIT") {
                        write.write_all(b"221 bye\r\n").await.unwrap();
                        break;
                    } else {
                        b"250 ok\r\n"
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (url, received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipping_notice_is_emailed_when_smtp_is_configured() {
    let (smtp_url, received) = fake_smtp().await;
    let app = TestApp::spawn_with(Options { smtp_url: Some(smtp_url), ..Default::default() }).await;
    let product = app.seed_product(990, "EUR", true).await;
    app.cart.set(&format!("user:{}", app.customer.user_id), &[(product, 1)]);
    // The customer registered with this address (user_events); checkout does not ask for it again.
    let registered = shop_common::events::Envelope::new(
        "user.registered",
        1,
        "auth",
        app.customer.user_id.to_string(),
        serde_json::json!({"user_id": app.customer.user_id, "email": "ada@example.com", "name": "Ada",
                           "registered_at": chrono::Utc::now()}),
    );
    app.publish("user_events", &app.customer.user_id.to_string(), &registered).await;
    app.wait_consumed(&registered).await;
    let order: Value = app.post_order(&app.customer, None, None).await.json().await.unwrap();
    assert_eq!(order["email"], "ada@example.com");
    let order = uuid::Uuid::parse_str(order["id"].as_str().unwrap()).unwrap();
    app.publish_reserved(order).await;
    app.wait_status(order, "CONFIRMED").await;
    assert_eq!(app.put(&format!("/orders/{order}/ship"), Some(&app.admin)).await.status(), StatusCode::OK);

    let app_ref = &app;
    wait_until(Duration::from_secs(30), "the notice to be sent", || async move {
        let view: Value = app_ref.get(&format!("/orders/{order}"), Some(&app_ref.customer)).await.json().await.unwrap();
        view["notifications"][0]["status"] == "sent"
    })
    .await
    .unwrap();
    let mails = received.lock().unwrap().clone();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("ada@example.com"), "{}", mails[0]);
    assert!(mails[0].contains(&order.to_string()));
    let mut conn = app.db.connect().await;
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM notifications WHERE sent_at IS NOT NULL").await, 1);
    app.stop().await;
}
