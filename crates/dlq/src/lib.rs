//! The dead-letter tool's library: read what consumers parked in the `<topic>.dlq` topics and put
//! chosen records back on their topic once the cause is fixed.
//!
//! A consumer dead-letters a record it can never apply (malformed envelope, unknown version,
//! invalid data; `HandleError::Permanent`) by copying it to `<topic>.dlq` with `dlq-*` headers
//! saying why, from where, and which group gave up (crates/common `kafka::consumer`). Replaying
//! publishes the original key, payload and headers to the original topic again: every group sees
//! it once more, and the groups that had applied it already skip it by its event id (inbox).

use anyhow::Context;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use shop_common::events::{Envelope, topics};
use shop_common::kafka::producer::OutgoingRecord;
use shop_common::kafka::{EventProducer, ensure_topics};
use shop_common::settings::KafkaSettings;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Headers the consumer adds when it dead-letters a record (not replayed).
pub const HEADER_PREFIX: &str = "dlq-";
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// Added to a replayed record: which dead letter it came from.
pub const REPLAYED_FROM_HEADER: &str = "replayed-from";

/// Where a dead letter sits: `<dlq topic>:<partition>:<offset>`, the id `list` prints and
/// `replay` takes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LetterId {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

impl fmt::Display for LetterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.topic, self.partition, self.offset)
    }
}

impl FromStr for LetterId {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || anyhow::anyhow!("{text:?} is not a dead-letter id (<dlq topic>:<partition>:<offset>)");
        let mut parts = text.rsplitn(3, ':');
        let offset = parts.next().and_then(|o| o.parse().ok()).ok_or_else(invalid)?;
        let partition = parts.next().and_then(|p| p.parse().ok()).ok_or_else(invalid)?;
        let topic = parts.next().filter(|t| t.ends_with(".dlq")).ok_or_else(invalid)?;
        Ok(Self { topic: topic.to_owned(), partition, offset })
    }
}

/// One dead-lettered record.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub id: LetterId,
    /// Topic, partition and offset of the original record.
    pub origin_topic: String,
    pub origin_partition: Option<i32>,
    pub origin_offset: Option<i64>,
    pub reason: String,
    /// The consumer group (and service) that gave up on it, when the consumer recorded them.
    pub group: Option<String>,
    pub service: Option<String>,
    pub key: String,
    pub payload: Vec<u8>,
    /// All headers as received, `dlq-*` included.
    pub headers: Vec<(String, String)>,
    /// The envelope, when the payload is one.
    pub envelope: Option<Envelope>,
}

impl DeadLetter {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// The record to publish for a replay: original topic, key, payload and headers.
    pub fn replay_record(&self) -> OutgoingRecord {
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .filter(|(key, _)| !key.starts_with(HEADER_PREFIX) && key != REPLAYED_FROM_HEADER)
            .cloned()
            .collect();
        headers.push((REPLAYED_FROM_HEADER.to_owned(), self.id.to_string()));
        OutgoingRecord {
            topic: self.origin_topic.clone(),
            key: self.key.clone(),
            payload: self.payload.clone(),
            headers,
        }
    }
}

/// The full dead-letter topic names for `topics` (names before the prefix; all when empty).
pub fn dead_letter_topics(settings: &KafkaSettings, only: &[String]) -> Vec<String> {
    let names: Vec<&str> =
        if only.is_empty() { topics::ALL.to_vec() } else { only.iter().map(String::as_str).collect() };
    names.into_iter().map(|name| settings.topic(&topics::dead_letter(name))).collect()
}

/// Reads every record of `dlq_topics` (full names) from the beginning, until none has arrived for
/// `quiet` (watermarks are not trusted: tansu on PostgreSQL 15 gets them wrong, ARCHITECTURE §8).
/// Commits nothing: listing twice shows the same letters.
pub async fn read(settings: &KafkaSettings, dlq_topics: &[String], quiet: Duration) -> anyhow::Result<Vec<DeadLetter>> {
    // Subscribing to a topic that does not exist yet is an error on some brokers: an empty one
    // is what "nothing dead-lettered" looks like anyway.
    ensure_topics(settings, dlq_topics).await?;
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &settings.bootstrap)
        .set("group.id", format!("shop-dlq-reader-{}", uuid::Uuid::new_v4().simple()))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "10")
        .create()
        .context("creating the Kafka consumer")?;
    // Assigned, not subscribed: no group join (seconds on some brokers) before the first record.
    let mut assignment = TopicPartitionList::new();
    for topic in dlq_topics {
        let metadata = consumer
            .fetch_metadata(Some(topic), METADATA_TIMEOUT)
            .with_context(|| format!("reading the metadata of {topic}"))?;
        for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
            assignment.add_partition_offset(topic, partition.id(), Offset::Beginning)?;
        }
    }
    consumer.assign(&assignment).context("assigning the dead-letter partitions")?;

    let mut letters = Vec::new();
    loop {
        let message = match tokio::time::timeout(quiet, consumer.recv()).await {
            Err(_) => break,
            Ok(received) => received.context("reading a dead-letter topic")?,
        };
        let mut headers = Vec::new();
        if let Some(received) = message.headers() {
            for header in received.iter() {
                let value = header.value.map(|v| String::from_utf8_lossy(v).into_owned()).unwrap_or_default();
                headers.push((header.key.to_owned(), value));
            }
        }
        let payload = message.payload().map(<[u8]>::to_vec).unwrap_or_default();
        let mut letter = DeadLetter {
            id: LetterId {
                topic: message.topic().to_owned(),
                partition: message.partition(),
                offset: message.offset(),
            },
            origin_topic: message.topic().trim_end_matches(".dlq").to_owned(),
            origin_partition: None,
            origin_offset: None,
            reason: String::new(),
            group: None,
            service: None,
            key: message.key().map(|k| String::from_utf8_lossy(k).into_owned()).unwrap_or_default(),
            envelope: serde_json::from_slice(&payload).ok(),
            payload,
            headers,
        };
        if let Some(topic) = letter.header("dlq-topic") {
            letter.origin_topic = topic.to_owned();
        }
        letter.origin_partition = letter.header("dlq-partition").and_then(|p| p.parse().ok());
        letter.origin_offset = letter.header("dlq-offset").and_then(|o| o.parse().ok());
        letter.reason = letter.header("dlq-reason").unwrap_or("(no reason recorded)").to_owned();
        letter.group = letter.header("dlq-group").map(str::to_owned);
        letter.service = letter.header("dlq-service").map(str::to_owned);
        letters.push(letter);
    }
    letters.sort_by(|a, b| (&a.id.topic, a.id.partition, a.id.offset).cmp(&(&b.id.topic, b.id.partition, b.id.offset)));
    Ok(letters)
}

