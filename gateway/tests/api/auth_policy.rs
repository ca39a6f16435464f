//! The route table's access column, through the gateway: who reaches which route, with which
//! identity headers; malformed `Authorization` headers; client-sent identity never gets through.

use crate::support::assert_problem;
use crate::support::auth::{AuthedPlatform, assert_unauthorized, echoed, identity_headers};
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use shop_gateway::upstream::Service;
use shop_testkit::jwt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_routes_need_the_admin_role_and_get_the_identity_forwarded() {
    let platform = AuthedPlatform::start(&[]).await;
    let customer = platform.token(&["customer"]);
    let admin_claims = jwt::access_claims(&["admin"], 900);
    let admin = platform.key.sign(&admin_claims);

    let admin_routes = [
        (Method::GET, "/auth/users"),
        (Method::PUT, "/auth/users/0195f2a4/role"),
        (Method::POST, "/products"),
        (Method::PUT, "/products/7"),
        (Method::DELETE, "/categories/3"),
        (Method::POST, "/inventory/update"),
        (Method::GET, "/inventory/low-stock"),
        (Method::GET, "/inventory/low%2Dstock"),
        (Method::GET, "/analytics/revenue"),
        (Method::PUT, "/orders/9/ship"),
    ];
    for (method, path) in &admin_routes {
        assert_unauthorized(platform.call(method.clone(), path, None).await).await;
        let response = platform.call(method.clone(), path, Some(&customer)).await;
        assert_eq!(response.headers()["www-authenticate"], r#"Bearer realm="shop", error="insufficient_scope""#);
        assert_problem(response, 403, "forbidden").await;
    }
    assert_eq!(platform.forwarded(), 0, "refused requests reach no service");

    for (method, path) in &admin_routes {
        let echo = echoed(platform.call(method.clone(), path, Some(&admin)).await).await;
        assert_eq!(echo["method"], method.as_str());
        let mut headers = identity_headers(&echo);
        headers.sort();
        let expected = [
            ("x-auth-roles", "admin".to_owned()),
            ("x-auth-session-id", admin_claims["sid"].as_str().unwrap().to_owned()),
            ("x-auth-token-exp", admin_claims["exp"].to_string()),
            ("x-auth-token-id", admin_claims["jti"].as_str().unwrap().to_owned()),
            ("x-auth-user-id", admin_claims["sub"].as_str().unwrap().to_owned()),
        ];
        let expected: Vec<(String, String)> = expected.into_iter().map(|(n, v)| (n.to_owned(), v)).collect();
        assert_eq!(headers, expected, "{method} {path}");
    }
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticated_routes_need_a_token_and_public_ones_do_not() {
    let platform = AuthedPlatform::start(&[]).await;
    let customer_claims = jwt::access_claims(&["customer"], 900);
    let customer = platform.key.sign(&customer_claims);

    let authenticated = [
        (Method::GET, "/auth/logout"),
        (Method::POST, "/auth/logout"),
        (Method::GET, "/auth/profile"),
        (Method::PUT, "/auth/profile"),
        (Method::GET, "/orders"),
    ];
    for (method, path) in &authenticated {
        let body = assert_unauthorized(platform.call(method.clone(), path, None).await).await;
        assert!(body["detail"].as_str().unwrap().contains("Bearer"), "{body}");
        // A token of its own per route: a logout the gateway forwarded revokes the one it carried.
        let mut claims = customer_claims.clone();
        claims["jti"] = serde_json::json!(uuid::Uuid::new_v4().to_string());
        let token = platform.key.sign(&claims);
        let echo = echoed(platform.call(method.clone(), path, Some(&token)).await).await;
        assert_eq!(echo["headers"]["x-auth-user-id"], customer_claims["sub"], "{method} {path}");
        assert_eq!(echo["headers"]["x-auth-roles"], "customer");
    }

    let open = [
        (Method::POST, "/auth/login"),
        (Method::POST, "/auth/register"),
        (Method::POST, "/auth/refresh"),
        (Method::GET, "/products"),
        (Method::GET, "/products/7"),
        (Method::GET, "/categories/3"),
        (Method::GET, "/inventory/0195f2a4"),
        (Method::POST, "/payments/webhook"),
        (Method::GET, "/cart"),
        (Method::POST, "/cart/items"),
        (Method::POST, "/orders"),
        (Method::GET, "/orders/9"),
        (Method::PUT, "/orders/9/cancel"),
    ];
    for (method, path) in &open {
        // Anonymous: forwarded without identity.
        let echo = echoed(platform.call(method.clone(), path, None).await).await;
        assert!(identity_headers(&echo).is_empty(), "{method} {path}: {echo}");
        // With a token: verified and forwarded as that user (a signed-in cart, an owned order).
        let echo = echoed(platform.call(method.clone(), path, Some(&customer)).await).await;
        assert_eq!(echo["headers"]["x-auth-user-id"], customer_claims["sub"], "{method} {path}");
    }
    // The gateway's own endpoints need no token either.
    for path in ["/", "/health", "/metrics"] {
        assert_ne!(platform.gateway.get(path).await.status(), 401, "{path}");
    }
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_sent_identity_headers_never_reach_a_service() {
    let platform = AuthedPlatform::start(&[]).await;
    let customer_claims = jwt::access_claims(&["customer"], 900);
    let customer = platform.key.sign(&customer_claims);
    let forged_id = uuid::Uuid::new_v4().to_string();

    for token in [None, Some(customer.as_str())] {
        let mut request = platform
            .gateway
            .client
            .get(platform.gateway.url("/cart"))
            .header("x-auth-user-id", &forged_id)
            .header("X-Auth-Roles", "admin")
            .header("x-auth-token-id", "forged")
            .header("x-auth-session-id", "forged");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let echo = echoed(request.send().await.unwrap()).await;
        let headers = identity_headers(&echo);
        assert!(headers.iter().all(|(_, value)| value != &forged_id && value != "forged"), "{headers:?}");
        match token {
            None => assert!(headers.is_empty(), "{headers:?}"),
            Some(_) => {
                assert_eq!(echo["headers"]["x-auth-user-id"], customer_claims["sub"]);
                assert_eq!(echo["headers"]["x-auth-roles"], "customer");
            }
        }
    }
    // Forged identity on an admin route is no admin.
    let response = platform
        .gateway
        .client
        .get(platform.gateway.url("/analytics/revenue"))
        .header("x-auth-user-id", &forged_id)
        .header("x-auth-roles", "admin")
        .send()
        .await
        .unwrap();
    assert_unauthorized(response).await;
    assert_eq!(platform.fake(Service::Analytics).requests(), 0);
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_authorization_headers_are_401_problem_json_never_500() {
    let platform = AuthedPlatform::start(&[]).await;
    let valid = platform.token(&["customer"]);
    let long = format!("Bearer {}", "a".repeat(10 * 1024));
    let cases: Vec<(&str, HeaderValue)> = vec![
        ("empty", HeaderValue::from_static("")),
        ("scheme only", HeaderValue::from_static("Bearer")),
        ("scheme and space", HeaderValue::from_static("Bearer ")),
        ("basic", HeaderValue::from_static("Basic x")),
        ("no scheme", HeaderValue::from_str(&valid).unwrap()),
        ("two tokens", HeaderValue::from_str(&format!("Bearer {valid} {valid}")).unwrap()),
        ("10 kB token", HeaderValue::from_str(&long).unwrap()),
        ("unicode junk", HeaderValue::from_bytes("Bearer ☃.💥.ünï".as_bytes()).unwrap()),
        ("control bytes", HeaderValue::from_bytes(b"Bearer \x01\x02").unwrap_or(HeaderValue::from_static("Bearer %"))),
        ("sql junk", HeaderValue::from_static("Bearer ' OR 1=1 --")),
        ("dots only", HeaderValue::from_static("Bearer ..")),
    ];
    for path in ["/auth/profile", "/products"] {
        for (case, value) in &cases {
            let response = platform
                .gateway
                .client
                .get(platform.gateway.url(path))
                .header(AUTHORIZATION, value.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 401, "{case} on {path}");
            assert_unauthorized(response).await;
        }
    }
    assert_eq!(platform.forwarded(), 0);
    platform.stop().await;
}
