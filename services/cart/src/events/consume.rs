//! Consumes `product_events` (the price/name snapshot) and `order_events` (`order.confirmed`
//! empties the ordered lines), group `cart`.
//!
//! Each event is applied in one transaction together with its inbox row, so a redelivery is a
//! no-op. The snapshot also ignores events older than what it holds, which makes even a replay
//! under a new event id harmless. Unknown types are ignored; unknown versions and undecodable
//! payloads go to the DLQ.

use crate::db::products::{self, ProductState};
use crate::domain::{CartId, OrderId, ProductId, UserId};
use crate::service::{self, CheckoutOutcome};
use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use schemars::JsonSchema;
use serde::Deserialize;
use shop_common::db::DbPool;
use shop_common::events::contract::{EventContract, consumed};
use shop_common::events::{Envelope, topics};
use shop_common::inbox;
use shop_common::kafka::{EventHandler, HandleError, HandlerFuture};
use shop_common::money::Money;
use shop_common::outbox::RelayWaker;

pub const GROUP: &str = "cart";
const INBOX_CONSUMER: &str = "cart";
/// The types this consumer applies; others are ignored.
const CONSUMED: &[&str] = &["product.created", "product.updated", "product.deleted", "order.confirmed"];
/// The payload version of every type above this consumer reads; others go to the DLQ.
const VERSION: u32 = 1;

/// What this consumer decodes, per type and version: checked against the producers' recorded
/// schemas by the `event_contracts` test.
pub fn consumed_contracts() -> Vec<EventContract> {
    vec![
        consumed::<ProductChanged>(topics::PRODUCT_EVENTS, "product.created", VERSION),
        consumed::<ProductChanged>(topics::PRODUCT_EVENTS, "product.updated", VERSION),
        consumed::<ProductDeleted>(topics::PRODUCT_EVENTS, "product.deleted", VERSION),
        consumed::<OrderConfirmed>(topics::ORDER_EVENTS, "order.confirmed", VERSION),
    ]
}

