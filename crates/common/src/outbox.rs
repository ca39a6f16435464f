//! The transactional outbox: events are rows written in the same transaction as the state change,
//! and a relay task publishes them.
//!
//! Guarantee: an event is published if and only if its transaction committed, at least once. The
//! relay claims a batch with `FOR UPDATE SKIP LOCKED` (several replicas never publish the same rows
//! concurrently), publishes it, and marks it sent in the same transaction; a crash after the publish
//! but before the commit republishes the batch, which consumers' inbox dedupe absorbs.

use crate::db::DbPool;
use crate::events::Envelope;
use crate::kafka::producer::{EventProducer, OutgoingRecord};
use crate::schema::outbox;
use crate::settings::KafkaSettings;
use crate::shutdown::Shutdown;
use anyhow::Context;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use uuid::Uuid;

#[derive(Insertable)]
#[diesel(table_name = outbox)]
struct NewOutboxRow<'a> {
    event_id: Uuid,
    topic: &'a str,
    record_key: &'a str,
    payload: serde_json::Value,
    headers: serde_json::Value,
}

#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = outbox)]
struct OutboxRow {
    id: i64,
    topic: String,
    record_key: String,
    payload: serde_json::Value,
    headers: serde_json::Value,
}

/// Writes `event` for `topic` (logical name, without the test prefix). Call it inside the
/// transaction that makes the change the event describes.
pub async fn enqueue(
    conn: &mut AsyncPgConnection,
    topic: &str,
    event: &Envelope,
    request_id: Option<&str>,
) -> QueryResult<()> {
    let mut headers = serde_json::Map::new();
    headers.insert("event_type".into(), event.event_type.clone().into());
    if let Some(request_id) = request_id {
        headers.insert("x-request-id".into(), request_id.into());
    }
    let payload =
        serde_json::to_value(event).map_err(|err| diesel::result::Error::SerializationError(Box::new(err)))?;
    diesel::insert_into(outbox::table)
        .values(NewOutboxRow {
            event_id: event.id,
            topic,
            record_key: &event.key,
            payload,
            headers: serde_json::Value::Object(headers),
        })
        .execute(conn)
        .await?;
    Ok(())
}

/// What one event is: its type and payload version, the producing service and the aggregate id
/// (the record key).
#[derive(Debug, Clone, Copy)]
pub struct EventMeta<'a> {
    pub topic: &'a str,
    pub event_type: &'a str,
    pub version: u32,
    pub source: &'a str,
}

/// Wraps a typed payload in a new [`Envelope`] keyed by `key` and writes it with [`enqueue`],
/// carrying the current request's id: what every producer does inside its transaction.
pub async fn enqueue_typed<T: serde::Serialize>(
    conn: &mut AsyncPgConnection,
    meta: EventMeta<'_>,
    key: impl Into<String>,
    data: &T,
) -> QueryResult<()> {
    let envelope = Envelope::new_typed(meta.event_type, meta.version, meta.source, key, data)
        .map_err(|err| diesel::result::Error::SerializationError(Box::new(err)))?;
    enqueue(conn, meta.topic, &envelope, crate::http::request_id::current().as_deref()).await
}

/// Published rows are kept this long for audits and replays, then pruned.
const KEEP_PUBLISHED: Duration = Duration::from_secs(7 * 24 * 3600);
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Publishes outbox rows to the broker until shutdown.
pub struct OutboxRelay {
    pool: DbPool,
    producer: EventProducer,
    kafka: KafkaSettings,
    service: String,
    batch_size: i64,
    idle_poll: Duration,
    wake: Arc<Notify>,
}

/// Lets request handlers wake the relay right after their commit, so events go out without
/// waiting for the next poll.
#[derive(Clone, Default)]
pub struct RelayWaker(Arc<Notify>);

