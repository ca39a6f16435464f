//! Event contracts: the JSON Schema of each event type's payload (`data`), generated from the Rust
//! types that write and read it (docs/events.md "Schemas and compatibility").
//!
//! A producer declares what it publishes once, with [`published_events!`](crate::published_events):
//! one table of (constant, payload type, topic, type, version). The same constants are what its
//! publish functions hand to the outbox ([`EventKind::meta`]), and the payload type is part of the
//! constant's type, so the published list, the versions written and the schemas cannot drift
//! apart. Consumers list what they decode with [`consumed`]. The checked-in schema files and the
//! compatibility rules live in the test kit (`shop_testkit::contracts`).

use crate::outbox::EventMeta;
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use std::marker::PhantomData;

/// One event type at one version, bound to the Rust type of its payload.
///
/// `PhantomData<fn() -> T>` keeps the kind covariant in `T`: a constant declared for
/// `OrderCreated<'static>` also serves payloads that borrow for a shorter lifetime.
pub struct EventKind<T: ?Sized> {
    pub topic: &'static str,
    pub event_type: &'static str,
    pub version: u32,
    payload: PhantomData<fn() -> T>,
}

// Manual impls: a derive would demand `T: Clone`/`T: Copy`, which the payloads need not be.
impl<T: ?Sized> Clone for EventKind<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for EventKind<T> {}

impl<T: ?Sized> std::fmt::Debug for EventKind<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} v{} on {}", self.event_type, self.version, self.topic)
    }
}

impl<T: ?Sized> EventKind<T> {
    pub const fn new(topic: &'static str, event_type: &'static str, version: u32) -> Self {
        Self { topic, event_type, version, payload: PhantomData }
    }

    /// What the outbox needs to write one event of this kind from `source`.
    pub fn meta<'a>(&self, source: &'a str) -> EventMeta<'a> {
        EventMeta { topic: self.topic, event_type: self.event_type, version: self.version, source }
    }
}

impl<T: JsonSchema + ?Sized> EventKind<T> {
    /// The contract the producer offers: the payload as `T` serializes it.
    pub fn contract(&self) -> EventContract {
        EventContract {
            topic: self.topic,
            event_type: self.event_type,
            version: self.version,
            schema: schema_of::<T>(SchemaSettings::draft2020_12().for_serialize(), self.event_type, self.version),
        }
    }
}

/// One event type and version with the JSON Schema of its `data`: what a producer writes or what
/// a consumer can read.
#[derive(Debug, Clone, PartialEq)]
pub struct EventContract {
    pub topic: &'static str,
    pub event_type: &'static str,
    pub version: u32,
    pub schema: serde_json::Value,
}

impl EventContract {
    /// The checked-in file's name: `<event_type>.v<version>.json`.
    pub fn file_name(&self) -> String {
        format!("{}.v{}.json", self.event_type, self.version)
    }
}

/// What a consumer reads of `event_type` at `version`: the payload as `T` deserializes it (fields
/// with a default, and `Option`s, are not required).
pub fn consumed<T: JsonSchema + ?Sized>(topic: &'static str, event_type: &'static str, version: u32) -> EventContract {
    EventContract {
        topic,
        event_type,
        version,
        schema: schema_of::<T>(SchemaSettings::draft2020_12().for_deserialize(), event_type, version),
    }
}

/// The schema of `T`, titled by the event rather than the Rust type, so renaming a struct does not
/// change the contract.
fn schema_of<T: JsonSchema + ?Sized>(settings: SchemaSettings, event_type: &str, version: u32) -> serde_json::Value {
    let mut schema = settings.into_generator().into_root_schema_for::<T>().to_value();
    if let Some(object) = schema.as_object_mut() {
        object.insert("title".into(), format!("{event_type} v{version}").into());
    }
    schema
}

/// Declares the events a service publishes: one `pub const NAME: EventKind<Payload>` per line
/// and `pub fn published_contracts()` listing every one of them, from the same table.
///
/// ```ignore
/// shop_common::published_events! {
///     /// `order.created` v1.
///     ORDER_CREATED: OrderCreated<'static> = (topics::ORDER_EVENTS, "order.created", 1);
/// }
/// ```
#[macro_export]
macro_rules! published_events {
    ($($(#[$attr:meta])* $name:ident: $payload:ty = ($topic:expr, $event_type:literal, $version:literal);)+) => {
        $(
            $(#[$attr])*
            pub const $name: $crate::events::contract::EventKind<$payload> =
                $crate::events::contract::EventKind::new($topic, $event_type, $version);
        )+

        /// Every event type and version this service publishes, with its payload's schema (checked
        /// against `docs/events/schemas` by the service's `event_contracts` test).
        pub fn published_contracts() -> Vec<$crate::events::contract::EventContract> {
            vec![$($name.contract()),+]
        }
    };
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, JsonSchema)]
    struct Payload<'a> {
        id: uuid::Uuid,
        note: Option<&'a str>,
        #[serde(default)]
        count: i64,
    }

    const KIND: EventKind<Payload<'static>> = EventKind::new("t", "thing.happened", 2);

    #[test]
    fn the_producer_contract_requires_what_is_always_written() {
        let contract = KIND.contract();
        assert_eq!(contract.file_name(), "thing.happened.v2.json");
        assert_eq!(contract.schema["title"], "thing.happened v2");
        let required = contract.schema["required"].as_array().unwrap();
        for field in ["id", "note", "count"] {
            assert!(required.contains(&field.into()), "{field} in {required:?}");
        }
        assert_eq!(contract.schema["properties"]["id"]["format"], "uuid");
    }

    #[test]
    fn the_consumer_contract_does_not_require_defaults_or_options() {
        let contract = consumed::<Payload<'static>>("t", "thing.happened", 2);
        assert_eq!(contract.schema["required"], serde_json::json!(["id"]));
    }

    #[test]
    fn meta_carries_the_kind() {
        let meta = KIND.meta("svc");
        assert_eq!((meta.topic, meta.event_type, meta.version, meta.source), ("t", "thing.happened", 2, "svc"));
    }
}
