//! Kafka access through rdkafka only, so the same code runs against tansu locally and Apache Kafka
//! in production.

pub mod admin;
pub mod consumer;
pub mod lag;
pub mod producer;

pub use admin::ensure_topics;
pub use consumer::{ConsumerSpec, EventHandler, HandleError, HandlerFuture};
pub use producer::EventProducer;