/// The fields of `product.created` / `product.updated` the cart reads.
#[derive(Debug, Deserialize, JsonSchema)]
struct ProductChanged {
    product_id: ProductId,
    sku: String,
    name: String,
    price: Money,
    active: bool,
    created_at: DateTime<Utc>,
    #[serde(default)]
    updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct ProductDeleted {
    product_id: ProductId,
    sku: String,
    deleted_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct OrderLine {
    product_id: ProductId,
    quantity: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct OrderConfirmed {
    order_id: OrderId,
    #[serde(default)]
    user_id: Option<UserId>,
    #[serde(default)]
    cart_id: Option<CartId>,
    lines: Vec<OrderLine>,
}

/// One decoded event, ready to apply.
#[derive(Debug)]
enum Command {
    Upsert(ProductChanged),
    Delete(ProductDeleted),
    Checkout(OrderConfirmed),
}

fn decode(event: &Envelope) -> Result<Option<Command>, HandleError> {
    let bad = |err: serde_json::Error| HandleError::Permanent(format!("invalid {} payload: {err}", event.event_type));
    if !CONSUMED.contains(&event.event_type.as_str()) {
        return Ok(None);
    }
    if event.version != VERSION {
        return Err(HandleError::Permanent(format!("unsupported {} version {}", event.event_type, event.version)));
    }
    let command = match event.event_type.as_str() {
        "product.created" | "product.updated" => {
            let product: ProductChanged = event.data_as().map_err(bad)?;
            if product.price.amount_minor < 0 || product.price.currency.trim().is_empty() {
                return Err(HandleError::Permanent(format!("invalid price for product {}", product.product_id)));
            }
            Command::Upsert(product)
        }
        "product.deleted" => Command::Delete(event.data_as().map_err(bad)?),
        _ => Command::Checkout(event.data_as().map_err(bad)?),
    };
    Ok(Some(command))
}

/// The `cart` consumer group's handler.
pub struct CartHandler {
    pub db: DbPool,
    pub relay: RelayWaker,
}

impl EventHandler for CartHandler {
    #[tracing::instrument(skip_all, fields(event.id = %event.id, event.type = %event.event_type))]
    fn handle<'a>(&'a self, event: &'a Envelope) -> HandlerFuture<'a> {
        Box::pin(async move {
            let Some(command) = decode(event)? else { return Ok(()) };
            let mut conn = self.db.get().await.map_err(anyhow::Error::from)?;
            let applied = conn
                .transaction::<Option<CheckoutOutcome>, diesel::result::Error, _>(async |conn| {
                    if !inbox::claim(conn, INBOX_CONSUMER, event).await? {
                        return Ok(None);
                    }
                    match &command {
                        Command::Upsert(p) => {
                            let state = ProductState {
                                product_id: p.product_id,
                                sku: &p.sku,
                                name: &p.name,
                                price_minor: p.price.amount_minor,
                                currency: &p.price.currency,
                                active: p.active,
                                as_of: p.updated_at.unwrap_or(p.created_at),
                            };
                            if !products::upsert(conn, &state).await? {
                                tracing::debug!(product.id = %p.product_id, "older product state ignored");
                            }
                            Ok(Some(CheckoutOutcome::Unchanged))
                        }
                        Command::Delete(p) => {
                            products::mark_deleted(conn, p.product_id, &p.sku, p.deleted_at).await?;
                            Ok(Some(CheckoutOutcome::Unchanged))
                        }
                        Command::Checkout(order) => {
                            let Some(cart) = order.cart_id else { return Ok(Some(CheckoutOutcome::Unchanged)) };
                            let lines: Vec<(ProductId, i64)> =
                                order.lines.iter().map(|l| (l.product_id, l.quantity)).collect();
                            let outcome = service::apply_checkout(conn, order.order_id, cart, order.user_id, &lines).await?;
                            tracing::info!(order.id = %order.order_id, cart.id = %cart, outcome = ?outcome, "order confirmed");
                            Ok(Some(outcome))
                        }
                    }
                })
                .await;
            match applied {
                Ok(Some(outcome)) => {
                    if outcome == CheckoutOutcome::Emptied {
                        metrics::counter!("cart_cleared_total", "reason" => "checkout").increment(1);
                    }
                    self.relay.wake();
                    Ok(())
                }
                Ok(None) => {
                    tracing::debug!("event already applied");
                    Ok(())
                }
                Err(err) => Err(HandleError::Transient(anyhow::Error::from(err))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn envelope(event_type: &str, version: u32, data: serde_json::Value) -> Envelope {
        Envelope::new(event_type, version, "test", "k", data)
    }

    #[test]
    fn declares_every_consumed_type_and_rejects_other_versions() {
        let contracts = consumed_contracts();
        let declared: Vec<&str> = contracts.iter().map(|c| c.event_type).collect();
        assert_eq!(declared, CONSUMED);
        for contract in contracts {
            let event = envelope(contract.event_type, contract.version + 1, json!({}));
            match decode(&event) {
                Err(HandleError::Permanent(reason)) => assert!(reason.contains("unsupported"), "{reason}"),
                other => panic!("{} v{} must be rejected, got {other:?}", contract.event_type, contract.version + 1),
            }
        }
    }

    #[test]
    fn decodes_what_it_reads_and_ignores_the_rest() {
        let product = json!({"product_id": uuid::Uuid::nil(), "sku": "S", "name": "N", "description": "",
            "price": {"amount_minor": 100, "currency": "EUR"}, "active": true,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-02T00:00:00Z"});
        assert!(matches!(decode(&envelope("product.updated", 1, product.clone())), Ok(Some(Command::Upsert(_)))));
        assert!(matches!(decode(&envelope("order.created", 1, json!({}))), Ok(None)));
        assert!(matches!(decode(&envelope("product.updated", 2, product)), Err(HandleError::Permanent(_))));
        assert!(matches!(decode(&envelope("order.confirmed", 1, json!({"x": 1}))), Err(HandleError::Permanent(_))));
        let negative = json!({"product_id": uuid::Uuid::nil(), "sku": "S", "name": "N",
            "price": {"amount_minor": -1, "currency": "EUR"}, "active": true, "created_at": "2026-01-01T00:00:00Z"});
        assert!(matches!(decode(&envelope("product.created", 1, negative)), Err(HandleError::Permanent(_))));
        let confirmed = json!({"order_id": uuid::Uuid::nil(), "user_id": null, "cart_id": null,
            "lines": [{"product_id": uuid::Uuid::nil(), "quantity": 2, "unit_price": {"amount_minor": 1, "currency": "EUR"}}],
            "total": {"amount_minor": 2, "currency": "EUR"}, "at": "2026-01-01T00:00:00Z"});
        assert!(matches!(decode(&envelope("order.confirmed", 1, confirmed)), Ok(Some(Command::Checkout(_)))));
    }
}
