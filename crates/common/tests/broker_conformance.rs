//! Broker conformance: exactly the Kafka behaviour the services rely on, checked against whatever
//! `KAFKA_BOOTSTRAP` points at (tansu locally, Apache Kafka in compose): idempotent keyed produce,
//! group consumption with manual offset commits, partition hand-over between group members, and
//! resuming from committed offsets.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use rdkafka::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use shop_common::kafka::producer::OutgoingRecord;
use shop_common::kafka::{EventProducer, ensure_topics};
use shop_common::settings::{Env, KafkaSettings};
use shop_testkit::unique_prefix;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

async fn topic_with_partitions(partitions: &str) -> (KafkaSettings, String) {
    let prefix = unique_prefix();
    let bootstrap = shop_testkit::kafka::bootstrap();
    let settings = KafkaSettings::from_env(&Env::from_pairs([
        ("TOPIC_PREFIX", prefix.as_str()),
        ("KAFKA_BOOTSTRAP", bootstrap.as_str()),
        ("KAFKA_PARTITIONS", partitions),
    ]))
    .unwrap();
    let topic = settings.topic("conformance");
    ensure_topics(&settings, std::slice::from_ref(&topic)).await.unwrap();
    (settings, topic)
}

/// `count` records over `keys` keys; the payload is "key:sequence" so order per key is checkable.
async fn produce(settings: &KafkaSettings, topic: &str, keys: usize, from: usize, count: usize) {
    let producer = EventProducer::new(settings, "conformance").unwrap();
    let records: Vec<OutgoingRecord> = (from..from + count)
        .map(|n| OutgoingRecord {
            topic: topic.to_owned(),
            key: format!("k{}", n % keys),
            payload: format!("k{}:{n}", n % keys).into_bytes(),
            headers: vec![("n".into(), n.to_string())],
        })
        .collect();
    producer.publish_all(&records).await.unwrap();
}

fn group_consumer(settings: &KafkaSettings, group: &str, topic: &str) -> StreamConsumer {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &settings.bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "10")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    consumer
}

/// Reads until `until` says stop or `timeout`; commits after every message (manual commit).
async fn consume(
    consumer: &StreamConsumer,
    timeout: Duration,
    mut until: impl FnMut(&[String]) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    while !until(&seen) && Instant::now() < deadline {
        let Ok(Ok(message)) = tokio::time::timeout(Duration::from_millis(200), consumer.recv()).await else { continue };
        seen.push(String::from_utf8(message.payload().unwrap().to_vec()).unwrap());
        consumer.commit_message(&message, CommitMode::Sync).unwrap();
    }
    seen
}

fn sequence(payload: &str) -> (String, usize) {
    let (key, n) = payload.split_once(':').unwrap();
    (key.to_owned(), n.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_idempotent_produce_is_consumed_once_in_key_order() {
    let (settings, topic) = topic_with_partitions("3").await;
    produce(&settings, &topic, 20, 0, 3000).await;
    let consumer = group_consumer(&settings, &format!("{topic}-g"), &topic);
    let seen = consume(&consumer, Duration::from_secs(60), |seen| seen.len() >= 3000).await;
    // A short extra read proves there are no duplicates behind the expected count.
    let extra = consume(&consumer, Duration::from_millis(800), |_| false).await;
    assert_eq!(seen.len(), 3000);
    assert!(extra.is_empty(), "duplicates delivered: {}", extra.len());
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 3000);
    let mut last: HashMap<String, usize> = HashMap::new();
    for payload in &seen {
        let (key, n) = sequence(payload);
        if let Some(previous) = last.insert(key.clone(), n) {
            assert!(n > previous, "key {key} out of order: {previous} then {n}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_resumes_from_committed_offsets() {
    let (settings, topic) = topic_with_partitions("2").await;
    let group = format!("{topic}-g");
    produce(&settings, &topic, 4, 0, 200).await;
    let first = group_consumer(&settings, &group, &topic);
    let before = consume(&first, Duration::from_secs(30), |seen| seen.len() >= 200).await;
    assert_eq!(before.len(), 200);
    drop(first);

    produce(&settings, &topic, 4, 200, 50).await;
    let second = group_consumer(&settings, &group, &topic);
    let after = consume(&second, Duration::from_secs(30), |seen| seen.len() >= 50).await;
    let extra = consume(&second, Duration::from_millis(800), |_| false).await;
    let numbers: HashSet<usize> = after.iter().chain(&extra).map(|p| sequence(p).1).collect();
    assert_eq!(numbers, (200..250).collect(), "only the records after the committed offsets");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_members_split_and_hand_over_partitions_without_loss() {
    let (settings, topic) = topic_with_partitions("4").await;
    let group = format!("{topic}-g");
    produce(&settings, &topic, 16, 0, 400).await;

    let a = group_consumer(&settings, &group, &topic);
    let b = group_consumer(&settings, &group, &topic);
    let mut seen: HashSet<usize> = HashSet::new();
    let (mut from_a, mut from_b) = (0usize, 0usize);
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 400 && Instant::now() < deadline {
        let chunk_a = consume(&a, Duration::from_millis(300), |_| false).await;
        let chunk_b = consume(&b, Duration::from_millis(300), |_| false).await;
        from_a += chunk_a.len();
        from_b += chunk_b.len();
        seen.extend(chunk_a.iter().chain(&chunk_b).map(|p| sequence(p).1));
    }
    assert_eq!(seen.len(), 400, "nothing lost while two members share the topic");
    assert!(from_a > 0 && from_b > 0, "both members got partitions (a: {from_a}, b: {from_b})");

    // One member leaves: the other takes over its partitions and gets everything new.
    drop(a);
    produce(&settings, &topic, 16, 400, 100).await;
    let later = consume(&b, Duration::from_secs(60), |seen| {
        seen.iter().map(|p| sequence(p).1).filter(|n| *n >= 400).collect::<HashSet<_>>().len() >= 100
    })
    .await;
    let new: HashSet<usize> = later.iter().map(|p| sequence(p).1).filter(|n| *n >= 400).collect();
    assert_eq!(new, (400..500).collect(), "the remaining member received every new record");
}
