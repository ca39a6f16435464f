//! The consumer loop: at-least-once delivery with offsets stored only after processing.
//!
//! Follows rust-rdkafka's `at_least_once` example: `enable.auto.offset.store=false`, the loop
//! stores a message's offset once its handler's database transaction committed, and the periodic
//! auto-commit (plus a final synchronous commit at shutdown) sends stored offsets to the broker.
//! A crash between the handler's commit and the offset commit redelivers the event; the handler's
//! inbox check turns that redelivery into a no-op.

use super::lag::LagContext;
use super::producer::{EventProducer, OutgoingRecord};
use crate::events::{Envelope, topics};
use crate::settings::KafkaSettings;
use crate::shutdown::Shutdown;
use anyhow::Context;
use rdkafka::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Result<(), HandleError>> + Send + 'a>>;

/// Why a handler did not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The event can never be applied (unknown version, invalid data): it goes to the DLQ.
    #[error("permanent: {0}")]
    Permanent(String),
    /// A dependency failed (database down, ...): retried with back-off, the partition waits.
    #[error("transient: {0:#}")]
    Transient(#[from] anyhow::Error),
}

/// Applies events of the topics it subscribes to. Must be idempotent (use the inbox).
pub trait EventHandler: Send + Sync + 'static {
    /// Applies one event. Unknown event types should return `Ok(())` (ignored).
    fn handle<'a>(&'a self, event: &'a Envelope) -> HandlerFuture<'a>;
}

/// One consumer group of a service.
#[derive(Clone)]
pub struct ConsumerSpec {
    /// Group id before the topic prefix (the prefix is applied, so tests stay isolated).
    pub group: String,
    /// Topic names before the prefix.
    pub topics: Vec<String>,
    pub handler: Arc<dyn EventHandler>,
}

const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Runs the consumer until `shutdown`, then commits the stored offsets.
pub async fn run(
    spec: ConsumerSpec,
    settings: KafkaSettings,
    service: String,
    dead_letters: EventProducer,
    mut shutdown: Shutdown,
) -> anyhow::Result<()> {
    let group = settings.topic(&spec.group);
    let mut config = ClientConfig::new();
    if let Some(instance) = &settings.group_instance_id {
        // One id per consumer of this instance: an instance runs one consumer per group.
        config.set("group.instance.id", format!("{instance}-{}", spec.group));
    }
    let consumer: StreamConsumer<LagContext> = config
        .set("bootstrap.servers", &settings.bootstrap)
        .set("group.id", &group)
        .set("client.id", format!("{service}-{}", spec.group))
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "500")
        .set("enable.auto.offset.store", "false")
        // `latest` relies on ListOffsets, which tansu on PostgreSQL 15 gets wrong (ARCHITECTURE.md §8).
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", settings.fetch_wait.as_millis().to_string())
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "1000")
        .set("statistics.interval.ms", super::lag::STATS_INTERVAL_MS)
        .create_with_context(LagContext::new(&service, &group))
        .context("creating the Kafka consumer")?;
    let topic_names: Vec<String> = spec.topics.iter().map(|t| settings.topic(t)).collect();
    let topic_refs: Vec<&str> = topic_names.iter().map(String::as_str).collect();
    consumer.subscribe(&topic_refs).context("subscribing")?;
    tracing::info!(consumer.group = %group, topics = ?topic_names, "consumer started");

    loop {
        let message = tokio::select! {
            _ = shutdown.wait() => break,
            received = consumer.recv() => received,
        };
        let message = match message {
            Ok(message) => message,
            Err(err) => {
                tracing::warn!(consumer.group = %group, error = %err, "consumer receive failed");
                metrics::counter!("kafka_consumer_errors_total", "service" => service.clone(), "group" => group.clone()).increment(1);
                continue;
            }
        };
        if !process(&message, &*spec.handler, &dead_letters, &service, &group, &mut shutdown).await {
            // Shutdown arrived while retrying: do not store this offset, it is redelivered later.
            break;
        }
        if let Err(err) = consumer.store_offset_from_message(&message) {
            tracing::warn!(consumer.group = %group, error = %err, "storing the offset failed");
        }
    }

    // Offsets stored so far are safe to commit: their transactions committed.
    match consumer.commit_consumer_state(CommitMode::Sync) {
        Ok(()) | Err(rdkafka::error::KafkaError::ConsumerCommit(rdkafka::types::RDKafkaErrorCode::NoOffset)) => {}
        Err(err) => tracing::warn!(consumer.group = %group, error = %err, "final offset commit failed"),
    }
    consumer.unsubscribe();
    tracing::info!(consumer.group = %group, "consumer stopped");
    Ok(())
}

