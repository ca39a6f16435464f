//! `e2e_stack`: the whole stack for the web UI's end-to-end tests (frontend/e2e, Playwright).
//!
//! Starts the six services and the gateway as processes on free ports with fresh databases and a
//! topic prefix of their own ([`Stack::start`]), the gateway serving the built SPA
//! (`FRONTEND_DIR`, default `<repo>/frontend/dist`), loads a small catalogue through the API (a few
//! categories, two dozen products with stock, one already low) and a customer account, then prints
//! one JSON line on stdout:
//!
//! ```json
//! {"ready":true,"gateway_url":"http://127.0.0.1:PORT","app_url":"http://127.0.0.1:PORT/app/",
//!  "admin":{"email":..,"password":..},"customer":{"email":..,"password":..,"name":..},"products":[..]}
//! ```
//!
//! It runs until its stdin closes (the test runner exited, however it ended) or SIGTERM/SIGINT,
//! then stops every process it started and drops their databases. The services' logs go to stderr.
//! Never the developer's `make run` stack: nothing here uses the fixed ports or the shop_* databases.
//!
//! Needs the binaries built (`cargo build --workspace --bins`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test tooling: a broken harness should fail loudly

use serde_json::{Value, json};
use shop_system_tests::{ADMIN_EMAIL, ADMIN_PASSWORD, Stack, StackOptions};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

const CUSTOMER_EMAIL: &str = "customer@e2e.test";
const CUSTOMER_PASSWORD: &str = "customer-e2e-pass";
const CUSTOMER_NAME: &str = "Casey Customer";

/// (slug, name, parent)
const CATEGORIES: &[(&str, &str, Option<&str>)] = &[
    ("home", "Home & Living", None),
    ("lighting", "Lighting", Some("home")),
    ("furniture", "Furniture", Some("home")),
    ("kitchen", "Kitchen", None),
    ("cookware", "Cookware", Some("kitchen")),
    ("garden", "Garden", None),
];

/// (name, category, price in cents, stock)
const PRODUCTS: &[(&str, &str, i64, i32)] = &[
    ("Aurora Desk Lamp", "lighting", 3_450, 40),
    ("Beacon Floor Lamp", "lighting", 8_900, 25),
    ("Cinder Pendant Light", "lighting", 5_990, 30),
    ("Dusk Reading Light", "lighting", 2_250, 3),
    ("Elm Coffee Table", "furniture", 14_900, 12),
    ("Fjord Bookshelf", "furniture", 11_500, 18),
    ("Grove Dining Chair", "furniture", 6_400, 36),
    ("Harbor Sofa Cushion", "furniture", 1_990, 50),
    ("Iris Ceramic Mug", "kitchen", 1_200, 60),
    ("Juniper Tea Towel Set", "kitchen", 950, 45),
    ("Kestrel Chef Knife", "kitchen", 7_900, 20),
    ("Linden Cutting Board", "kitchen", 2_900, 33),
    ("Maple Saucepan", "cookware", 4_500, 22),
    ("Nimbus Cast Iron Skillet", "cookware", 5_200, 27),
    ("Orchid Dutch Oven", "cookware", 12_900, 10),
    ("Pebble Stock Pot", "cookware", 6_800, 0),
    ("Quill Garden Trowel", "garden", 1_450, 70),
    ("Rowan Watering Can", "garden", 2_600, 41),
    ("Sage Herb Planter", "garden", 3_300, 28),
    ("Thistle Pruning Shears", "garden", 2_100, 35),
    ("Umber Garden Bench", "garden", 19_900, 8),
    ("Vale Bird Feeder", "garden", 1_800, 52),
    ("Willow Hammock", "garden", 8_400, 14),
    ("Yarrow Seed Collection", "garden", 990, 90),
];

/// Test executables run from `target/<profile>/deps/`, and the harness finds the service binaries
/// one level above its own directory. A binary runs from `target/<profile>/`, so it re-runs itself
/// from a hard link in `deps/` (same file system, no copy) before anything else.
fn run_from_deps() {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap();
    if dir.file_name().is_some_and(|name| name == "deps") {
        return;
    }
    let link = dir.join("deps").join("e2e_stack-run");
    let _ = std::fs::remove_file(&link);
    if std::fs::hard_link(&exe, &link).is_err() {
        std::fs::copy(&exe, &link).unwrap();
    }
    use std::os::unix::process::CommandExt;
    let err = std::process::Command::new(&link).args(std::env::args_os().skip(1)).exec();
    panic!("re-running {} failed: {err}", link.display());
}

fn frontend_dir() -> PathBuf {
    let dir =
        std::env::args().nth(1).map(PathBuf::from).or_else(|| std::env::var_os("FRONTEND_DIR").map(PathBuf::from));
    let dir = dir.unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../frontend/dist"));
    let dir = dir.canonicalize().unwrap_or_else(|err| panic!("{}: {err} (run `make frontend` first)", dir.display()));
    assert!(dir.join("index.html").is_file(), "{}: no index.html (run `make frontend` first)", dir.display());
    dir
}

