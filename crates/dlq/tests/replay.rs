//! Against the real broker: a consumer dead-letters what it cannot apply, `read` lists it with the
//! reason and who gave up, and once the handler is fixed `replay` gets it applied.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use shop_common::events::{Envelope, topics};
use shop_common::kafka::consumer::{self, ConsumerSpec, EventHandler, HandleError, HandlerFuture};
use shop_common::kafka::producer::OutgoingRecord;
use shop_common::kafka::{EventProducer, ensure_topics};
use shop_common::settings::{Env, KafkaSettings};
use shop_dlq::{read, replay, select};
use shop_testkit::kafka::{bootstrap, unique_prefix};
use shop_testkit::wait::{wait_for, wait_until};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

const PATIENCE: Duration = Duration::from_secs(30);

/// Applies version 1 events; version 2 is "unknown" until `fixed` (a deploy that learns it).
#[derive(Default)]
struct Picky {
    fixed: AtomicBool,
    applied: Mutex<Vec<Uuid>>,
}

impl EventHandler for Picky {
    fn handle<'a>(&'a self, event: &'a Envelope) -> HandlerFuture<'a> {
        Box::pin(async move {
            if event.version > 1 && !self.fixed.load(Ordering::SeqCst) {
                return Err(HandleError::Permanent(format!("unknown version {}", event.version)));
            }
            self.applied.lock().unwrap().push(event.id);
            Ok(())
        })
    }
}

impl Picky {
    fn has_applied(&self, id: Uuid) -> bool {
        self.applied.lock().unwrap().contains(&id)
    }
}

fn record(settings: &KafkaSettings, key: &str, payload: Vec<u8>) -> OutgoingRecord {
    OutgoingRecord {
        topic: settings.topic(topics::ORDER_EVENTS),
        key: key.to_owned(),
        payload,
        headers: vec![("x-request-id".into(), "req-1".into())],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_with_their_reason_and_replayed_once_fixed() {
    let prefix = unique_prefix();
    let bootstrap = bootstrap();
    let settings = KafkaSettings::from_env(&Env::from_pairs([
        ("TOPIC_PREFIX", prefix.as_str()),
        ("KAFKA_BOOTSTRAP", bootstrap.as_str()),
    ]))
    .unwrap();
    let topic = settings.topic(topics::ORDER_EVENTS);
    let dlq_topic = settings.topic(&topics::dead_letter(topics::ORDER_EVENTS));
    ensure_topics(&settings, &[topic.clone(), dlq_topic.clone()]).await.unwrap();

    let handler = Arc::new(Picky::default());
    let producer = EventProducer::new(&settings, "dlq-test").unwrap();
    let (trigger, shutdown) = shop_common::shutdown::channel();
    let spec =
        ConsumerSpec { group: "picky".into(), topics: vec![topics::ORDER_EVENTS.into()], handler: handler.clone() };
    let consumer =
        tokio::spawn(consumer::run(spec, settings.clone(), "picky-service".into(), producer.clone(), shutdown));

    let good = Envelope::new("order.created", 1, "order", "o-1", serde_json::json!({"n": 1}));
    let unknown = Envelope::new("order.created", 2, "order", "o-2", serde_json::json!({"n": 2}));
    producer
        .publish_all(&[
            record(&settings, "o-1", serde_json::to_vec(&good).unwrap()),
            record(&settings, "o-2", serde_json::to_vec(&unknown).unwrap()),
            record(&settings, "o-3", b"not json at all".to_vec()),
        ])
        .await
        .unwrap();
    wait_until(PATIENCE, "the good event to be applied", || async { handler.has_applied(good.id) }).await.unwrap();

    let letters = wait_for(PATIENCE, "two dead letters", || async {
        let letters = read(&settings, std::slice::from_ref(&dlq_topic), Duration::from_millis(500)).await.unwrap();
        (letters.len() >= 2).then_some(letters)
    })
    .await
    .unwrap();
    assert_eq!(letters.len(), 2, "exactly the two bad records: {letters:?}");
    let parked = letters.iter().find(|l| l.envelope.as_ref().is_some_and(|e| e.id == unknown.id)).unwrap();
    assert_eq!(parked.reason, "unknown version 2");
    assert_eq!(parked.origin_topic, topic);
    assert_eq!(parked.group.as_deref(), Some(settings.topic("picky").as_str()));
    assert_eq!(parked.service.as_deref(), Some("picky-service"));
    assert_eq!(parked.key, "o-2");
    assert!(parked.headers.contains(&("x-request-id".into(), "req-1".into())));
    let garbage = letters.iter().find(|l| l.envelope.is_none()).unwrap();
    assert!(garbage.reason.starts_with("malformed envelope"), "{}", garbage.reason);
    assert_eq!(garbage.payload, b"not json at all");
    assert!(shop_dlq::describe(parked).contains("unknown version 2"));

    // The cause is fixed; replaying the chosen letter gets it applied, and nothing else is.
    handler.fixed.store(true, Ordering::SeqCst);
    replay(&producer, &select(&letters, std::slice::from_ref(&parked.id)).unwrap()).await.unwrap();
    wait_until(PATIENCE, "the replayed event to be applied", || async { handler.has_applied(unknown.id) })
        .await
        .unwrap();
    assert_eq!(handler.applied.lock().unwrap().len(), 2, "good once, the replayed one once");
    // Listing again shows the same letters: reading commits nothing.
    let again = read(&settings, std::slice::from_ref(&dlq_topic), Duration::from_millis(500)).await.unwrap();
    assert_eq!(again.len(), 2);
    assert!(select(&letters, &["nope.dlq:0:99".parse().unwrap()]).is_err());

    trigger.trigger();
    consumer.await.unwrap().unwrap();
}
