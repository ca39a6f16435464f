//! Consumes `product_events` and `order_events` (group `inventory`).
//!
//! Each event is applied in one transaction together with its inbox row, so a redelivery is a
//! no-op; the engine's own keys (`stock` and `reservation_orders` primary keys) make even a
//! replay under a new event id harmless. Unknown types are ignored; unknown versions and
//! undecodable payloads go to the DLQ.

use crate::db::{InventoryError, engine, stock};
use crate::domain::{Line, OrderId, ProductId};
use diesel_async::AsyncConnection;
use schemars::JsonSchema;
use serde::Deserialize;
use shop_common::db::DbPool;
use shop_common::events::contract::{EventContract, consumed};
use shop_common::events::{Envelope, topics};
use shop_common::inbox;
use shop_common::kafka::{EventHandler, HandleError, HandlerFuture};
use shop_common::outbox::RelayWaker;

pub const GROUP: &str = "inventory";
const INBOX_CONSUMER: &str = "inventory";
/// The types this consumer applies; others are ignored.
const CONSUMED: &[&str] = &[
    "product.created",
    "product.updated",
    "product.deleted",
    "order.created",
    "order.cancelled",
    "order.failed",
    "order.shipped",
];
/// The payload version of every type above this consumer reads; others go to the DLQ.
const VERSION: u32 = 1;

/// What this consumer decodes, per type and version: checked against the producers' recorded
/// schemas by the `event_contracts` test.
pub fn consumed_contracts() -> Vec<EventContract> {
    vec![
        consumed::<ProductCreated>(topics::PRODUCT_EVENTS, "product.created", VERSION),
        consumed::<ProductUpdated>(topics::PRODUCT_EVENTS, "product.updated", VERSION),
        consumed::<ProductDeleted>(topics::PRODUCT_EVENTS, "product.deleted", VERSION),
        consumed::<OrderCreated>(topics::ORDER_EVENTS, "order.created", VERSION),
        consumed::<OrderEnded>(topics::ORDER_EVENTS, "order.cancelled", VERSION),
        consumed::<OrderEnded>(topics::ORDER_EVENTS, "order.failed", VERSION),
        consumed::<OrderEnded>(topics::ORDER_EVENTS, "order.shipped", VERSION),
    ]
}

#[derive(Deserialize, JsonSchema)]
struct ProductCreated {
    product_id: ProductId,
    #[serde(default)]
    initial_stock: i64,
    #[serde(default)]
    low_stock_threshold: i64,
}

#[derive(Deserialize, JsonSchema)]
struct ProductUpdated {
    product_id: ProductId,
    #[serde(default)]
    low_stock_threshold: i64,
    #[serde(default = "yes")]
    active: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize, JsonSchema)]
struct ProductDeleted {
    product_id: ProductId,
}

#[derive(Deserialize, JsonSchema)]
struct OrderCreated {
    order_id: OrderId,
    lines: Vec<Line>,
}

#[derive(Deserialize, JsonSchema)]
struct OrderEnded {
    order_id: OrderId,
    #[serde(default)]
    reason: Option<String>,
}

/// One decoded event, ready to apply.
enum Command {
    CreateStock(ProductCreated),
    UpdateProduct(ProductUpdated),
    Deactivate(ProductId),
    Reserve(OrderCreated),
    Release(OrderId, String),
    Commit(OrderId),
}

fn decode(event: &Envelope) -> Result<Option<Command>, HandleError> {
    if !CONSUMED.contains(&event.event_type.as_str()) {
        return Ok(None);
    }
    if event.version != VERSION {
        return Err(HandleError::Permanent(format!("unsupported {} version {}", event.event_type, event.version)));
    }
    let bad = |err: serde_json::Error| HandleError::Permanent(format!("invalid {} payload: {err}", event.event_type));
    let command = match event.event_type.as_str() {
        "product.created" => Command::CreateStock(event.data_as().map_err(bad)?),
        "product.updated" => Command::UpdateProduct(event.data_as().map_err(bad)?),
        "product.deleted" => Command::Deactivate(event.data_as::<ProductDeleted>().map_err(bad)?.product_id),
        "order.created" => Command::Reserve(event.data_as().map_err(bad)?),
        "order.cancelled" | "order.failed" => {
            let ended: OrderEnded = event.data_as().map_err(bad)?;
            let reason = ended.reason.unwrap_or_else(|| event.event_type.clone());
            Command::Release(ended.order_id, reason)
        }
        "order.shipped" => Command::Commit(event.data_as::<OrderEnded>().map_err(bad)?.order_id),
        _ => return Ok(None),
    };
    Ok(Some(command))
}

/// The `inventory` consumer group's handler.
pub struct InventoryHandler {
    pub db: DbPool,
    pub relay: RelayWaker,
}

impl EventHandler for InventoryHandler {
    #[tracing::instrument(skip_all, fields(event.id = %event.id, event.type = %event.event_type))]
    fn handle<'a>(&'a self, event: &'a Envelope) -> HandlerFuture<'a> {
        Box::pin(async move {
            let Some(command) = decode(event)? else { return Ok(()) };
            let mut conn = self.db.get().await.map_err(anyhow::Error::from)?;
            let applied = conn
                .transaction::<bool, InventoryError, _>(async |conn| {
                    if !inbox::claim(conn, INBOX_CONSUMER, event).await? {
                        return Ok(false);
                    }
                    match &command {
                        Command::CreateStock(p) => {
                            stock::create(conn, p.product_id, p.initial_stock, p.low_stock_threshold).await?;
                        }
                        Command::UpdateProduct(p) => {
                            stock::update_product(conn, p.product_id, p.low_stock_threshold, p.active).await?;
                        }
                        Command::Deactivate(id) => stock::deactivate(conn, *id).await?,
                        Command::Reserve(order) => {
                            engine::reserve(conn, order.order_id, &order.lines).await?;
                        }
                        Command::Release(order_id, reason) => {
                            engine::release(conn, *order_id, reason).await?;
                        }
                        Command::Commit(order_id) => {
                            engine::commit(conn, *order_id).await?;
                        }
                    }
                    Ok(true)
                })
                .await;
            match applied {
                Ok(true) => {
                    self.relay.wake();
                    Ok(())
                }
                Ok(false) => {
                    tracing::debug!("event already applied");
                    Ok(())
                }
                Err(InventoryError::Db(err)) => Err(HandleError::Transient(anyhow::Error::from(err))),
                Err(other) => Err(HandleError::Permanent(other.to_string())),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn declares_every_consumed_type_and_rejects_other_versions() {
        let contracts = consumed_contracts();
        let declared: Vec<&str> = contracts.iter().map(|c| c.event_type).collect();
        assert_eq!(declared, CONSUMED);
        for contract in contracts {
            let event = Envelope::new(contract.event_type, contract.version + 1, "test", "k", json!({}));
            match decode(&event) {
                Err(HandleError::Permanent(reason)) => assert!(reason.contains("unsupported"), "{reason}"),
                _ => panic!("{} v{} must be rejected", contract.event_type, contract.version + 1),
            }
        }
        assert!(matches!(decode(&Envelope::new("order.confirmed", 1, "test", "k", json!({}))), Ok(None)));
    }
}
