//! The gateway's one upstream client pools connections: many requests, few TCP connections, even
//! when the requests land on different gateway workers.

use crate::support::{FakeUpstream, TestGateway};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_requests_reuse_upstream_connections() {
    const REQUESTS: usize = 30;
    let catalog = FakeUpstream::start("catalog");
    let gateway = TestGateway::in_front_of(&[&catalog], &[("HTTP_WORKERS", "2")]).await;

    for index in 0..REQUESTS {
        // A fresh client per request opens a new connection to the gateway each time, so actix
        // spreads them over both workers; the upstream pool is shared by all workers regardless.
        let client = reqwest::Client::new();
        let response = client.get(gateway.url(&format!("/products/{index}"))).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
    }

    assert_eq!(catalog.requests(), REQUESTS);
    let connections = catalog.distinct_connections();
    assert!(connections <= 2, "{REQUESTS} sequential requests opened {connections} upstream connections");

    gateway.stop().await;
    catalog.stop().await;
}
