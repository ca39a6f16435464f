//! The whole service through the broker: the scripted month published to the test's topics,
//! redeliveries, dead letters, and a replay into a fresh database under a new consumer group.

use crate::figures::{assert_january, snapshot};
use crate::helpers::{EVENT_TIMEOUT, TestApp, metric_sum};
use crate::history::{applied, dead_letters, duplicates, january};
use reqwest::StatusCode;
use shop_testkit::kafka::read_topic;
use shop_testkit::wait_until;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_month_through_the_broker_gives_exact_figures_and_a_replay_reproduces_them() {
    let app = TestApp::spawn().await;
    let events = january();
    app.publish(&events).await;
    app.wait_applied(applied(&events)).await;
    assert_january(&app.api).await;

    // The malformed and unknown-version events were parked, and the events after them on the
    // same key (O5's order) were applied, as the figures above show.
    for topic in ["order_events", "user_events"] {
        let expected = dead_letters(&events, topic);
        let dlq = app.topic(&format!("{topic}.dlq"));
        let parked = read_topic(&dlq, expected, EVENT_TIMEOUT, Duration::from_millis(500)).await.unwrap();
        assert_eq!(parked.len(), expected, "{dlq}");
        assert!(parked.iter().all(|r| r.headers.contains_key("dlq-reason")));
    }

    // Metrics: one applied count per event; net revenue per currency (EUR 40500 + USD 13000).
    assert_eq!(metric_sum(&app.api, "analytics_events_applied_total").await, applied(&events) as f64);
    assert_eq!(metric_sum(&app.api, "analytics_net_revenue_minor").await, 53_500.0);

    // Access is checked by the shipped app too.
    assert_eq!(app.api.get_as("/analytics/users", None).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.api.get_as("/analytics/users", Some(&app.api.customer)).await.status(), StatusCode::FORBIDDEN);

    // Replay: a second instance with an empty database and its own consumer group reads every
    // topic from the earliest offset and must answer exactly the same.
    let replay = TestApp::spawn_on(&app.prefix, Some("analytics-replay")).await;
    replay.wait_applied(applied(&events)).await;
    assert_eq!(snapshot(&replay.api).await, snapshot(&app.api).await);
    replay.stop().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivered_events_count_once() {
    let app = TestApp::spawn().await;
    let events = january();
    // Everything twice: the second copy of each event is a redelivery.
    app.publish(events.iter().chain(events.iter())).await;
    app.wait_applied(applied(&events)).await;
    // Wait until every copy went through the handler, as a duplicate, before looking.
    let expected = applied(&events) + 2 * duplicates(&events);
    let api = &app.api;
    wait_until(EVENT_TIMEOUT, &format!("{expected} duplicates"), || async move {
        metric_sum(api, "analytics_events_duplicate_total").await == expected as f64
    })
    .await
    .unwrap();
    app.wait_applied(applied(&events)).await;
    assert_january(&app.api).await;
    app.stop().await;
}
