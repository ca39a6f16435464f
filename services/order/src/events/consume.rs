//! Consumes `inventory_events` (the saga), `product_events` (the price snapshot) and `user_events`
//! (customers' e-mail addresses, for shipping notices), group `order`.
//!
//! Each event is applied in one transaction with its inbox row, so a redelivery is a no-op.
//! `inventory.reserved` calls the payment provider *before* that transaction (never holding a
//! database transaction open over the network); a provider outage is a transient error, so the
//! event is retried with the same idempotency key and can never charge twice.

use crate::db::{customers, orders, products};
use crate::domain::{OrderId, ProductId, Status};
use crate::saga;
use crate::state::Core;
use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use schemars::JsonSchema;
use serde::Deserialize;
use shop_common::events::contract::{EventContract, consumed};
use shop_common::events::{Envelope, topics};
use shop_common::inbox;
use shop_common::kafka::{EventHandler, HandleError, HandlerFuture};
use shop_common::money::Money;
use shop_payments::{PaymentOutcome, PaymentRequest, ProviderError};

pub const GROUP: &str = "order";
const INBOX_CONSUMER: &str = "order";
/// The types this consumer applies; others are ignored.
const CONSUMED: &[&str] = &[
    "product.created",
    "product.updated",
    "product.deleted",
    "user.registered",
    "inventory.reserved",
    "inventory.rejected",
];
/// The payload version of every type above this consumer reads; others go to the DLQ.
const VERSION: u32 = 1;

/// What this consumer decodes, per type and version: checked against the producers' recorded
/// schemas by the `event_contracts` test.
pub fn consumed_contracts() -> Vec<EventContract> {
    vec![
        consumed::<ProductPayload>(topics::PRODUCT_EVENTS, "product.created", VERSION),
        consumed::<ProductPayload>(topics::PRODUCT_EVENTS, "product.updated", VERSION),
        consumed::<ProductDeleted>(topics::PRODUCT_EVENTS, "product.deleted", VERSION),
        consumed::<UserRegistered>(topics::USER_EVENTS, "user.registered", VERSION),
        consumed::<Reserved>(topics::INVENTORY_EVENTS, "inventory.reserved", VERSION),
        consumed::<Rejected>(topics::INVENTORY_EVENTS, "inventory.rejected", VERSION),
    ]
}

#[derive(Deserialize, JsonSchema)]
struct ProductPayload {
    product_id: ProductId,
    sku: String,
    name: String,
    price: Money,
    #[serde(default = "yes")]
    active: bool,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    updated_at: Option<DateTime<Utc>>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize, JsonSchema)]
struct ProductDeleted {
    product_id: ProductId,
    #[serde(default)]
    sku: String,
    #[serde(default)]
    deleted_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize, JsonSchema)]
struct Reserved {
    order_id: OrderId,
}

#[derive(Deserialize, JsonSchema)]
struct Rejected {
    order_id: OrderId,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
struct UserRegistered {
    user_id: uuid::Uuid,
    email: String,
}

enum Command {
    Customer(UserRegistered),
    Product(products::ProductState),
    DeleteProduct(ProductDeleted, DateTime<Utc>),
    Reserved(OrderId),
    Rejected(OrderId, String),
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
        "product.created" | "product.updated" => {
            let p: ProductPayload = event.data_as().map_err(bad)?;
            let updated_at = p.updated_at.or(p.created_at).unwrap_or(event.occurred_at);
            Command::Product(products::ProductState {
                product_id: p.product_id,
                sku: p.sku,
                name: p.name,
                price: p.price,
                active: p.active,
                updated_at,
            })
        }
        "product.deleted" => {
            let deleted: ProductDeleted = event.data_as().map_err(bad)?;
            let at = deleted.deleted_at.unwrap_or(event.occurred_at);
            Command::DeleteProduct(deleted, at)
        }
        "user.registered" => Command::Customer(event.data_as().map_err(bad)?),
        "inventory.reserved" => Command::Reserved(event.data_as::<Reserved>().map_err(bad)?.order_id),
        "inventory.rejected" => {
            let rejected: Rejected = event.data_as().map_err(bad)?;
            Command::Rejected(rejected.order_id, rejected.reason.unwrap_or_else(|| "out_of_stock".into()))
        }
        _ => return Ok(None),
    };
    Ok(Some(command))
}

