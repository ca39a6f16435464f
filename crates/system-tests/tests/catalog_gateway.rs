//! The catalogue through the gateway, in-process with auth: an admin's write invalidates the Redis
//! cache, so the very next read through the gateway returns the new value (product by id and the
//! category listing), and a stale `If-Match` is refused with 412.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use serde_json::{Value, json};
use shop_common::settings::Env;
use shop_testkit::{TestDb, service_env, unique_prefix};

async fn json_of(response: reqwest::Response) -> (u16, Option<String>, Value) {
    let status = response.status().as_u16();
    let etag = response.headers().get("etag").map(|v| v.to_str().unwrap().to_owned());
    (status, etag, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_the_gateway_is_read_back_at_once() {
    let prefix = unique_prefix();
    let auth_db = TestDb::create("auth", shop_auth::DEFINITION.migrations).await.unwrap();
    let common = shop_auth::DEFINITION.settings(&service_env(&auth_db, &prefix)).unwrap();
    let admin_env =
        Env::from_pairs([("ADMIN_EMAIL", "cat-admin@example.com"), ("ADMIN_PASSWORD", "cat-admin-password")]);
    let auth = shop_auth::start(shop_auth::Settings::from_parts(common, &admin_env).unwrap()).await.unwrap();
    let catalog_db = TestDb::create("catalog", shop_catalog::DEFINITION.migrations).await.unwrap();
    let catalog = shop_catalog::start(shop_catalog::Settings::from_env(&service_env(&catalog_db, &prefix)).unwrap())
        .await
        .unwrap();

    let gateway =
        shop_system_tests::in_process_gateway(&[("AUTH", auth.base_url()), ("CATALOG", catalog.base_url())]).await;
    let base = gateway.base_url();
    let client = reqwest::Client::new();

    let login: Value = client
        .post(format!("{base}/auth/login"))
        .json(&json!({"email": "cat-admin@example.com", "password": "cat-admin-password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin = login["access_token"].as_str().unwrap().to_owned();

    let response = client
        .post(format!("{base}/categories"))
        .bearer_auth(&admin)
        .json(&json!({"slug": "gw-lamps", "name": "Lamps"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let response = client
        .post(format!("{base}/products"))
        .bearer_auth(&admin)
        .json(&json!({"sku": "GW-LAMP-1", "name": "Desk lamp", "price": {"amount_minor": 2500, "currency": "EUR"},
                      "category": "gw-lamps"}))
        .send()
        .await
        .unwrap();
    let (status, _, created) = json_of(response).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();

    // Read twice (the second read is served from the cache), list the category (cached too).
    for _ in 0..2 {
        let (status, _, product) = json_of(client.get(format!("{base}/products/{id}")).send().await.unwrap()).await;
        assert_eq!(status, 200);
        assert_eq!(product["price"]["amount_minor"], 2500);
    }
    let (_, _, listing) = json_of(client.get(format!("{base}/products/category/gw-lamps")).send().await.unwrap()).await;
    assert_eq!(listing["items"][0]["name"], "Desk lamp", "{listing}");
    let (_, etag, _) = json_of(client.get(format!("{base}/products/{id}")).send().await.unwrap()).await;
    let etag = etag.expect("an ETag");

    // The admin changes the price with If-Match; the next reads see it at once.
    let response = client
        .put(format!("{base}/products/{id}"))
        .bearer_auth(&admin)
        .header("if-match", &etag)
        .json(&json!({"name": "Desk lamp (LED)", "price": {"amount_minor": 1999, "currency": "EUR"}}))
        .send()
        .await
        .unwrap();
    let (status, _, updated) = json_of(response).await;
    assert_eq!(status, 200, "{updated}");
    let (_, _, product) = json_of(client.get(format!("{base}/products/{id}")).send().await.unwrap()).await;
    assert_eq!(product["price"]["amount_minor"], 1999, "a stale cached product was served: {product}");
    assert_eq!(product["name"], "Desk lamp (LED)");
    let (_, _, listing) = json_of(client.get(format!("{base}/products/category/gw-lamps")).send().await.unwrap()).await;
    assert_eq!(listing["items"][0]["name"], "Desk lamp (LED)", "a stale cached listing was served: {listing}");

    // The old ETag is stale now: 412, nothing changed.
    let response = client
        .put(format!("{base}/products/{id}"))
        .bearer_auth(&admin)
        .header("if-match", &etag)
        .json(&json!({"price": {"amount_minor": 1, "currency": "EUR"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 412);
    let (_, _, product) = json_of(client.get(format!("{base}/products/{id}")).send().await.unwrap()).await;
    assert_eq!(product["price"]["amount_minor"], 1999);

    gateway.stop().await;
    catalog.stop().await;
    auth.stop().await;
}