impl RelayWaker {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

impl OutboxRelay {
    pub fn new(pool: DbPool, producer: EventProducer, kafka: KafkaSettings, service: &str, waker: &RelayWaker) -> Self {
        Self {
            pool,
            producer,
            kafka,
            service: service.to_owned(),
            batch_size: 500,
            idle_poll: Duration::from_millis(100),
            wake: waker.0.clone(),
        }
    }

    /// Runs until shutdown; a failing batch is retried with back-off, never skipped.
    pub async fn run(self, mut shutdown: Shutdown) {
        let mut backoff = Duration::from_millis(100);
        let mut last_prune = std::time::Instant::now();
        loop {
            if shutdown.is_triggered() {
                break;
            }
            if last_prune.elapsed() >= PRUNE_EVERY {
                last_prune = std::time::Instant::now();
                self.prune().await;
            }
            match self.relay_batch().await {
                Ok(count) => {
                    backoff = Duration::from_millis(100);
                    if count as i64 == self.batch_size {
                        continue; // more are waiting
                    }
                    tokio::select! {
                        _ = shutdown.wait() => break,
                        _ = self.wake.notified() => {}
                        _ = tokio::time::sleep(self.idle_poll) => {}
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %format!("{err:#}"), retry_in_ms = backoff.as_millis() as u64, "outbox relay batch failed");
                    metrics::counter!("outbox_relay_errors_total", "service" => self.service.clone()).increment(1);
                    tokio::select! {
                        _ = shutdown.wait() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        tracing::info!("outbox relay stopped");
    }

    /// Claims, publishes and marks one batch; returns how many rows it published.
    pub async fn relay_batch(&self) -> anyhow::Result<usize> {
        let mut conn = self.pool.get().await.context("getting a connection for the outbox relay")?;
        let published = conn
            .transaction::<usize, anyhow::Error, _>(async |conn| {
                let rows: Vec<OutboxRow> = outbox::table
                    .filter(outbox::published_at.is_null())
                    .order(outbox::id)
                    .limit(self.batch_size)
                    .select(OutboxRow::as_select())
                    .for_update()
                    .skip_locked()
                    .load(conn)
                    .await?;
                if rows.is_empty() {
                    return Ok(0);
                }
                let records: Vec<OutgoingRecord> = rows.iter().map(|row| self.to_record(row)).collect();
                self.producer.publish_all(&records).await?;
                let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
                diesel::update(outbox::table.filter(outbox::id.eq_any(&ids)))
                    .set(outbox::published_at.eq(diesel::dsl::now))
                    .execute(conn)
                    .await?;
                Ok(rows.len())
            })
            .await?;
        if published > 0 {
            metrics::counter!("outbox_published_total", "service" => self.service.clone()).increment(published as u64);
        }
        Ok(published)
    }

    async fn prune(&self) {
        let Ok(mut conn) = self.pool.get().await else { return };
        match prune_published(&mut conn, KEEP_PUBLISHED).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(outbox.pruned = count, "pruned published outbox rows"),
            Err(err) => tracing::warn!(error = %err, "pruning the outbox failed"),
        }
    }

    fn to_record(&self, row: &OutboxRow) -> OutgoingRecord {
        let headers = row
            .headers
            .as_object()
            .map(|map| map.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned()))).collect())
            .unwrap_or_default();
        OutgoingRecord {
            topic: self.kafka.topic(&row.topic),
            key: row.record_key.clone(),
            payload: row.payload.to_string().into_bytes(),
            headers,
        }
    }
}

/// Rows not yet published: the `outbox_backlog` gauge, refreshed at each scrape.
pub async fn backlog(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    outbox::table.filter(outbox::published_at.is_null()).count().get_result(conn).await
}

/// Deletes published rows older than `keep`, bounding the table's growth.
pub async fn prune_published(conn: &mut AsyncPgConnection, keep: Duration) -> QueryResult<usize> {
    let cutoff = chrono::Utc::now() - chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::days(7));
    diesel::delete(outbox::table.filter(outbox::published_at.lt(cutoff))).execute(conn).await
}