fn transient(err: impl Into<anyhow::Error>) -> HandleError {
    HandleError::Transient(err.into())
}

/// The `order` consumer group's handler.
pub struct OrderHandler {
    pub core: Core,
}

impl EventHandler for OrderHandler {
    #[tracing::instrument(skip_all, fields(event.id = %event.id, event.type = %event.event_type))]
    fn handle<'a>(&'a self, event: &'a Envelope) -> HandlerFuture<'a> {
        Box::pin(async move {
            let Some(command) = decode(event)? else { return Ok(()) };
            match command {
                Command::Reserved(order_id) => self.reserved(event, order_id).await,
                other => self.apply(event, other).await,
            }
        })
    }
}

impl OrderHandler {
    /// Snapshot updates (products, customers) and `inventory.rejected`: one transaction each.
    async fn apply(&self, event: &Envelope, command: Command) -> Result<(), HandleError> {
        let mut conn = self.core.db.get().await.map_err(transient)?;
        let changed = conn
            .transaction::<bool, diesel::result::Error, _>(async |conn| {
                if !inbox::claim(conn, INBOX_CONSUMER, event).await? {
                    return Ok(false);
                }
                match &command {
                    Command::Customer(user) => {
                        customers::upsert(conn, user.user_id, &user.email).await?;
                        Ok(false)
                    }
                    Command::Product(state) => {
                        products::upsert(conn, state).await?;
                        Ok(false)
                    }
                    Command::DeleteProduct(deleted, at) => {
                        products::delete(conn, deleted.product_id, &deleted.sku, *at).await?;
                        Ok(false)
                    }
                    Command::Rejected(order_id, reason) => match orders::lock(conn, *order_id).await? {
                        Some(order) => saga::fail(conn, &order, reason).await,
                        None => {
                            tracing::warn!(order.id = %order_id, "inventory.rejected for an unknown order");
                            Ok(false)
                        }
                    },
                    Command::Reserved(_) => Ok(false),
                }
            })
            .await
            .map_err(transient)?;
        if changed {
            self.core.relay.wake();
        }
        Ok(())
    }

    /// `inventory.reserved`: take the payment, then record its result.
    async fn reserved(&self, event: &Envelope, order_id: OrderId) -> Result<(), HandleError> {
        let order = {
            let mut conn = self.core.db.get().await.map_err(transient)?;
            orders::find(&mut conn, order_id).await.map_err(transient)?
        };
        // Only a PENDING order is charged: a cancelled, timed-out or already paid one is not.
        let outcome = match &order {
            Some(order) if order.status() == Status::Pending => {
                let request = PaymentRequest {
                    order_id: order_id.0,
                    amount: order.total(),
                    idempotency_key: order.payment_key.clone(),
                    customer_email: order.email.clone(),
                };
                match self.core.provider.start_payment(&request).await {
                    Ok(outcome) => Some(outcome),
                    Err(err @ ProviderError::Unavailable(_)) => return Err(transient(err)),
                    Err(ProviderError::Rejected(reason)) => Some(PaymentOutcome::Failed { payment_id: None, reason }),
                }
            }
            Some(order) => {
                tracing::info!(order.id = %order_id, order.status = %order.status(), "reservation for an order no longer pending");
                None
            }
            None => {
                tracing::warn!(order.id = %order_id, "inventory.reserved for an unknown order");
                None
            }
        };
        let provider = self.core.provider.name();
        let mut conn = self.core.db.get().await.map_err(transient)?;
        let applied = conn
            .transaction::<saga::Applied, diesel::result::Error, _>(async |conn| {
                if !inbox::claim(conn, INBOX_CONSUMER, event).await? {
                    return Ok(saga::Applied::default());
                }
                let (Some(outcome), Some(order)) = (&outcome, orders::lock(conn, order_id).await?) else {
                    return Ok(saga::Applied::default());
                };
                saga::apply_payment(conn, &order, provider, outcome).await
            })
            .await
            .map_err(transient)?;
        self.core.relay.wake();
        if applied.refund_due {
            self.core.refunds.notify_one();
        }
        Ok(())
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
        assert!(matches!(decode(&Envelope::new("order.created", 1, "test", "k", json!({}))), Ok(None)));
    }
}
