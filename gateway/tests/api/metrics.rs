//! `/metrics` merges the gateway's own series and every service's into one valid exposition.

use crate::support::{FakeUpstream, TestGateway};
use std::collections::{HashMap, HashSet};

/// The families of an exposition in order, failing on what Prometheus rejects: HELP/TYPE repeated
/// or after samples, a family split in two, a series twice.
fn families(text: &str) -> Vec<String> {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut headers = HashSet::new();
    let mut series = HashSet::new();
    let mut order: Vec<String> = Vec::new();
    let enter = |family: String, order: &mut Vec<String>| {
        if order.last() != Some(&family) {
            assert!(!order.contains(&family), "family {family} is split:\n{text}");
            order.push(family);
        }
    };
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            let words: Vec<&str> = comment.split_whitespace().collect();
            assert!(headers.insert((words[0].to_owned(), words[1].to_owned())), "repeated: {line}");
            if words[0] == "TYPE" {
                types.insert(words[1].to_owned(), words[2].to_owned());
            }
            enter(words[1].to_owned(), &mut order);
            continue;
        }
        let (key, value) = line.rsplit_once(' ').unwrap();
        value.parse::<f64>().unwrap_or_else(|_| panic!("bad value in {line:?}"));
        assert!(series.insert(key.to_owned()), "series twice: {key}");
        let name = &key[..key.find('{').unwrap_or(key.len())];
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .filter_map(|suffix| name.strip_suffix(suffix))
            .find(|base| types.get(*base).is_some_and(|t| t == "histogram" || t == "summary"))
            .unwrap_or(name);
        enter(family.to_owned(), &mut order);
    }
    order
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_merge_every_service_into_one_exposition() {
    let catalog = FakeUpstream::start("catalog");
    let cart = FakeUpstream::start("cart");
    // The other four services point at dead ports: skipped, and counted as not scraped.
    let gateway = TestGateway::in_front_of(&[&catalog, &cart], &[]).await;
    // Give the gateway series of its own in the shared families.
    assert_eq!(gateway.get("/products").await.status(), 200);

    let response = gateway.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = response.text().await.unwrap();
    let families = families(&text);

    for family in ["http_requests_total", "http_request_duration_seconds", "fake_catalog_items", "fake_cart_items"] {
        assert_eq!(families.iter().filter(|f| *f == family).count(), 1, "{family}:\n{text}");
    }
    assert_eq!(text.matches("# TYPE http_requests_total counter").count(), 1, "{text}");
    assert_eq!(text.matches("# TYPE http_request_duration_seconds histogram").count(), 1, "{text}");
    for service in ["gateway", "catalog", "cart"] {
        assert!(text.contains(&format!("http_requests_total{{service=\"{service}\"")), "{service}:\n{text}");
        assert!(
            text.contains(&format!("http_request_duration_seconds_count{{service=\"{service}\"")),
            "{service}:\n{text}"
        );
    }
    assert!(text.contains("# HELP gateway_upstream_scrape_up "), "the gateway describes its own series:\n{text}");
    assert!(text.contains("gateway_upstream_scrape_up{service=\"catalog\"} 1"), "{text}");
    assert!(text.contains("gateway_upstream_scrape_up{service=\"cart\"} 1"), "{text}");
    assert!(text.contains("gateway_upstream_scrape_up{service=\"order\"} 0"), "{text}");
    assert!(text.contains("gateway_upstream_requests_total{service=\"catalog\",status=\"200\"}"), "{text}");

    gateway.stop().await;
    catalog.stop().await;
    cart.stop().await;
}
