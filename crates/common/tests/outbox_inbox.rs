//! The delivery guarantees against the real broker and PostgreSQL: the outbox publishes committed
//! events exactly once and rolled-back ones never, resuming after a restart; the inbox applies a
//! redelivered event once; a poison message goes to the DLQ and the partition keeps moving.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use shop_common::db::{COMMON_MIGRATIONS, build_pool};
use shop_common::events::Envelope;
use shop_common::kafka::consumer::{self, ConsumerSpec, EventHandler, HandleError, HandlerFuture};
use shop_common::kafka::producer::OutgoingRecord;
use shop_common::kafka::{EventProducer, ensure_topics};
use shop_common::outbox::{self, OutboxRelay, RelayWaker};
use shop_common::settings::{Env, KafkaSettings};
use shop_common::shutdown;
use shop_testkit::kafka::read_topic;
use shop_testkit::{TestDb, unique_prefix, wait_until};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const TOPIC: &str = "widget_events";

async fn kafka_for_test() -> KafkaSettings {
    let prefix = unique_prefix();
    let bootstrap = shop_testkit::kafka::bootstrap();
    let settings = KafkaSettings::from_env(&Env::from_pairs([
        ("TOPIC_PREFIX", prefix.as_str()),
        ("KAFKA_BOOTSTRAP", bootstrap.as_str()),
        ("KAFKA_PARTITIONS", "2"),
    ]))
    .unwrap();
    let full = settings.topic(TOPIC);
    ensure_topics(&settings, &[full.clone(), format!("{full}.dlq")]).await.unwrap();
    settings
}

fn widget_event(n: usize) -> Envelope {
    Envelope::new("widget.created", 1, "test", format!("widget-{n}"), serde_json::json!({ "n": n }))
}

async fn enqueue_in_transaction(conn: &mut AsyncPgConnection, events: &[Envelope], commit: bool) {
    let result = conn
        .transaction::<(), diesel::result::Error, _>(async |conn| {
            for event in events {
                outbox::enqueue(conn, TOPIC, event, Some("req-1")).await?;
            }
            if commit { Ok(()) } else { Err(diesel::result::Error::RollbackTransaction) }
        })
        .await;
    assert_eq!(result.is_ok(), commit);
}

fn ids(records: &[shop_testkit::kafka::ReadRecord]) -> Vec<uuid::Uuid> {
    records.iter().map(|r| r.envelope.as_ref().expect("an envelope").id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_publishes_committed_events_exactly_once_and_rolled_back_never() {
    let db = TestDb::create("common", || COMMON_MIGRATIONS).await.unwrap();
    let kafka = kafka_for_test().await;
    let mut conn = db.connect().await;

    let committed: Vec<Envelope> = (0..40).map(widget_event).collect();
    let rolled_back: Vec<Envelope> = (100..110).map(widget_event).collect();
    enqueue_in_transaction(&mut conn, &committed[..25], true).await;
    enqueue_in_transaction(&mut conn, &rolled_back, false).await;
    enqueue_in_transaction(&mut conn, &committed[25..], true).await;

    let pool = build_pool(&db.settings(), "outbox-test").unwrap();
    let producer = EventProducer::new(&kafka, "outbox-test").unwrap();
    let relay = OutboxRelay::new(pool.clone(), producer.clone(), kafka.clone(), "outbox-test", &RelayWaker::default());
    let (trigger, stop) = shutdown::channel();
    let task = tokio::spawn(relay.run(stop));

    let records =
        read_topic(&kafka.topic(TOPIC), 40, Duration::from_secs(20), Duration::from_millis(1500)).await.unwrap();
    trigger.trigger();
    task.await.unwrap();

    let published = ids(&records);
    let unique: HashSet<_> = published.iter().collect();
    assert_eq!(published.len(), 40, "every committed event exactly once");
    assert_eq!(unique.len(), 40);
    let expected: HashSet<_> = committed.iter().map(|e| e.id).collect();
    assert_eq!(unique, expected.iter().collect(), "only committed events");
    // Record key is the aggregate id; headers carry type and request id.
    let first = &records[0];
    assert_eq!(first.key, first.envelope.as_ref().unwrap().key);
    assert_eq!(first.headers["event_type"], "widget.created");
    assert_eq!(first.headers["x-request-id"], "req-1");
    // Per-key order: widget-n's events all land on one partition (one each here), ordering by id holds per partition.
    let mut conn = db.connect().await;
    assert_eq!(outbox::backlog(&mut conn).await.unwrap(), 0, "every row marked published");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_relay_resumes_after_a_restart_without_loss_or_duplicates() {
    let db = TestDb::create("common", || COMMON_MIGRATIONS).await.unwrap();
    let kafka = kafka_for_test().await;
    let mut conn = db.connect().await;
    let pool = build_pool(&db.settings(), "outbox-test").unwrap();
    let producer = EventProducer::new(&kafka, "outbox-test").unwrap();

    let before: Vec<Envelope> = (0..15).map(widget_event).collect();
    enqueue_in_transaction(&mut conn, &before, true).await;
    let first = OutboxRelay::new(pool.clone(), producer.clone(), kafka.clone(), "outbox-test", &RelayWaker::default());
    let (trigger, stop) = shutdown::channel();
    let task = tokio::spawn(first.run(stop));
    wait_until(Duration::from_secs(20), "the first relay to drain the outbox", || {
        let pool = pool.clone();
        async move {
            let mut conn = pool.get().await.unwrap();
            outbox::backlog(&mut conn).await.unwrap() == 0
        }
    })
    .await
    .unwrap();
    trigger.trigger();
    task.await.unwrap();

    // Written while no relay runs: the next relay must pick them up.
    let during_downtime: Vec<Envelope> = (15..30).map(widget_event).collect();
    enqueue_in_transaction(&mut conn, &during_downtime, true).await;
    let second = OutboxRelay::new(pool.clone(), producer, kafka.clone(), "outbox-test", &RelayWaker::default());
    let (trigger, stop) = shutdown::channel();
    let task = tokio::spawn(second.run(stop));

    let records =
        read_topic(&kafka.topic(TOPIC), 30, Duration::from_secs(20), Duration::from_millis(1500)).await.unwrap();
    trigger.trigger();
    task.await.unwrap();
    let published = ids(&records);
    let unique: HashSet<_> = published.iter().copied().collect();
    assert_eq!(published.len(), 30);
    let expected: HashSet<_> = before.iter().chain(&during_downtime).map(|e| e.id).collect();
    assert_eq!(unique, expected);
}

diesel::table! {
    applied (event_id) {
        event_id -> Uuid,
    }
}

/// Applies each event by inserting a row, guarded by the inbox, in one transaction.
struct RecordingHandler {
    pool: shop_common::db::DbPool,
    calls: AtomicUsize,
}

impl EventHandler for RecordingHandler {
    fn handle<'a>(&'a self, event: &'a Envelope) -> HandlerFuture<'a> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if event.version != 1 {
                return Err(HandleError::Permanent(format!("unsupported version {}", event.version)));
            }
            let mut conn = self.pool.get().await.map_err(anyhow::Error::from)?;
            conn.transaction::<(), diesel::result::Error, _>(async |conn| {
                if shop_common::inbox::claim(conn, "recorder", event).await? {
                    diesel::insert_into(applied::table).values(applied::event_id.eq(event.id)).execute(conn).await?;
                }
                Ok(())
            })
            .await
            .map_err(anyhow::Error::from)?;
            Ok(())
        })
    }
}

