//! Consumes `inventory_events` (group `catalog`) to keep each product's `available` and
//! `in_stock`, so the listing's in-stock filter follows stock within seconds.
//!
//! Absolute reports (`inventory.adjusted`, `inventory.low_stock`, `inventory.rejected`) set the
//! level unless a newer report was applied; reservations and releases move it by their quantity.
//! Each event is applied once (inbox), in one transaction with its inbox row.

use crate::cache::Cache;
use crate::db;
use crate::domain::ProductId;
use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use schemars::JsonSchema;
use serde::Deserialize;
use shop_common::db::DbPool;
use shop_common::events::contract::{EventContract, consumed};
use shop_common::events::{Envelope, topics};
use shop_common::inbox;
use shop_common::kafka::{EventHandler, HandleError, HandlerFuture};
use uuid::Uuid;

pub const GROUP: &str = "catalog";
const INBOX_CONSUMER: &str = "catalog.inventory";
const HANDLED: &[&str] =
    &["inventory.adjusted", "inventory.low_stock", "inventory.rejected", "inventory.reserved", "inventory.released"];
/// The payload version of every type above this consumer reads; others go to the DLQ.
const VERSION: u32 = 1;

/// What this consumer decodes, per type and version: checked against the producer's recorded
/// schemas by the `event_contracts` test.
pub fn consumed_contracts() -> Vec<EventContract> {
    let topic = topics::INVENTORY_EVENTS;
    vec![
        consumed::<StockLevel>(topic, "inventory.adjusted", VERSION),
        consumed::<StockLevel>(topic, "inventory.low_stock", VERSION),
        consumed::<Rejected>(topic, "inventory.rejected", VERSION),
        consumed::<Lines>(topic, "inventory.reserved", VERSION),
        consumed::<Lines>(topic, "inventory.released", VERSION),
    ]
}

#[derive(Deserialize, JsonSchema)]
struct StockLevel {
    product_id: Uuid,
    available: i64,
}

#[derive(Deserialize, JsonSchema)]
struct Line {
    product_id: Uuid,
    quantity: i64,
}

#[derive(Deserialize, JsonSchema)]
struct Lines {
    lines: Vec<Line>,
}

#[derive(Deserialize, JsonSchema)]
struct RejectedLine {
    product_id: Uuid,
    available: i64,
}

#[derive(Deserialize, JsonSchema)]
struct Rejected {
    lines: Vec<RejectedLine>,
}

/// What one event asks of the stock table.
enum Change {
    Set(Vec<(Uuid, i32)>),
    Add(Vec<(Uuid, i32)>),
}

fn clamp(value: i64) -> i32 {
    i32::try_from(value.clamp(i64::from(i32::MIN), i64::from(i32::MAX))).unwrap_or(0)
}

fn decode(event: &Envelope) -> Result<Option<Change>, HandleError> {
    if !HANDLED.contains(&event.event_type.as_str()) {
        return Ok(None);
    }
    if event.version != VERSION {
        return Err(HandleError::Permanent(format!("unsupported version {} of {}", event.version, event.event_type)));
    }
    let bad = |err: serde_json::Error| HandleError::Permanent(format!("invalid {} payload: {err}", event.event_type));
    let change = match event.event_type.as_str() {
        "inventory.adjusted" | "inventory.low_stock" => {
            let level: StockLevel = event.data_as().map_err(bad)?;
            Change::Set(vec![(level.product_id, clamp(level.available))])
        }
        "inventory.rejected" => {
            let rejected: Rejected = event.data_as().map_err(bad)?;
            Change::Set(rejected.lines.into_iter().map(|l| (l.product_id, clamp(l.available))).collect())
        }
        "inventory.reserved" => {
            let lines: Lines = event.data_as().map_err(bad)?;
            Change::Add(lines.lines.into_iter().map(|l| (l.product_id, clamp(-l.quantity))).collect())
        }
        "inventory.released" => {
            let lines: Lines = event.data_as().map_err(bad)?;
            Change::Add(lines.lines.into_iter().map(|l| (l.product_id, clamp(l.quantity))).collect())
        }
        _ => return Ok(None),
    };
    Ok(Some(change))
}

pub struct InventoryHandler {
    pub db: DbPool,
    pub cache: Cache,
}

impl InventoryHandler {
    async fn apply(&self, event: &Envelope, change: Change) -> anyhow::Result<Vec<Uuid>> {
        let mut conn = self.db.get().await?;
        let occurred_at: DateTime<Utc> = event.occurred_at;
        let touched = conn
            .transaction::<Vec<Uuid>, diesel::result::Error, _>(async |conn| {
                if !inbox::claim(conn, INBOX_CONSUMER, event).await? {
                    return Ok(Vec::new());
                }
                let mut touched = Vec::new();
                match change {
                    Change::Set(levels) => {
                        for (product, available) in levels {
                            if db::stock::set_available(conn, product, available, occurred_at).await? {
                                touched.push(product);
                            }
                        }
                    }
                    Change::Add(deltas) => {
                        for (product, delta) in deltas {
                            if db::stock::add_available(conn, product, delta).await? {
                                touched.push(product);
                            }
                        }
                    }
                }
                Ok(touched)
            })
            .await?;
        // After the commit: refresh what the cache holds for the touched products.
        for product in &touched {
            match db::products::find_live(&mut conn, ProductId(*product)).await {
                Ok(Some(row)) => self.cache.put_product(&row.to_product(), row.stock_seq).await,
                Ok(None) => {}
                Err(_) => self.cache.forget_product(ProductId(*product)).await,
            }
        }
        if !touched.is_empty() {
            self.cache.bump_generation().await;
        }
        Ok(touched)
    }
}

impl EventHandler for InventoryHandler {
    fn handle<'a>(&'a self, event: &'a Envelope) -> HandlerFuture<'a> {
        Box::pin(async move {
            let Some(change) = decode(event)? else { return Ok(()) };
            let touched = self.apply(event, change).await?;
            tracing::debug!(event.id = %event.id, event.type = %event.event_type, products = touched.len(), "stock applied");
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn declares_every_handled_type_and_rejects_other_versions() {
        let contracts = consumed_contracts();
        let declared: Vec<&str> = contracts.iter().map(|c| c.event_type).collect();
        assert_eq!(declared, HANDLED);
        for contract in contracts {
            let event = Envelope::new(contract.event_type, contract.version + 1, "inventory", "k", json!({}));
            match decode(&event) {
                Err(HandleError::Permanent(reason)) => assert!(reason.contains("unsupported version"), "{reason}"),
                _ => panic!("{} v{} must be rejected", contract.event_type, contract.version + 1),
            }
        }
    }

    #[test]
    fn decodes_the_declared_version() {
        let product = uuid::Uuid::nil();
        let event = Envelope::new(
            "inventory.adjusted",
            VERSION,
            "inventory",
            "k",
            json!({"product_id": product, "available": 3}),
        );
        assert!(matches!(decode(&event), Ok(Some(Change::Set(levels))) if levels == vec![(product, 3)]));
    }
}
