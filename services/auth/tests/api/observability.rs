//! `/metrics` and `/health` of the auth service.

use crate::helpers::{TestApp, unique_email};
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_ecommerce_users_total() {
    let app = TestApp::spawn().await;
    app.register_ok(&unique_email("m1")).await;
    app.register_ok(&unique_email("m2")).await;
    let metrics = app.metrics().await;
    let line = metrics
        .lines()
        .find(|l| l.starts_with("ecommerce_users_total{") && l.contains("service=\"auth\""))
        .unwrap_or_else(|| panic!("no ecommerce_users_total series:\n{metrics}"));
    assert!(line.ends_with(" 2"), "{line}");
    assert!(
        metrics.lines().any(|l| l.starts_with("http_requests_total{") && l.contains("route=\"/auth/register\"")),
        "requests are labelled by route pattern"
    );

    let health = app.get("/health").await;
    assert_eq!(health.status(), StatusCode::OK);
    app.stop().await;
}