async fn publish_raw(producer: &EventProducer, topic: &str, key: &str, payload: Vec<u8>) {
    let record = OutgoingRecord { topic: topic.to_owned(), key: key.to_owned(), payload, headers: vec![] };
    producer.publish(&record).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_applies_a_redelivered_event_once_and_poison_goes_to_the_dlq() {
    let db = TestDb::create("common", || COMMON_MIGRATIONS).await.unwrap();
    let mut conn = db.connect().await;
    diesel::sql_query("CREATE TABLE applied (event_id UUID PRIMARY KEY)").execute(&mut conn).await.unwrap();
    let kafka = kafka_for_test().await;
    let topic = kafka.topic(TOPIC);
    let producer = EventProducer::new(&kafka, "inbox-test").unwrap();

    let duplicated = widget_event(1);
    let other = widget_event(2);
    let too_new = Envelope { version: 99, ..widget_event(3) };
    // Same key as the good events: the poison sits on their partition, before `other`.
    publish_raw(&producer, &topic, "widget-1", serde_json::to_vec(&duplicated).unwrap()).await;
    publish_raw(&producer, &topic, "widget-1", serde_json::to_vec(&duplicated).unwrap()).await;
    publish_raw(&producer, &topic, "widget-2", b"{not json".to_vec()).await;
    publish_raw(&producer, &topic, "widget-3", serde_json::to_vec(&too_new).unwrap()).await;
    publish_raw(&producer, &topic, "widget-2", serde_json::to_vec(&other).unwrap()).await;

    let pool = build_pool(&db.settings(), "inbox-test").unwrap();
    let handler = Arc::new(RecordingHandler { pool, calls: AtomicUsize::new(0) });
    let spec = ConsumerSpec { group: "recorder".into(), topics: vec![TOPIC.into()], handler: handler.clone() };
    let (trigger, stop) = shutdown::channel();
    let task = tokio::spawn(consumer::run(spec, kafka.clone(), "inbox-test".into(), producer.clone(), stop));

    let dead =
        read_topic(&format!("{topic}.dlq"), 2, Duration::from_secs(30), Duration::from_millis(500)).await.unwrap();
    wait_until(Duration::from_secs(20), "all four decodable deliveries handled", || {
        let handler = handler.clone();
        async move { AtomicUsize::load(&handler.calls, Ordering::SeqCst) >= 4 }
    })
    .await
    .unwrap();
    trigger.trigger();
    task.await.unwrap().unwrap();

    let rows: Vec<uuid::Uuid> = applied::table.select(applied::event_id).load(&mut conn).await.unwrap();
    let rows: HashSet<_> = rows.into_iter().collect();
    assert_eq!(
        rows,
        HashSet::from([duplicated.id, other.id]),
        "the duplicate applied once, the event after the poison applied"
    );
    assert_eq!(
        AtomicUsize::load(&handler.calls, Ordering::SeqCst),
        4,
        "two deliveries of one event, one other, one unsupported version"
    );

    let reasons: Vec<&str> = dead.iter().map(|r| r.headers["dlq-reason"].as_str()).collect();
    assert!(reasons.iter().any(|r| r.starts_with("malformed envelope")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("unsupported version 99")), "{reasons:?}");
    assert!(dead.iter().all(|r| r.headers["dlq-topic"] == topic));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_claim_is_true_once_per_consumer() {
    let db = TestDb::create("common", || COMMON_MIGRATIONS).await.unwrap();
    let mut conn = db.connect().await;
    let event = widget_event(7);
    assert!(shop_common::inbox::claim(&mut conn, "a", &event).await.unwrap());
    assert!(!shop_common::inbox::claim(&mut conn, "a", &event).await.unwrap());
    assert!(shop_common::inbox::claim(&mut conn, "b", &event).await.unwrap(), "another consumer applies it too");
}
