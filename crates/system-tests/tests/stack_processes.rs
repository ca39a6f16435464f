//! The whole stack as real processes: the six service binaries and the gateway start, the
//! gateway's `/health` reports every service up, a stopped service turns it 503 naming the service
//! and a restarted one turns it back to 200, and SIGTERM stops every binary cleanly (exit 0).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use shop_system_tests::{SERVICES, Stack, StackOptions};
use shop_testkit::wait_for;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stack_starts_reports_health_and_stops_on_sigterm() {
    let mut stack = Stack::start(StackOptions::default()).await;
    let report = stack.wait_healthy(Duration::from_secs(10)).await;
    for spec in SERVICES {
        let name = spec.name;
        assert_eq!(report["services"][name]["status"], "up", "{name}: {report}");
        for dependency in ["postgres", "redis", "broker"] {
            assert_eq!(report["services"][name]["checks"][dependency]["status"], "up", "{name}/{dependency}: {report}");
        }
    }

    // Stop the catalog: a graceful exit, and the gateway names it as down.
    let status = stack.terminate("catalog");
    assert!(status.success(), "catalog exit status after SIGTERM: {status}");
    let report = wait_for(Duration::from_secs(20), "the gateway to report the catalog down", || async {
        stack.health().await.filter(|(status, _)| *status == 503).map(|(_, body)| body)
    })
    .await
    .unwrap();
    assert_eq!(report["services"]["catalog"]["status"], "down", "{report}");
    assert_eq!(report["services"]["auth"]["status"], "up", "{report}");

    // Start it again on the same port: health returns to 200.
    stack.restart("catalog");
    stack.wait_healthy(Duration::from_secs(60)).await;

    // Every binary exits 0 on SIGTERM (asserted inside).
    stack.stop();
}
