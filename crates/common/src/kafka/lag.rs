//! Consumer lag as a Prometheus gauge, `kafka_consumer_lag{service, group, topic, partition}`:
//! records not yet processed by this consumer, per assigned partition.
//!
//! The figure comes from librdkafka's own statistics (`statistics.interval.ms`), delivered to the
//! consumer's context while the consumer loop polls. No extra broker request is made, so a broker
//! that answers watermark queries wrongly (tansu on PostgreSQL 15, ARCHITECTURE.md §8) cannot fail
//! or slow the consumer: librdkafka then reports the lag as unknown (`-1`) and the gauge is simply
//! not updated for that partition.
//!
//! Per partition the lag against the *stored* offset is preferred (the consumer stores an offset
//! only after its transaction committed, so it counts events not yet applied); before anything was
//! stored since start, the lag against the last *committed* offset is used.

use rdkafka::ClientContext;
use rdkafka::consumer::ConsumerContext;
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

/// The metric name.
pub const CONSUMER_LAG: &str = "kafka_consumer_lag";

/// librdkafka's `statistics.interval.ms` for consumers: how fresh the lag gauge is.
pub const STATS_INTERVAL_MS: &str = "5000";

/// The consumer context that turns librdkafka statistics into the lag gauge.
pub struct LagContext {
    service: String,
    group: String,
    /// Partitions whose lag was reported, so one that is revoked drops to 0 instead of keeping
    /// its last value forever (the `metrics` facade cannot delete a series).
    reported: Mutex<BTreeSet<(String, i32)>>,
}

impl LagContext {
    pub fn new(service: &str, group: &str) -> Self {
        Self { service: service.to_owned(), group: group.to_owned(), reported: Mutex::new(BTreeSet::new()) }
    }

    /// Applies one statistics document (librdkafka's JSON). Malformed input is ignored: metrics
    /// must never disturb consumption.
    pub fn record(&self, statistics_json: &[u8]) {
        let Ok(stats) = serde_json::from_slice::<Stats>(statistics_json) else {
            tracing::debug!(consumer.group = %self.group, "unreadable librdkafka statistics; lag not updated");
            return;
        };
        let lags = partition_lags(&stats);
        let Ok(mut reported) = self.reported.lock() else { return };
        let assigned: BTreeSet<(String, i32)> = lags.iter().map(|(t, p, _)| (t.clone(), *p)).collect();
        // Only series that exist are zeroed: a partition whose lag was never known gets none.
        for (topic, partition) in reported.difference(&assigned) {
            self.gauge(topic, *partition).set(0.0);
        }
        reported.retain(|key| assigned.contains(key));
        for (topic, partition, lag) in lags {
            if let Some(lag) = lag {
                self.gauge(&topic, partition).set(lag as f64);
                reported.insert((topic, partition));
            }
        }
    }

    fn gauge(&self, topic: &str, partition: i32) -> metrics::Gauge {
        metrics::gauge!(
            CONSUMER_LAG,
            "service" => self.service.clone(),
            "group" => self.group.clone(),
            "topic" => topic.to_owned(),
            "partition" => partition.to_string(),
        )
    }
}

impl ClientContext for LagContext {
    fn stats_raw(&self, statistics: &[u8]) {
        self.record(statistics);
    }
}

impl ConsumerContext for LagContext {}

/// The part of librdkafka's statistics this module reads; everything defaults, so a field that a
/// librdkafka version leaves out does not discard the rest.
#[derive(Debug, Default, Deserialize)]
struct Stats {
    #[serde(default)]
    topics: HashMap<String, TopicStats>,
}

#[derive(Debug, Default, Deserialize)]
struct TopicStats {
    #[serde(default)]
    partitions: HashMap<String, PartitionStats>,
}