/// Handles one message; returns false if shutdown interrupted a retry.
async fn process(
    message: &BorrowedMessage<'_>,
    handler: &dyn EventHandler,
    dead_letters: &EventProducer,
    service: &str,
    group: &str,
    shutdown: &mut Shutdown,
) -> bool {
    let sink = DeadLetterSink { producer: dead_letters, service, group };
    let envelope = match message.payload().map(serde_json::from_slice::<Envelope>) {
        Some(Ok(envelope)) => envelope,
        Some(Err(err)) => {
            return dead_letter(message, &sink, &format!("malformed envelope: {err}"), shutdown).await;
        }
        None => return dead_letter(message, &sink, "empty payload", shutdown).await,
    };
    let labels = [("service", service.to_owned()), ("group", group.to_owned()), ("type", envelope.event_type.clone())];
    let mut backoff = Duration::from_millis(50);
    loop {
        match handler.handle(&envelope).await {
            Ok(()) => {
                metrics::counter!("kafka_events_consumed_total", &labels).increment(1);
                return true;
            }
            Err(HandleError::Permanent(reason)) => {
                metrics::counter!("kafka_events_dead_lettered_total", &labels).increment(1);
                return dead_letter(message, &sink, &reason, shutdown).await;
            }
            Err(HandleError::Transient(err)) => {
                tracing::warn!(event.id = %envelope.id, event.type = %envelope.event_type, error = %format!("{err:#}"), retry_in_ms = backoff.as_millis() as u64, "event handling failed, retrying");
                metrics::counter!("kafka_event_retries_total", &labels).increment(1);
                tokio::select! {
                    _ = shutdown.wait() => return false,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Where a consumer parks a record, and who it says gave up on it.
struct DeadLetterSink<'a> {
    producer: &'a EventProducer,
    service: &'a str,
    group: &'a str,
}

/// Copies the record to `<topic>.dlq` with the reason, origin and group (`shop-dlq list` shows
/// them, `shop-dlq replay` puts the record back); retries until the broker takes it, because
/// skipping the record without parking it would lose it.
async fn dead_letter(
    message: &BorrowedMessage<'_>,
    sink: &DeadLetterSink<'_>,
    reason: &str,
    shutdown: &mut Shutdown,
) -> bool {
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(original) = message.headers() {
        for header in original.iter() {
            if let Some(value) = header.value.and_then(|v| std::str::from_utf8(v).ok()) {
                headers.push((header.key.to_owned(), value.to_owned()));
            }
        }
    }
    headers.push(("dlq-reason".into(), reason.chars().take(1000).collect()));
    headers.push(("dlq-topic".into(), message.topic().to_owned()));
    headers.push(("dlq-partition".into(), message.partition().to_string()));
    headers.push(("dlq-offset".into(), message.offset().to_string()));
    headers.push(("dlq-service".into(), sink.service.to_owned()));
    headers.push(("dlq-group".into(), sink.group.to_owned()));
    let record = OutgoingRecord {
        topic: topics::dead_letter(message.topic()),
        key: message.key().map(|k| String::from_utf8_lossy(k).into_owned()).unwrap_or_default(),
        payload: message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
        headers,
    };
    tracing::warn!(
        topic = message.topic(),
        partition = message.partition(),
        offset = message.offset(),
        reason,
        "event sent to the dead-letter topic"
    );
    loop {
        match sink.producer.publish(&record).await {
            Ok(()) => return true,
            Err(err) => {
                tracing::error!(error = %format!("{err:#}"), "publishing to the dead-letter topic failed, retrying");
                tokio::select! {
                    _ = shutdown.wait() => return false,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}
