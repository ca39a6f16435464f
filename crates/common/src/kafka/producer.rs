//! The idempotent producer used by the outbox relay and the dead-letter path.

use crate::settings::KafkaSettings;
use anyhow::Context;
use rdkafka::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use std::time::Duration;

/// One record to publish.
#[derive(Debug, Clone)]
pub struct OutgoingRecord {
    pub topic: String,
    pub key: String,
    pub payload: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

/// A cheap-to-clone handle on one rdkafka producer.
#[derive(Clone)]
pub struct EventProducer {
    inner: FutureProducer,
}

impl EventProducer {
    /// `enable.idempotence` + `acks=all`: a retried send never duplicates or reorders a record
    /// within its partition, which is what the at-least-once outbox relies on.
    pub fn new(settings: &KafkaSettings, client_id: &str) -> anyhow::Result<Self> {
        let inner: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &settings.bootstrap)
            .set("client.id", client_id)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "2")
            .set("message.timeout.ms", "30000")
            .set("socket.keepalive.enable", "true")
            .create()
            .context("creating the Kafka producer")?;
        Ok(Self { inner })
    }

    /// Queues every record (pipelined), then waits for all acknowledgements.
    ///
    /// Returns an error if any record was not acknowledged; the caller retries the whole batch,
    /// which the idempotent producer and the consumers' inbox make harmless.
    pub async fn publish_all(&self, records: &[OutgoingRecord]) -> anyhow::Result<()> {
        let mut pending: Vec<DeliveryFuture> = Vec::with_capacity(records.len());
        for record in records {
            pending.push(self.enqueue(record).await?);
        }
        for delivery in pending {
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((err, _))) => return Err(err).context("the broker rejected a record"),
                Err(_) => anyhow::bail!("the producer dropped a delivery report"),
            }
        }
        Ok(())
    }

    pub async fn publish(&self, record: &OutgoingRecord) -> anyhow::Result<()> {
        self.publish_all(std::slice::from_ref(record)).await
    }

    async fn enqueue(&self, record: &OutgoingRecord) -> anyhow::Result<DeliveryFuture> {
        let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
        for (key, value) in &record.headers {
            headers = headers.insert(Header { key, value: Some(value.as_bytes()) });
        }
        let mut future_record =
            FutureRecord::to(&record.topic).key(record.key.as_bytes()).payload(&record.payload).headers(headers);
        // The local queue can fill up under a burst; back off briefly instead of failing the batch.
        loop {
            match self.inner.send_result(future_record) {
                Ok(delivery) => return Ok(delivery),
                Err((
                    rdkafka::error::KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull),
                    back,
                )) => {
                    future_record = back;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((err, _)) => return Err(err).context("queueing a record"),
            }
        }
    }

    /// Waits until every queued record is delivered (at shutdown).
    pub fn flush(&self, timeout: Duration) -> anyhow::Result<()> {
        self.inner.flush(timeout).context("flushing the producer")
    }

    /// Asks the broker for cluster metadata: the readiness probe.
    pub async fn ping(&self, timeout: Duration) -> anyhow::Result<()> {
        let producer = self.inner.clone();
        tokio::task::spawn_blocking(move || producer.client().fetch_metadata(None, timeout).map(|_| ()))
            .await
            .context("the metadata task panicked")?
            .context("the broker did not answer a metadata request")
    }
}