#[derive(Debug, Deserialize)]
struct PartitionStats {
    #[serde(default = "minus_one")]
    partition: i32,
    #[serde(default)]
    desired: bool,
    #[serde(default = "minus_one_i64")]
    consumer_lag: i64,
    #[serde(default = "minus_one_i64")]
    consumer_lag_stored: i64,
}

fn minus_one() -> i32 {
    -1
}
fn minus_one_i64() -> i64 {
    -1
}

/// `(topic, partition, lag)` for every partition this consumer holds; `None` where librdkafka does
/// not know the lag (no watermark yet, or the broker could not give one).
fn partition_lags(stats: &Stats) -> Vec<(String, i32, Option<i64>)> {
    let mut out = Vec::new();
    for (topic, topic_stats) in &stats.topics {
        for partition in topic_stats.partitions.values() {
            // -1 is librdkafka's internal "unassigned" partition; `desired` is false once revoked.
            if partition.partition < 0 || !partition.desired {
                continue;
            }
            let lag = [partition.consumer_lag_stored, partition.consumer_lag].into_iter().find(|lag| *lag >= 0);
            out.push((topic.clone(), partition.partition, lag));
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use metrics_exporter_prometheus::PrometheusBuilder;

    fn statistics(partitions: &[(i32, bool, i64, i64)]) -> Vec<u8> {
        let parts: serde_json::Map<String, serde_json::Value> = partitions
            .iter()
            .map(|(p, desired, lag, lag_stored)| {
                (
                    p.to_string(),
                    serde_json::json!({
                        "partition": p, "desired": desired, "fetch_state": "active",
                        "consumer_lag": lag, "consumer_lag_stored": lag_stored,
                        "hi_offset": 100, "committed_offset": 90
                    }),
                )
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "name": "c#consumer-1", "type": "consumer", "ts": 1,
            "topics": {"t_order_events": {"topic": "t_order_events", "partitions": parts}}
        }))
        .unwrap()
    }

    fn lag_lines(rendered: &str) -> Vec<String> {
        let mut lines: Vec<String> =
            rendered.lines().filter(|l| l.starts_with(CONSUMER_LAG)).map(str::to_owned).collect();
        lines.sort();
        lines
    }

    /// Stored-offset lag wins, committed lag is the fall-back, unknown lag sets nothing, the
    /// internal partition -1 is skipped, and a revoked partition drops to 0.
    #[test]
    fn statistics_become_per_partition_lag_gauges() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let context = LagContext::new("inventory", "t_inventory");
        metrics::with_local_recorder(&recorder, || {
            context.record(&statistics(&[(-1, false, -1, -1), (0, true, 7, 3), (1, true, 12, -1), (2, true, -1, -1)]));
        });
        let labels = |p: u32| {
            format!(
                "{CONSUMER_LAG}{{service=\"inventory\",group=\"t_inventory\",topic=\"t_order_events\",partition=\"{p}\"}}"
            )
        };
        assert_eq!(lag_lines(&handle.render()), vec![format!("{} 3", labels(0)), format!("{} 12", labels(1))]);

        // Partition 1 is revoked (another member took it): its series goes to 0.
        metrics::with_local_recorder(&recorder, || context.record(&statistics(&[(0, true, 0, 0), (1, false, 5, 5)])));
        assert_eq!(lag_lines(&handle.render()), vec![format!("{} 0", labels(0)), format!("{} 0", labels(1))]);
    }

    /// The broker cannot give watermarks (tansu on PostgreSQL 15): no gauge, no panic; garbage in
    /// the statistics is ignored the same way.
    #[test]
    fn unknown_lag_and_bad_statistics_are_ignored() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let context = LagContext::new("cart", "t_cart");
        metrics::with_local_recorder(&recorder, || {
            context.record(&statistics(&[(0, true, -1, -1)]));
            context.record(b"{not json");
            context.record(br#"{"topics": {"x": {"partitions": {"0": {"partition": 0}}}}}"#);
        });
        assert!(lag_lines(&handle.render()).is_empty(), "{}", handle.render());
    }
}
