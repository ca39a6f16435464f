//! Broker helpers: unique topic prefixes and reading what services published.

use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use shop_common::events::Envelope;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// `TOPIC_PREFIX` value unique to one test, so parallel tests never see each other's events.
pub fn unique_prefix() -> String {
    format!("t{}_", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

pub fn bootstrap() -> String {
    std::env::var("KAFKA_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

/// One record as read back from the broker.
#[derive(Debug, Clone)]
pub struct ReadRecord {
    pub key: String,
    pub envelope: Option<Envelope>,
    pub payload: Vec<u8>,
    pub headers: HashMap<String, String>,
    pub partition: i32,
    pub offset: i64,
}

/// Reads `topic` (full name) from the beginning with a fresh group until `expected` records
/// arrived, then keeps reading for `quiet` to catch extras (duplicates), or fails at `timeout`.
pub async fn read_topic(
    topic: &str,
    expected: usize,
    timeout: Duration,
    quiet: Duration,
) -> anyhow::Result<Vec<ReadRecord>> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", format!("reader_{}", uuid::Uuid::new_v4().simple()))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "10")
        .create()?;
    consumer.subscribe(&[topic])?;
    let started = Instant::now();
    let mut reached_at: Option<Instant> = None;
    let mut records = Vec::new();
    loop {
        let deadline = match reached_at {
            Some(at) => at + quiet,
            None => started + timeout,
        };
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        match tokio::time::timeout(deadline - now, consumer.recv()).await {
            Err(_) => break,
            Ok(Err(err)) => anyhow::bail!("reading {topic}: {err}"),
            Ok(Ok(message)) => {
                let payload = message.payload().map(<[u8]>::to_vec).unwrap_or_default();
                let mut headers = HashMap::new();
                if let Some(h) = message.headers() {
                    for header in h.iter() {
                        let value = header.value.map(|v| String::from_utf8_lossy(v).into_owned()).unwrap_or_default();
                        headers.insert(header.key.to_owned(), value);
                    }
                }
                records.push(ReadRecord {
                    key: message.key().map(|k| String::from_utf8_lossy(k).into_owned()).unwrap_or_default(),
                    envelope: serde_json::from_slice(&payload).ok(),
                    payload,
                    headers,
                    partition: message.partition(),
                    offset: message.offset(),
                });
                if records.len() >= expected && reached_at.is_none() {
                    reached_at = Some(Instant::now());
                }
            }
        }
    }
    if records.len() < expected {
        anyhow::bail!("read {} of {expected} expected records from {topic} within {timeout:?}", records.len());
    }
    Ok(records)
}
