//! `MAX_BODY_BYTES`: a body over the limit is a 413, whether it declared its length or streamed.

use crate::support::{FakeUpstream, TestGateway, assert_problem};
use bytes::Bytes;

const LIMIT: usize = 4096;

fn chunked(chunks: usize, chunk_size: usize) -> reqwest::Body {
    let stream = futures_util::stream::iter(
        (0..chunks).map(move |_| Ok::<_, std::io::Error>(Bytes::from(vec![b'z'; chunk_size]))).collect::<Vec<_>>(),
    );
    reqwest::Body::wrap_stream(stream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_length_over_the_limit_is_refused_before_the_upstream_is_called() {
    let cart = FakeUpstream::start("cart");
    let gateway = TestGateway::in_front_of(&[&cart], &[("MAX_BODY_BYTES", "4096")]).await;

    let response = gateway.client.post(gateway.url("/cart/items")).body(vec![b'a'; LIMIT + 1]).send().await.unwrap();
    let body = assert_problem(response, 413, "payload_too_large").await;
    assert!(body["detail"].as_str().unwrap().contains("4096"), "{body}");
    assert_eq!(cart.requests(), 0, "the upstream must not be contacted");

    // Exactly at the limit passes.
    let response = gateway.client.post(gateway.url("/cart/items")).body(vec![b'a'; LIMIT]).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let echo: serde_json::Value = response.json().await.unwrap();
    assert_eq!(echo["body_len"], LIMIT);

    gateway.stop().await;
    cart.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_body_that_grows_past_the_limit_is_a_413() {
    let cart = FakeUpstream::start("cart");
    let gateway = TestGateway::in_front_of(&[&cart], &[("MAX_BODY_BYTES", "4096")]).await;

    // Chunked, so the gateway only learns the size while streaming: 8 × 1 KiB.
    let response = gateway.client.post(gateway.url("/cart/items")).body(chunked(8, 1024)).send().await.unwrap();
    assert_problem(response, 413, "payload_too_large").await;
    // The upstream may have seen the start of the request but never a complete one.
    assert_eq!(cart.requests(), 0, "a cut-off body must not reach a handler as a whole one");

    gateway.stop().await;
    cart.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_body_within_the_limit_arrives_whole() {
    let cart = FakeUpstream::start("cart");
    // A limit (1 MiB) well above actix's 256 KiB default for buffered bodies, which must not apply
    // to the streamed proxy body.
    let gateway = TestGateway::in_front_of(&[&cart], &[("MAX_BODY_BYTES", "1048576")]).await;

    let response = gateway.client.post(gateway.url("/cart/items")).body(chunked(120, 5000)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let echo: serde_json::Value = response.json().await.unwrap();
    assert_eq!(echo["body_len"], 600_000);
    assert_eq!(echo["headers"]["transfer-encoding"], "chunked", "streamed, not buffered into one length");

    gateway.stop().await;
    cart.stop().await;
}
