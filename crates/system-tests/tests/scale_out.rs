//! Scale-out on this machine: two instances of inventory and two of analytics in one consumer group
//! each split the partitions, one of each stops mid-traffic, and in the end every event was applied
//! exactly once (the stock ledger, the reservations and the analytics figures match the orders
//! placed, and each consumer's inbox holds exactly the events the producers published).
//!
//! What the broker does when a member stops was measured on tansu 0.6.0 (the local broker,
//! ARCHITECTURE.md §8) with these binaries, 2 partitions per topic, `session.timeout.ms` 10 s:
//!
//! | membership | SIGTERM | SIGKILL |
//! |---|---|---|
//! | dynamic (no `KAFKA_GROUP_INSTANCE_ID`) | the survivor takes over at once (< 0.5 s) | not reassigned within 45 s |
//! | static (`KAFKA_GROUP_INSTANCE_ID`, KIP-345) | not reassigned within 45 s | not reassigned within 45 s |
//!
//! tansu neither expires a member whose session timed out nor rebalances when a static member
//! stops (librdkafka sends no LeaveGroup for a static member on close, KIP-345), so with static ids
//! a stopped instance's partitions wait until an instance with the same id joins again (~6 s after
//! it starts). Apache Kafka reassigns them after the session timeout in every case. Hence two
//! tests, each proving what really works here and nothing it cannot:
//!
//! - `dynamic_members_hand_over_on_sigterm`: the survivor takes over a SIGTERMed instance's
//!   partitions and every order completes without a restart.
//! - `static_members_resume_after_a_crash_and_a_restart`: the deployments' static membership; one
//!   inventory instance is SIGKILLed and one analytics instance SIGTERMed mid-traffic, the survivors
//!   keep applying the events of their own partitions, and the stopped instances restarted with the
//!   same ids finish the rest. The takeover by the survivor after the session timeout (Kafka's
//!   behaviour) cannot be shown on tansu; on Kafka the test passes as well (it waits for completion,
//!   not for who completes).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;
use serde_json::json;
use shop_system_tests::{Stack, StackOptions, status_and_json};
use shop_testkit::wait_for;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Stock every product starts with.
const INITIAL_STOCK: i64 = 1000;
/// The services scaled out here.
const SCALED: [&str; 2] = ["inventory", "analytics"];

/// One order the test placed (a guest checkout of one line).
struct Placed {
    id: String,
    order_token: String,
    product: String,
    quantity: i64,
    total_minor: i64,
}

struct Product {
    id: String,
    price_minor: i64,
}

/// The test's traffic: products and the orders placed so far.
struct Shop {
    products: Vec<Product>,
    orders: Vec<Placed>,
}

impl Shop {
    async fn open(stack: &Stack, products: usize) -> Self {
        let admin = stack.admin_token().await;
        let mut list = Vec::new();
        for i in 0..products {
            let price_minor = 1000 + 250 * i as i64;
            list.push(Product { id: stack.create_product(&admin, price_minor, INITIAL_STOCK).await, price_minor });
        }
        Shop { products: list, orders: Vec::new() }
    }

