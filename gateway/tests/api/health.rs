//! `/health` aggregates every service: 200 when all are up, 503 naming a stopped one, and back to
//! 200 when it returns on the same port.

use crate::support::{FakeUpstream, TestGateway, fake_platform};
use std::time::Duration;

async fn health(gateway: &TestGateway) -> (u16, serde_json::Value) {
    let response = gateway.get("/health").await;
    (response.status().as_u16(), response.json().await.unwrap())
}

/// Polls `/health` until `accept(status, report)` holds.
async fn wait_for_report(
    gateway: &TestGateway,
    what: &str,
    accept: impl Fn(u16, &serde_json::Value) -> bool,
) -> serde_json::Value {
    shop_testkit::wait_for(Duration::from_secs(10), what, || async {
        let (status, report) = health(gateway).await;
        accept(status, &report).then_some(report)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_names_a_stopped_service_and_recovers_when_it_returns() {
    let mut fakes = fake_platform();
    let gateway = TestGateway::in_front_of(&fakes.iter().collect::<Vec<_>>(), &[]).await;

    let (status, report) = health(&gateway).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["status"], "up");
    assert_eq!(report["checks"]["redis"]["status"], "up", "the gateway's own Redis: {report}");
    for fake in &fakes {
        let service = &report["services"][fake.name];
        assert_eq!(service["status"], "up", "{}: {report}", fake.name);
        for dependency in ["postgres", "redis", "broker"] {
            assert_eq!(service["checks"][dependency]["status"], "up", "{}/{dependency}", fake.name);
        }
    }

    // Stop the catalog: the gateway answers 503 and says which service and why.
    let index = fakes.iter().position(|fake| fake.name == "catalog").unwrap();
    let catalog = fakes.remove(index);
    let port = catalog.port();
    catalog.stop().await;
    // Polled rather than asserted once: a pooled connection the gateway has not yet seen close
    // may fail the first probe with a different transport error.
    let report = wait_for_report(&gateway, "the gateway to report the catalog refusing connections", |status, r| {
        status == 503 && r["services"]["catalog"]["error"] == "connection refused"
    })
    .await;
    assert_eq!(report["status"], "down");
    assert_eq!(report["services"]["catalog"]["status"], "down", "{report}");
    for fake in &fakes {
        assert_eq!(report["services"][fake.name]["status"], "up", "{}: {report}", fake.name);
    }

    // The catalog returns on the same port: healthy again.
    fakes.push(FakeUpstream::start_on("catalog", port).await);
    let report =
        wait_for_report(&gateway, "the gateway to report everything up again", |status, _| status == 200).await;
    assert_eq!(report["services"]["catalog"]["status"], "up", "{report}");

    gateway.stop().await;
    for fake in fakes {
        fake.stop().await;
    }
}
