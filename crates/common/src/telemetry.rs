//! Logs and metrics set-up: JSON logs through `tracing`, one Prometheus recorder per process.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use tracing_subscriber::EnvFilter;

/// Installs the JSON log subscriber (`RUST_LOG` filters; default `info`). Safe to call twice.
pub fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,rdkafka=warn"));
    let json = std::env::var("LOG_FORMAT").map(|v| v != "text").unwrap_or(true);
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(true);
    // try_init: tests start several apps in one process; only the first install wins.
    let _ = if json { builder.json().flatten_event(true).try_init() } else { builder.try_init() };
}

/// Latency buckets in seconds, fine-grained under 100 ms where most requests land.
const LATENCY_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The process-global Prometheus recorder, installed on first use.
///
/// The `metrics` facade has exactly one recorder per process, so in-process tests that start several
/// services share it; every series therefore carries an explicit `service` label instead of relying
/// on a global one.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), LATENCY_BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            match builder.install_recorder() {
                Ok(handle) => handle,
                // Another recorder is installed already (not ours): render an empty one rather than crash.
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            }
        })
        .clone()
}