    /// A guest checkout through the gateway: cart token, one line, order placed (PENDING).
    async fn place_order(&mut self, stack: &Stack) -> usize {
        let n = self.orders.len();
        let product = &self.products[n % self.products.len()];
        let quantity = 1 + (n as i64 % 3);
        let cart_token = wait_for(Duration::from_secs(30), "the cart to accept the product", || async {
            let response = stack
                .client
                .post(stack.url("/cart/items"))
                .json(&json!({"product_id": product.id, "quantity": quantity}))
                .send()
                .await
                .ok()?;
            let token = response.headers().get("x-cart-token").and_then(|v| v.to_str().ok()).map(str::to_owned);
            let (status, body) = status_and_json(response).await;
            match status {
                200 | 201 => Some(token.expect("a guest cart token")),
                404 | 422 => None, // the cart has not learned the product yet
                other => panic!("adding to the cart: {other} {body}"),
            }
        })
        .await
        .unwrap();
        let body = json!({
            "email": format!("guest-{n}@scale.test"),
            "shipping_address": {"name": "Grace Hopper", "line1": "1 Compiler Way", "city": "Arlington",
                                 "postal_code": "22201", "country": "US"},
        });
        let response = stack
            .client
            .post(stack.url("/orders"))
            .header("x-cart-token", &cart_token)
            .header("idempotency-key", uuid::Uuid::new_v4().to_string())
            .json(&body)
            .send()
            .await
            .unwrap();
        let (status, order) = status_and_json(response).await;
        assert_eq!(status, 201, "{order}");
        let total_minor = order["total"]["amount_minor"].as_i64().unwrap();
        assert_eq!(total_minor, product.price_minor * quantity, "{order}");
        self.orders.push(Placed {
            id: order["id"].as_str().unwrap().to_owned(),
            order_token: order["order_token"].as_str().unwrap().to_owned(),
            product: product.id.clone(),
            quantity,
            total_minor,
        });
        n
    }

    /// Places orders until at least `each` of those from `from` on lie on every partition of
    /// `order_events`, so every consumer's share of the traffic is exercised.
    async fn until_every_partition(&mut self, stack: &Stack, from: usize, each: usize) {
        for _ in 0..100 {
            let covered = (0..PARTITIONS)
                .all(|p| self.orders[from..].iter().filter(|o| partition_of(&o.id) == p).count() >= each);
            if covered {
                return;
            }
            self.place_order(stack).await;
        }
        panic!("100 orders and still a partition of order_events without {each} of them");
    }

    async fn status(&self, stack: &Stack, order: &Placed) -> String {
        let response = stack
            .client
            .get(stack.url(&format!("/orders/{}", order.id)))
            .header("x-order-token", &order.order_token)
            .send()
            .await
            .unwrap();
        let (status, body) = status_and_json(response).await;
        assert_eq!(status, 200, "{body}");
        body["status"].as_str().unwrap().to_owned()
    }

    /// Places orders until every named instance has applied at least one `order.created` (each
    /// holds a partition of `order_events`), at most `within`; returns how many it placed.
    async fn until_each_consumes(&mut self, stack: &Stack, instances: &[String], within: Duration) -> usize {
        let deadline = Instant::now() + within;
        let mut placed = 0;
        loop {
            let mut idle = Vec::new();
            for name in instances {
                if consumed(stack, name, "order.created").await == 0 {
                    idle.push(name.clone());
                }
            }
            if idle.is_empty() {
                return placed;
            }
            assert!(Instant::now() < deadline, "within {within:?}, {idle:?} consumed no order.created: no partition?");
            self.place_order(stack).await;
            placed += 1;
        }
    }

    /// Waits until every order placed is CONFIRMED (local payments approve at once).
    async fn wait_all_confirmed(&self, stack: &Stack, within: Duration) {
        wait_for(within, "every order to be CONFIRMED", || async {
            for order in &self.orders {
                let status = self.status(stack, order).await;
                assert!(status == "PENDING" || status == "CONFIRMED", "order {} is {status}", order.id);
                if status != "CONFIRMED" {
                    return None;
                }
            }
            Some(())
        })
        .await
        .unwrap();
    }
}

/// Partitions per topic in a test stack (`KAFKA_PARTITIONS`).
const PARTITIONS: u32 = 2;

