//! The event envelope shared by every topic (ARCHITECTURE.md §3) and the topic names.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub mod contract;

/// Topic names, before the test prefix (see [`crate::settings::KafkaSettings::topic`]).
pub mod topics {
    pub const USER_EVENTS: &str = "user_events";
    pub const PRODUCT_EVENTS: &str = "product_events";
    pub const CART_EVENTS: &str = "cart_events";
    pub const ORDER_EVENTS: &str = "order_events";
    pub const INVENTORY_EVENTS: &str = "inventory_events";
    pub const PAYMENT_EVENTS: &str = "payment_events";
    pub const ALL: &[&str] =
        &[USER_EVENTS, PRODUCT_EVENTS, CART_EVENTS, ORDER_EVENTS, INVENTORY_EVENTS, PAYMENT_EVENTS];

    /// Where a consumer parks what it cannot apply.
    pub fn dead_letter(topic: &str) -> String {
        format!("{topic}.dlq")
    }
}

/// One event, one Kafka record. The record key is `key` (the aggregate id) so one aggregate's
/// events stay in order on one partition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event_type: String,
    pub version: u32,
    pub source: String,
    pub occurred_at: DateTime<Utc>,
    pub key: String,
    pub data: serde_json::Value,
}

impl Envelope {
    /// A new event with a time-ordered (v7) id.
    pub fn new(
        event_type: impl Into<String>,
        version: u32,
        source: impl Into<String>,
        key: impl Into<String>,
        data: serde_json::Value,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            event_type: event_type.into(),
            version,
            source: source.into(),
            occurred_at: Utc::now(),
            key: key.into(),
            data,
        }
    }

    /// A typed payload; the event's `data` must match `T`.
    pub fn new_typed<T: Serialize>(
        event_type: &str,
        version: u32,
        source: &str,
        key: impl Into<String>,
        data: &T,
    ) -> Result<Self, serde_json::Error> {
        Ok(Self::new(event_type, version, source, key, serde_json::to_value(data)?))
    }

    pub fn data_as<T: for<'de> Deserialize<'de>>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_uses_the_wire_names() {
        let envelope = Envelope::new("order.created", 1, "order", "o-1", serde_json::json!({"total": 100}));
        let json = serde_json::to_value(&envelope).unwrap();
        assert_eq!(json["type"], "order.created");
        assert_eq!(json["version"], 1);
        assert_eq!(json["key"], "o-1");
        assert!(json["occurred_at"].as_str().unwrap().contains('T'));
        let back: Envelope = serde_json::from_value(json).unwrap();
        assert_eq!(back, envelope);
    }

    #[test]
    fn ids_are_time_ordered() {
        let first = Envelope::new("a", 1, "s", "k", serde_json::Value::Null);
        let second = Envelope::new("a", 1, "s", "k", serde_json::Value::Null);
        assert!(first.id < second.id);
    }
}
