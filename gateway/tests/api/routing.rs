//! Every public prefix reaches its service with the request intact; unknown paths are a 404.

use crate::support::auth::AuthedPlatform;
use crate::support::{TestGateway, assert_problem, fake_platform};
use reqwest::Method;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_prefix_reaches_its_service_with_the_request_intact() {
    // An admin token, so every route (admin ones included) is forwarded.
    let platform = AuthedPlatform::start(&[]).await;
    let admin_claims = shop_testkit::jwt::access_claims(&["admin"], 900);
    let admin = platform.key.sign(&admin_claims);
    let gateway = &platform.gateway;

    let cases: &[(Method, &str, &str)] = &[
        (Method::POST, "/auth/login", "auth"),
        (Method::GET, "/auth", "auth"),
        (Method::GET, "/products", "catalog"),
        (Method::DELETE, "/products/0195a1b2", "catalog"),
        (Method::GET, "/products/category/books", "catalog"),
        (Method::GET, "/categories", "catalog"),
        (Method::PUT, "/cart/items/4", "cart"),
        (Method::DELETE, "/cart", "cart"),
        (Method::POST, "/orders", "order"),
        (Method::PUT, "/orders/9/cancel", "order"),
        (Method::POST, "/payments/webhook", "order"),
        (Method::GET, "/inventory/low-stock", "inventory"),
        (Method::POST, "/inventory/update", "inventory"),
        (Method::GET, "/analytics/top-selling", "analytics"),
    ];
    for (index, (method, path, service)) in cases.iter().enumerate() {
        let request_id = format!("routing-test-{index}");
        let body = format!("{{\"case\":{index},\"text\":\"héllo\"}}");
        let response = gateway
            .client
            .request(method.clone(), gateway.url(&format!("{path}?page=2&q=a%20b")))
            .header("x-request-id", &request_id)
            .header("x-auth-user-id", "forged-admin")
            .header("X-Auth-Roles", "admin")
            .bearer_auth(&admin)
            .header("x-cart-token", "guest-1")
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{method} {path}");
        assert_eq!(response.headers()["x-upstream"], *service, "{path}");
        assert_eq!(response.headers()["x-request-id"], request_id.as_str());
        let echo: serde_json::Value = response.json().await.unwrap();
        assert_eq!(echo["service"], *service, "{path}");
        assert_eq!(echo["method"], method.as_str(), "{path}");
        assert_eq!(echo["path"], *path);
        assert_eq!(echo["query"], "page=2&q=a%20b");
        assert_eq!(echo["body"], body.as_str());
        let headers = echo["headers"].as_object().unwrap();
        assert_eq!(headers["x-request-id"], request_id.as_str());
        assert_eq!(headers["authorization"], format!("Bearer {admin}").as_str());
        assert_eq!(headers["x-cart-token"], "guest-1");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
        assert_eq!(headers["x-forwarded-proto"], "http");
        // The client's forged identity is gone; the verified one took its place.
        assert_eq!(headers["x-auth-user-id"], admin_claims["sub"], "{path}");
        assert_eq!(headers["x-auth-roles"], "admin", "{path}");
    }

    // The key set is public and reaches the auth service (its fake serves the test's JWKS).
    let jwks: serde_json::Value = gateway.get("/.well-known/jwks.json").await.json().await.unwrap();
    assert_eq!(jwks["keys"][0]["kid"], platform.key.kid());

    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_answers_pass_through_unchanged() {
    let fakes = fake_platform();
    let gateway = TestGateway::in_front_of(&fakes.iter().collect::<Vec<_>>(), &[]).await;

    // An upstream 404 is the service's answer, not the gateway's: status and body come back as is.
    let response =
        gateway.client.get(gateway.url("/products/missing")).header("x-echo-status", "404").send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["content-type"], "application/json");
    let echo: serde_json::Value = response.json().await.unwrap();
    assert_eq!(echo["path"], "/products/missing");

    // No request id from the client: the gateway's own one reaches the service and the client.
    let response = gateway.get("/cart").await;
    let id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    let echo: serde_json::Value = response.json().await.unwrap();
    assert_eq!(echo["headers"]["x-request-id"], id.as_str());

    gateway.stop().await;
    for fake in fakes {
        fake.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_are_problem_json_404_and_reach_no_service() {
    let fakes = fake_platform();
    let gateway = TestGateway::in_front_of(&fakes.iter().collect::<Vec<_>>(), &[]).await;

    for path in ["/nope", "/productsX", "/cartography/1", "/inventory", "/payments"] {
        let body = assert_problem(gateway.get(path).await, 404, "not_found").await;
        assert!(body["detail"].as_str().unwrap().contains("no route"), "{path}: {body}");
    }
    let response = gateway.client.post(gateway.url("/health")).send().await.unwrap();
    assert_problem(response, 404, "not_found").await;
    assert_eq!(fakes.iter().map(|fake| fake.requests()).sum::<usize>(), 0, "no unknown path may be forwarded");

    // `GET /` describes the gateway and its route table.
    let root: serde_json::Value = gateway.get("/").await.json().await.unwrap();
    assert_eq!(root["service"], "gateway");
    let routes = root["routes"].as_array().unwrap();
    assert!(
        routes.iter().any(|r| r["path"] == "/inventory/**" && r["service"] == "inventory" && r["access"] == "admin"),
        "{root}"
    );
    assert!(routes.iter().any(|r| r["methods"] == "GET" && r["path"] == "/products" && r["access"] == "public"));

    gateway.stop().await;
    for fake in fakes {
        fake.stop().await;
    }
}