/// The partition librdkafka's default partitioner (`consistent_random`: CRC-32 of the key modulo
/// the partition count) puts a record with this key on; an order's events are keyed by its id.
fn partition_of(key: &str) -> u32 {
    let mut crc = !0u32;
    for byte in key.bytes() {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc % PARTITIONS
}

/// `kafka_events_consumed_total` of one event type on one instance's own `/metrics`.
async fn consumed(stack: &Stack, instance: &str, event_type: &str) -> u64 {
    counter(stack, instance, "kafka_events_consumed_total", &format!("type=\"{event_type}\"")).await
}

/// The sum of one counter's series (those whose labels contain `label`) on one instance.
async fn counter(stack: &Stack, instance: &str, name: &str, label: &str) -> u64 {
    let url = format!("{}/metrics", stack.service_url(instance));
    let text = stack.client.get(url).send().await.unwrap().text().await.unwrap();
    let prefix = format!("{name}{{");
    text.lines()
        .filter(|line| line.starts_with(&prefix) && line.contains(label))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[derive(diesel::QueryableByName)]
struct TypeCount {
    #[diesel(sql_type = Text)]
    event_type: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn type_counts(stack: &Stack, service: &str, sql: &str) -> BTreeMap<String, i64> {
    let mut conn = stack.connect_db(service).await;
    let rows: Vec<TypeCount> = diesel::sql_query(sql).load(&mut conn).await.unwrap();
    rows.into_iter().map(|row| (row.event_type, row.n)).collect()
}

/// Events written by every producer, per type (outbox rows, sent or not: a consumer's inbox can only
/// match them once all are sent and applied).
async fn published(stack: &Stack) -> BTreeMap<String, i64> {
    let mut all = BTreeMap::new();
    for producer in ["auth", "catalog", "cart", "order", "inventory"] {
        let sql = "SELECT payload->>'type' AS event_type, count(*) AS n FROM outbox GROUP BY 1";
        for (event_type, n) in type_counts(stack, producer, sql).await {
            *all.entry(event_type).or_insert(0) += n;
        }
    }
    all
}

async fn inbox(stack: &Stack, service: &str) -> BTreeMap<String, i64> {
    let sql = format!("SELECT event_type, count(*) AS n FROM inbox WHERE consumer = '{service}' GROUP BY 1");
    type_counts(stack, service, &sql).await
}

async fn one_number(stack: &Stack, service: &str, sql: &str) -> i64 {
    let mut conn = stack.connect_db(service).await;
    shop_testkit::db::count(&mut conn, sql).await
}

/// Every event applied exactly once, checked against what the producers published and against the
/// orders the test placed.
async fn assert_applied_exactly_once(stack: &Stack, shop: &Shop) {
    let orders = shop.orders.len() as i64;

    // Inventory: its inbox holds each product.created and order.created once, as published ...
    let inventory_types = ["product.created", "order.created"];
    let (inventory_inbox, sent) =
        wait_for(Duration::from_secs(60), "inventory's inbox to match the outboxes", || async {
            let sent = published(stack).await;
            let seen = inbox(stack, "inventory").await;
            inventory_types.iter().all(|t| seen.get(*t) == sent.get(*t)).then_some((seen, sent))
        })
        .await
        .unwrap();
    assert_eq!(inventory_inbox["order.created"], orders, "{inventory_inbox:?}");
    assert_eq!(sent["product.created"], shop.products.len() as i64, "{sent:?}");
    // ... one reservation per order, each held once, and the stock ledger adds up per product.
    let reservation_orders = "SELECT count(*) AS n FROM reservation_orders WHERE state = 'reserved'";
    assert_eq!(one_number(stack, "inventory", reservation_orders).await, orders);
    assert_eq!(one_number(stack, "inventory", "SELECT count(*) AS n FROM reservation_orders").await, orders);
    assert_eq!(one_number(stack, "inventory", "SELECT count(*) AS n FROM reservations").await, orders);
    for product in &shop.products {
        let ordered: i64 = shop.orders.iter().filter(|o| o.product == product.id).map(|o| o.quantity).sum();
        let id = &product.id;
        let reserved =
            one_number(stack, "inventory", &format!("SELECT reserved AS n FROM stock WHERE product_id = '{id}'")).await;
        let on_hand =
            one_number(stack, "inventory", &format!("SELECT on_hand AS n FROM stock WHERE product_id = '{id}'")).await;
        let available =
            one_number(stack, "inventory", &format!("SELECT available AS n FROM stock WHERE product_id = '{id}'"))
                .await;
        let ledger = one_number(
            stack,
            "inventory",
            &format!("SELECT COALESCE(sum(quantity), 0)::bigint AS n FROM reservations WHERE product_id = '{id}'"),
        )
        .await;
        assert_eq!((reserved, ledger), (ordered, ordered), "product {id}: reserved / ledger vs ordered");
        assert_eq!((on_hand, available), (INITIAL_STOCK, INITIAL_STOCK - ordered), "product {id}");
    }

    // Analytics: its inbox holds every published event of every topic once ...
    let (analytics_inbox, sent) =
        wait_for(Duration::from_secs(60), "analytics' inbox to match the outboxes", || async {
            let sent = published(stack).await;
            let seen = inbox(stack, "analytics").await;
            (seen == sent).then_some((seen, sent))
        })
        .await
        .unwrap();
    assert_eq!(analytics_inbox.get("order.confirmed"), Some(&orders), "{sent:?}");
    // ... and its revenue is the orders' totals, counted once each.
    let admin = stack.admin_token().await;
    let response = stack.client.get(stack.url("/analytics/revenue")).bearer_auth(&admin).send().await.unwrap();
    let (status, revenue) = status_and_json(response).await;
    assert_eq!(status, 200, "{revenue}");
    let gross: i64 = shop.orders.iter().map(|o| o.total_minor).sum();
    let totals = &revenue["totals"];
    assert_eq!(totals.as_array().map(Vec::len), Some(1), "{revenue}");
    assert_eq!(totals[0]["currency"], "EUR", "{revenue}");
    assert_eq!(totals[0]["orders"], json!(orders), "{revenue}");
    assert_eq!(totals[0]["gross_minor"], json!(gross), "{revenue}");
    assert_eq!(totals[0]["net_minor"], json!(gross), "{revenue}");

    // For the record: redeliveries the inbox turned away on the running analytics instances
    // (whether any happen depends on timing; the checks above hold either way).
    let mut skipped = 0;
    for name in ["analytics", "analytics-1"] {
        if stack.is_running(name) {
            skipped += counter(stack, name, "analytics_events_duplicate_total", "").await;
        }
    }
    eprintln!("analytics skipped {skipped} redelivered events through its inbox");
}

/// Starts the stack (options as given) with a second instance of inventory and of analytics;
/// returns the stack and the instance names, first instances first.
async fn scaled_stack(options: StackOptions) -> (Stack, Vec<String>, Vec<String>) {
    let mut stack = Stack::start(options).await;
    let mut firsts = Vec::new();
    let mut seconds = Vec::new();
    for service in SCALED {
        firsts.push(service.to_owned());
        seconds.push(stack.start_replica(service).await);
    }
    (stack, firsts, seconds)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_members_hand_over_on_sigterm() {
    let started = Instant::now();
    let mut options = StackOptions::default();
    for service in SCALED {
        options = options.with(service, "KAFKA_GROUP_INSTANCE_ID", "");
    }
    let (mut stack, firsts, seconds) = scaled_stack(options).await;
    let mut shop = Shop::open(&stack, 4).await;

    // Both instances of each service hold partitions: each applies some of the orders.
    for _ in 0..4 {
        shop.place_order(&stack).await;
    }
    let all: Vec<String> = firsts.iter().chain(&seconds).cloned().collect();
    shop.until_each_consumes(&stack, &all, Duration::from_secs(60)).await;

    // Mid-traffic (orders in flight, not yet confirmed): the second instances stop gracefully.
    for _ in 0..3 {
        shop.place_order(&stack).await;
    }
    for name in &seconds {
        let status = stack.terminate(name);
        assert!(status.success(), "{name} exit status after SIGTERM: {status}");
    }
    let before = shop.orders.len();
    for _ in 0..4 {
        shop.place_order(&stack).await;
    }
    shop.until_every_partition(&stack, before, 2).await;

    // No restart: the first instances take over the partitions and every order completes, the
    // ones on the stopped instances' partitions included.
    shop.wait_all_confirmed(&stack, Duration::from_secs(60)).await;
    // The first instances alone applied every order placed after the stop.
    let after_stop = (shop.orders.len() - before) as u64;
    for name in &firsts {
        let applied = consumed(&stack, name, "order.created").await;
        assert!(
            applied >= after_stop,
            "{name} applied {applied} order.created, {after_stop} were placed after the stop"
        );
    }
    assert_applied_exactly_once(&stack, &shop).await;
    eprintln!("{} orders, {:?}", shop.orders.len(), started.elapsed());
    stack.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_members_resume_after_a_crash_and_a_restart() {
    let started = Instant::now();
    let (mut stack, firsts, seconds) = scaled_stack(StackOptions::default()).await;
    let mut shop = Shop::open(&stack, 4).await;

    for _ in 0..4 {
        shop.place_order(&stack).await;
    }
    let all: Vec<String> = firsts.iter().chain(&seconds).cloned().collect();
    shop.until_each_consumes(&stack, &all, Duration::from_secs(60)).await;

    // Mid-traffic: inventory's second instance crashes (SIGKILL) right after applying an event,
    // most likely before the offset auto-commit (every 500 ms), so that event is delivered again
    // after the restart; analytics' second instance stops (SIGTERM).
    let burst = shop.orders.len();
    shop.until_every_partition(&stack, burst, 1).await;
    let mut inventory_db = stack.connect_db("inventory").await;
    let ids: Vec<String> = shop.orders[burst..].iter().map(|o| format!("'{}'", o.id)).collect();
    let applied = format!("SELECT count(*) AS n FROM reservation_orders WHERE order_id IN ({})", ids.join(","));
    let deadline = Instant::now() + Duration::from_secs(30);
    while shop_testkit::db::count(&mut inventory_db, &applied).await < ids.len() as i64 {
        assert!(Instant::now() < deadline, "inventory did not apply the burst's orders within 30 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (inventory_2, analytics_2) = (&seconds[0], &seconds[1]);
    stack.kill(inventory_2);
    let status = stack.terminate(analytics_2);
    assert!(status.success(), "{analytics_2} exit status after SIGTERM: {status}");

    // Keep driving, on both partitions: the first instances go on applying the events of their
    // own partitions, so the orders on one partition of `order_events` all confirm.
    let after_stop = shop.orders.len();
    for _ in 0..4 {
        shop.place_order(&stack).await;
    }
    shop.until_every_partition(&stack, after_stop, 2).await;
    let (live, statuses) = wait_for(Duration::from_secs(60), "the orders of one partition to confirm", || async {
        let mut statuses = Vec::new();
        for order in &shop.orders[after_stop..] {
            statuses.push((partition_of(&order.id), shop.status(&stack, order).await));
        }
        (0..PARTITIONS)
            .find(|p| statuses.iter().filter(|(q, _)| q == p).all(|(_, status)| status == "CONFIRMED"))
            .map(|p| (p, statuses))
    })
    .await
    .unwrap();
    // What the other partition's orders show depends on the broker (tansu: PENDING until the
    // stopped instance is back; Kafka: confirmed after the session timeout): reported, not asserted.
    eprintln!("one instance of each stopped: partition {live} live; orders (partition, status): {statuses:?}");

    // The stopped instances come back under their ids and take their partitions back: every order
    // completes and nothing was applied twice.
    for name in [inventory_2, analytics_2] {
        stack.restart(name);
    }
    for name in [inventory_2, analytics_2] {
        stack.wait_instance_healthy(name, Duration::from_secs(60)).await;
    }
    shop.wait_all_confirmed(&stack, Duration::from_secs(60)).await;
    assert_applied_exactly_once(&stack, &shop).await;
    // For the record: what the restarted inventory instance consumed beyond the new orders of the
    // partition it held (on tansu it gets the same one back) was delivered again after the crash
    // and skipped through the inbox (the checks above prove nothing was applied twice).
    let new_on_its_partition = shop.orders[after_stop..].iter().filter(|o| partition_of(&o.id) != live).count();
    let consumed_after_restart = consumed(&stack, inventory_2, "order.created").await;
    eprintln!(
        "{inventory_2} after its restart consumed {consumed_after_restart} order.created, \
         {new_on_its_partition} of them new on its partition"
    );
    eprintln!("{} orders, {:?}", shop.orders.len(), started.elapsed());
    stack.stop();
}
