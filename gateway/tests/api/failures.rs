//! Upstream failures become precise problem+json answers: down → 503, slow → 504, broken → 502.

use crate::support::{FakeUpstream, TestGateway, assert_problem, dead_url};
use shop_gateway::upstream::Service;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_is_down_is_a_503_naming_it() {
    let gateway = TestGateway::start(&[(Service::Catalog, dead_url())], &[]).await;

    let response = gateway.get("/products?page=1").await;
    assert_eq!(response.headers()["retry-after"], "2");
    let body = assert_problem(response, 503, "service_unavailable").await;
    assert!(body["detail"].as_str().unwrap().contains("catalog"), "{body}");

    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_service_is_a_504_after_the_upstream_timeout() {
    let catalog = FakeUpstream::start("catalog");
    let gateway = TestGateway::in_front_of(&[&catalog], &[("UPSTREAM_TIMEOUT_MS", "300")]).await;

    let started = Instant::now();
    let response = gateway.get("/products/slow").await;
    let elapsed = started.elapsed();
    let body = assert_problem(response, 504, "gateway_timeout").await;
    assert!(body["detail"].as_str().unwrap().contains("catalog"), "{body}");
    assert!(elapsed >= Duration::from_millis(300), "answered before the timeout: {elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "the timeout did not apply: {elapsed:?}");

    // The same gateway still serves fast calls to that service.
    assert_eq!(gateway.get("/products").await.status(), 200);

    gateway.stop().await;
    catalog.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_breaks_the_connection_is_a_502() {
    // Accepts, reads the request, then hangs up without answering.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let mut buffer = [0u8; 4096];
            let _ = socket.read(&mut buffer).await;
            drop(socket);
        }
    });
    let gateway = TestGateway::start(&[(Service::Order, url)], &[]).await;

    // `GET /orders/{id}` is guest-capable: no token needed to reach the order service.
    let body = assert_problem(gateway.get("/orders/9").await, 502, "bad_gateway").await;
    assert!(body["detail"].as_str().unwrap().contains("order"), "{body}");

    gateway.stop().await;
    server.abort();
}