/// Publishes each letter's original record to its topic again (waits for every acknowledgement).
pub async fn replay(producer: &EventProducer, letters: &[&DeadLetter]) -> anyhow::Result<()> {
    let records: Vec<OutgoingRecord> = letters.iter().map(|letter| letter.replay_record()).collect();
    producer.publish_all(&records).await
}

/// The letters `ids` names, in that order; an id not found is an error naming it.
pub fn select<'a>(letters: &'a [DeadLetter], ids: &[LetterId]) -> anyhow::Result<Vec<&'a DeadLetter>> {
    ids.iter()
        .map(|id| letters.iter().find(|letter| &letter.id == id).ok_or_else(|| anyhow::anyhow!("no dead letter {id}")))
        .collect()
}

/// One line per letter, for `list`.
pub fn describe(letter: &DeadLetter) -> String {
    let event = letter.envelope.as_ref().map_or_else(
        || format!("(not an event envelope, {} bytes)", letter.payload.len()),
        |envelope| format!("{} v{} id={}", envelope.event_type, envelope.version, envelope.id),
    );
    let origin = match (letter.origin_partition, letter.origin_offset) {
        (Some(partition), Some(offset)) => format!("{}:{partition}:{offset}", letter.origin_topic),
        _ => letter.origin_topic.clone(),
    };
    let by = match (&letter.service, &letter.group) {
        (Some(service), Some(group)) => format!("{service} ({group})"),
        (None, Some(group)) => group.clone(),
        (Some(service), None) => service.clone(),
        (None, None) => "unknown group".to_owned(),
    };
    format!("{}  from {origin}  {event}  by {by}\n    reason: {}", letter.id, letter.reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letter_ids_round_trip_and_bad_ones_are_refused() {
        let id: LetterId = "t1_order_events.dlq:2:17".parse().unwrap();
        assert_eq!(id, LetterId { topic: "t1_order_events.dlq".into(), partition: 2, offset: 17 });
        assert_eq!(id.to_string(), "t1_order_events.dlq:2:17");
        for bad in ["", "order_events:1:2", "order_events.dlq:1", "order_events.dlq:x:2", "order_events.dlq:1:y"] {
            assert!(bad.parse::<LetterId>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_replay_carries_the_original_record_without_the_dead_letter_headers() {
        let letter = DeadLetter {
            id: LetterId { topic: "order_events.dlq".into(), partition: 0, offset: 3 },
            origin_topic: "order_events".into(),
            origin_partition: Some(1),
            origin_offset: Some(9),
            reason: "unknown version".into(),
            group: Some("inventory".into()),
            service: Some("inventory".into()),
            key: "o-1".into(),
            payload: b"{}".to_vec(),
            headers: vec![
                ("x-request-id".into(), "r1".into()),
                ("dlq-reason".into(), "unknown version".into()),
                ("dlq-topic".into(), "order_events".into()),
                (REPLAYED_FROM_HEADER.into(), "order_events.dlq:0:1".into()),
            ],
            envelope: None,
        };
        let record = letter.replay_record();
        assert_eq!(
            (record.topic.as_str(), record.key.as_str(), record.payload.as_slice()),
            ("order_events", "o-1", &b"{}"[..])
        );
        assert_eq!(
            record.headers,
            vec![("x-request-id".into(), "r1".into()), (REPLAYED_FROM_HEADER.into(), "order_events.dlq:0:3".into())]
        );
        assert!(describe(&letter).contains("from order_events:1:9"));
        assert!(describe(&letter).contains("reason: unknown version"));
    }
}