async fn post(stack: &Stack, token: Option<&str>, path: &str, body: Value) -> (u16, Value) {
    let mut request = stack.client.post(stack.url(path)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    shop_system_tests::status_and_json(request.send().await.unwrap()).await
}

/// Categories, products and the customer, through the gateway like any client.
async fn load_catalogue(stack: &Stack) -> Vec<String> {
    let admin = stack.admin_token().await;
    for (slug, name, parent) in CATEGORIES {
        let (status, body) =
            post(stack, Some(&admin), "/categories", json!({"slug": slug, "name": name, "parent": parent})).await;
        assert_eq!(status, 201, "category {slug}: {body}");
    }
    let mut ids: Vec<String> = Vec::new();
    for (i, (name, category, price, stock)) in PRODUCTS.iter().enumerate() {
        let product = json!({
            "sku": format!("E2E-{:03}", i + 1),
            "name": name,
            "description": format!("{name}: made for the end-to-end tests, sturdy and good-looking."),
            "price": {"amount_minor": price, "currency": "EUR"},
            "category": category,
            "initial_stock": stock,
        });
        let (status, body) = post(stack, Some(&admin), "/products", product).await;
        assert_eq!(status, 201, "product {name}: {body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    let (status, body) = post(
        stack,
        None,
        "/auth/register",
        json!({"email": CUSTOMER_EMAIL, "password": CUSTOMER_PASSWORD, "name": CUSTOMER_NAME}),
    )
    .await;
    assert_eq!(status, 201, "register the customer: {body}");

    // Stock reaches inventory with product.created and the catalogue's in-stock flag with
    // inventory's events: wait until the storefront shows what the tests will click.
    let deadline = Instant::now() + Duration::from_secs(60);
    for (id, (name, _, _, stock)) in ids.iter().zip(PRODUCTS) {
        loop {
            let response = stack.client.get(stack.url(&format!("/products/{id}"))).send().await.unwrap();
            let body: Value = response.json().await.unwrap();
            if body["in_stock"] == json!(*stock > 0) && body["available"] == json!(stock) {
                break;
            }
            assert!(Instant::now() < deadline, "{name} did not show its stock within 60 s: {body}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    wait_for_cart_and_order_snapshots(stack, &admin, &ids).await;
    ids
}

/// The cart and the order service price from their own product snapshots, fed by the same
/// events; their consumers join their groups some seconds after start. A guest cart adds every
/// product (retrying while the cart does not know it yet) and is emptied again; then a throw-away
/// product, created last, is waited for in the order service's snapshot and deleted.
async fn wait_for_cart_and_order_snapshots(stack: &Stack, admin: &str, ids: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut cart_token: Option<String> = None;
    for (id, (name, _, _, stock)) in ids.iter().zip(PRODUCTS) {
        if *stock == 0 {
            continue; // out of stock is still sellable to the cart, but nobody buys it here
        }
        loop {
            let mut request =
                stack.client.post(stack.url("/cart/items")).json(&json!({"product_id": id, "quantity": 1}));
            if let Some(token) = &cart_token {
                request = request.header("x-cart-token", token);
            }
            let response = request.send().await.unwrap();
            if let Some(token) = response.headers().get("x-cart-token") {
                cart_token = Some(token.to_str().unwrap().to_owned());
            }
            let (status, body) = shop_system_tests::status_and_json(response).await;
            if status == 200 {
                break;
            }
            assert!(status == 404 && Instant::now() < deadline, "the cart did not learn {name}: {status} {body}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let token = cart_token.unwrap();
    let response = stack.client.delete(stack.url("/cart")).header("x-cart-token", token).send().await.unwrap();
    assert_eq!(response.status(), 200, "emptying the probe cart");

    let sentinel = stack.create_product(admin, 100, 1).await;
    let response =
        stack.client.delete(stack.url(&format!("/products/{sentinel}"))).bearer_auth(admin).send().await.unwrap();
    assert!(response.status().is_success(), "deleting the sentinel product: {}", response.status());
}

/// Resolves when stdin reaches its end (or fails) or on SIGTERM/SIGINT.
async fn until_told_to_stop() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).unwrap();
    let mut int = signal(SignalKind::interrupt()).unwrap();
    let stdin_closed = async {
        let mut stdin = tokio::io::stdin();
        let mut buffer = [0u8; 256];
        while matches!(stdin.read(&mut buffer).await, Ok(n) if n > 0) {}
    };
    tokio::select! {
        () = stdin_closed => {}
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

fn main() {
    run_from_deps();
    let frontend = frontend_dir();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let started = Instant::now();
        let options = StackOptions::default().with("gateway", "FRONTEND_DIR", frontend.display().to_string());
        let stack = Stack::start(options).await;
        let ids = load_catalogue(&stack).await;
        let products: Vec<Value> = ids
            .iter()
            .zip(PRODUCTS)
            .map(|(id, (name, category, price, stock))| {
                json!({"id": id, "name": name, "category": category, "price_minor": price, "stock": stock})
            })
            .collect();
        let ready = json!({
            "ready": true,
            "gateway_url": stack.gateway_url,
            "app_url": format!("{}/app/", stack.gateway_url),
            "admin": {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
            "customer": {"email": CUSTOMER_EMAIL, "password": CUSTOMER_PASSWORD, "name": CUSTOMER_NAME},
            "products": products,
            "startup_ms": started.elapsed().as_millis() as u64,
        });
        println!("{ready}");
        eprintln!("e2e_stack: ready at {}/app/ after {:?}", stack.gateway_url, started.elapsed());
        until_told_to_stop().await;
        eprintln!("e2e_stack: stopping");
        stack.stop();
    });
}
