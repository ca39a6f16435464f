//! Decoding events into [`Fact`]s, the read models' input. Times come from the payload, falling
//! back to the envelope's `occurred_at`: never the clock of the consumer, so a replay rebuilds
//! identical rows.

use super::payloads::{
    CartItemAdded, CartMerged, CartTouched, InventoryEvent, OrderPlaced, OrderStep, Payment, ProductDeleted,
    ProductSnapshot, UserLoggedIn, UserRegistered,
};
use crate::domain::ids::{CartId, OrderId, ProductId, UserId};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use shop_common::events::contract::{EventContract, consumed};
use shop_common::events::{Envelope, topics};
use shop_common::money::Money;

/// The only payload version analytics understands, for every type.
pub const SUPPORTED_VERSION: u32 = 1;

/// Every type analytics decodes; others are ignored.
const KNOWN: &[&str] = &[
    "product.created",
    "product.updated",
    "product.deleted",
    "user.registered",
    "user.logged_in",
    "cart.item_added",
    "cart.item_updated",
    "cart.item_removed",
    "cart.cleared",
    "cart.merged",
    "order.created",
    "order.confirmed",
    "order.cancelled",
    "order.failed",
    "order.shipped",
    "payment.succeeded",
    "payment.failed",
    "payment.refunded",
    "inventory.reserved",
    "inventory.rejected",
    "inventory.released",
    "inventory.adjusted",
    "inventory.low_stock",
];

/// What [`decode`] reads of each type (the payload struct it decodes into) at the supported
/// version: checked against the producers' recorded schemas by the `event_contracts` test.
pub fn consumed_contracts() -> Vec<EventContract> {
    let v = SUPPORTED_VERSION;
    let (product, user, cart, order, payment, inventory) = (
        topics::PRODUCT_EVENTS,
        topics::USER_EVENTS,
        topics::CART_EVENTS,
        topics::ORDER_EVENTS,
        topics::PAYMENT_EVENTS,
        topics::INVENTORY_EVENTS,
    );
    vec![
        consumed::<ProductSnapshot>(product, "product.created", v),
        consumed::<ProductSnapshot>(product, "product.updated", v),
        consumed::<ProductDeleted>(product, "product.deleted", v),
        consumed::<UserRegistered>(user, "user.registered", v),
        consumed::<UserLoggedIn>(user, "user.logged_in", v),
        consumed::<CartItemAdded>(cart, "cart.item_added", v),
        consumed::<CartTouched>(cart, "cart.item_updated", v),
        consumed::<CartTouched>(cart, "cart.item_removed", v),
        consumed::<CartTouched>(cart, "cart.cleared", v),
        consumed::<CartMerged>(cart, "cart.merged", v),
        consumed::<OrderPlaced>(order, "order.created", v),
        consumed::<OrderPlaced>(order, "order.confirmed", v),
        consumed::<OrderStep>(order, "order.cancelled", v),
        consumed::<OrderStep>(order, "order.failed", v),
        consumed::<OrderStep>(order, "order.shipped", v),
        consumed::<Payment>(payment, "payment.succeeded", v),
        consumed::<Payment>(payment, "payment.failed", v),
        consumed::<Payment>(payment, "payment.refunded", v),
        consumed::<InventoryEvent>(inventory, "inventory.reserved", v),
        consumed::<InventoryEvent>(inventory, "inventory.rejected", v),
        consumed::<InventoryEvent>(inventory, "inventory.released", v),
        consumed::<InventoryEvent>(inventory, "inventory.adjusted", v),
        consumed::<InventoryEvent>(inventory, "inventory.low_stock", v),
    ]
}

/// Which timestamp of the order an order event sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderMilestone {
    Cancelled,
    Failed,
    Shipped,
}

impl OrderMilestone {
    pub fn column(self) -> &'static str {
        match self {
            OrderMilestone::Cancelled => "cancelled_at",
            OrderMilestone::Failed => "failed_at",
            OrderMilestone::Shipped => "shipped_at",
        }
    }
}

/// A validated line, priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub product_id: ProductId,
    pub sku: Option<String>,
    pub name: Option<String>,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub currency: String,
    pub revenue_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub order_id: OrderId,
    pub user_id: Option<UserId>,
    pub cart_id: Option<CartId>,
    pub lines: Vec<Line>,
    pub total: Money,
    pub at: DateTime<Utc>,
}

/// One event, reduced to what the read models store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    ProductVersion {
        product_id: ProductId,
        valid_from: DateTime<Utc>,
        sku: String,
        name: String,
        category: Option<String>,
    },
    Registered {
        user_id: UserId,
        at: DateTime<Utc>,
    },
    LoggedIn {
        user_id: UserId,
        at: DateTime<Utc>,
    },
    CartAdd {
        cart_id: CartId,
        product_id: ProductId,
        user_id: Option<UserId>,
        at: DateTime<Utc>,
    },
    CartMerged {
        from_cart_id: CartId,
        into_cart_id: CartId,
        at: DateTime<Utc>,
    },
    OrderCreated(Order),
    OrderConfirmed(Order),
    OrderMilestone {
        order_id: OrderId,
        milestone: OrderMilestone,
        at: DateTime<Utc>,
    },
    Refund {
        order_id: OrderId,
        payment_id: String,
        amount: Money,
        at: DateTime<Utc>,
    },
    /// A known event that no figure uses: checked, recorded in the inbox, nothing else.
    Noted,
}

/// Why an event cannot be applied (it goes to the DLQ).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected(pub String);

/// Decodes `event`; `Ok(None)` for types analytics does not know (ignored).
pub fn decode(event: &Envelope) -> Result<Option<Fact>, Rejected> {
    let kind = event.event_type.as_str();
    if !KNOWN.contains(&kind) {
        return Ok(None);
    }
    if event.version != SUPPORTED_VERSION {
        return Err(Rejected(format!("unsupported {kind} version {}", event.version)));
    }
    let fallback = event.occurred_at;
    let fact = match kind {
        "product.created" | "product.updated" => {
            let p: ProductSnapshot = data(event)?;
            let valid_from = if kind == "product.created" { p.created_at } else { p.updated_at };
            Fact::ProductVersion {
                product_id: p.product_id,
                valid_from: valid_from.unwrap_or(fallback),
                sku: p.sku,
                name: p.name,
                category: p.category_slug.filter(|c| !c.is_empty()),
            }
        }
        "user.registered" => {
            let u: UserRegistered = data(event)?;
            Fact::Registered { user_id: u.user_id, at: u.registered_at.unwrap_or(fallback) }
        }
        "user.logged_in" => {
            let u: UserLoggedIn = data(event)?;
            Fact::LoggedIn { user_id: u.user_id, at: u.logged_in_at.unwrap_or(fallback) }
        }
        "cart.item_added" => {
            let c: CartItemAdded = data(event)?;
            Fact::CartAdd {
                cart_id: c.cart_id,
                product_id: c.product_id,
                user_id: c.user_id,
                at: c.at.unwrap_or(fallback),
            }
        }
        "cart.merged" => {
            let m: CartMerged = data(event)?;
            Fact::CartMerged {
                from_cart_id: m.from_cart_id,
                into_cart_id: m.into_cart_id,
                at: m.at.unwrap_or(fallback),
            }
        }
        "order.created" => Fact::OrderCreated(order(data(event)?, fallback)?),
        "order.confirmed" => Fact::OrderConfirmed(order(data(event)?, fallback)?),
        "order.cancelled" | "order.failed" | "order.shipped" => {
            let step: OrderStep = data(event)?;
            let milestone = match kind {
                "order.cancelled" => OrderMilestone::Cancelled,
                "order.failed" => OrderMilestone::Failed,
                _ => OrderMilestone::Shipped,
            };
            Fact::OrderMilestone { order_id: step.order_id, milestone, at: step.at.unwrap_or(fallback) }
        }
        "payment.refunded" => {
            let p: Payment = data(event)?;
            let amount = p.amount.ok_or_else(|| Rejected("payment.refunded without amount".into()))?;
            check_money(&amount, "amount")?;
            let payment_id = match p.payment_id {
                Some(serde_json::Value::String(id)) if !id.is_empty() => id,
                Some(serde_json::Value::Number(n)) => n.to_string(),
                _ => return Err(Rejected("payment.refunded without payment_id".into())),
            };
            Fact::Refund { order_id: p.order_id, payment_id, amount, at: p.at.unwrap_or(fallback) }
        }
        "product.deleted" => {
            data::<ProductDeleted>(event)?;
            Fact::Noted
        }
        "payment.succeeded" | "payment.failed" => {
            data::<Payment>(event)?;
            Fact::Noted
        }
        k if k.starts_with("cart.") => {
            data::<CartTouched>(event)?;
            Fact::Noted
        }
        _ => {
            let i: InventoryEvent = data(event)?;
            if i.order_id.is_none() && i.product_id.is_none() {
                return Err(Rejected(format!("{kind} names neither an order nor a product")));
            }
            Fact::Noted
        }
    };
    Ok(Some(fact))
}

fn data<T: for<'de> Deserialize<'de>>(event: &Envelope) -> Result<T, Rejected> {
    event.data_as().map_err(|err| Rejected(format!("invalid {} payload: {err}", event.event_type)))
}

fn check_money(money: &Money, field: &str) -> Result<(), Rejected> {
    let code_ok = money.currency.len() == 3 && money.currency.bytes().all(|b| b.is_ascii_uppercase());
    if !code_ok {
        return Err(Rejected(format!("{field}: {:?} is not an ISO 4217 code", money.currency)));
    }
    if money.amount_minor < 0 {
        return Err(Rejected(format!("{field}: negative amount {}", money.amount_minor)));
    }
    Ok(())
}

fn order(placed: OrderPlaced, fallback: DateTime<Utc>) -> Result<Order, Rejected> {
    check_money(&placed.total, "total")?;
    let mut lines = Vec::with_capacity(placed.lines.len());
    for (i, line) in placed.lines.into_iter().enumerate() {
        check_money(&line.unit_price, &format!("lines[{i}].unit_price"))?;
        if line.quantity <= 0 {
            return Err(Rejected(format!("lines[{i}].quantity {} is not positive", line.quantity)));
        }
        let revenue_minor = line
            .unit_price
            .checked_mul(line.quantity)
            .ok_or_else(|| Rejected(format!("lines[{i}]: revenue overflows")))?
            .amount_minor;
        lines.push(Line {
            product_id: line.product_id,
            sku: line.sku,
            name: line.name,
            quantity: line.quantity,
            unit_price_minor: line.unit_price.amount_minor,
            currency: line.unit_price.currency,
            revenue_minor,
        });
    }
    Ok(Order {
        order_id: placed.order_id,
        user_id: placed.user_id,
        cart_id: placed.cart_id,
        lines,
        total: placed.total,
        at: placed.at.unwrap_or(fallback),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;
    use uuid::Uuid;

    fn envelope(kind: &str, version: u32, data: serde_json::Value) -> Envelope {
        Envelope::new(kind, version, "test", "k", data)
    }

    #[test]
    fn unknown_types_are_ignored_and_unknown_versions_rejected() {
        assert_eq!(decode(&envelope("order.paid", 1, json!({}))).unwrap(), None);
        assert_eq!(decode(&envelope("whatever", 7, json!(null))).unwrap(), None);
        let err = decode(&envelope("order.created", 2, json!({}))).unwrap_err();
        assert!(err.0.contains("version 2"), "{err:?}");
    }

    #[test]
    fn declares_every_known_type_and_rejects_other_versions() {
        let contracts = consumed_contracts();
        let declared: Vec<&str> = contracts.iter().map(|c| c.event_type).collect();
        assert_eq!(declared, KNOWN);
        for contract in contracts {
            let err = decode(&envelope(contract.event_type, contract.version + 1, json!({}))).unwrap_err();
            assert!(err.0.contains("unsupported"), "{err:?}");
        }
    }

    #[test]
    fn malformed_payloads_are_rejected() {
        for (kind, data) in [
            ("order.created", json!({"order_id": "nope"})),
            ("user.logged_in", json!({"logged_in_at": "2026-01-01T00:00:00Z"})),
            (
                "order.confirmed",
                json!({"order_id": Uuid::nil(), "lines": [{"product_id": Uuid::nil(), "quantity": 0,
                        "unit_price": {"amount_minor": 1, "currency": "EUR"}}], "total": {"amount_minor": 0, "currency": "EUR"}}),
            ),
            (
                "payment.refunded",
                json!({"order_id": Uuid::nil(), "payment_id": "p", "amount": {"amount_minor": 5, "currency": "eur"}}),
            ),
            ("inventory.adjusted", json!({"delta": 1})),
        ] {
            assert!(decode(&envelope(kind, 1, data)).is_err(), "{kind}");
        }
    }

    #[test]
    fn times_come_from_the_payload_then_the_envelope() {
        let at = "2026-01-05T10:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let e = envelope("user.logged_in", 1, json!({"user_id": Uuid::nil(), "logged_in_at": at}));
        assert_eq!(decode(&e).unwrap(), Some(Fact::LoggedIn { user_id: UserId(Uuid::nil()), at }));
        let e = envelope("user.logged_in", 1, json!({"user_id": Uuid::nil()}));
        assert_eq!(decode(&e).unwrap(), Some(Fact::LoggedIn { user_id: UserId(Uuid::nil()), at: e.occurred_at }));
    }

    #[test]
    fn order_lines_are_priced() {
        let e = envelope(
            "order.created",
            1,
            json!({"order_id": Uuid::nil(), "user_id": null, "cart_id": null, "created_at": "2026-01-05T10:00:00Z",
                   "lines": [{"product_id": Uuid::nil(), "sku": "S", "name": "N", "quantity": 3,
                              "unit_price": {"amount_minor": 250, "currency": "EUR"}}],
                   "total": {"amount_minor": 750, "currency": "EUR"}}),
        );
        let Some(Fact::OrderCreated(order)) = decode(&e).unwrap() else { panic!("an order") };
        assert_eq!(order.lines[0].revenue_minor, 750);
        assert_eq!(order.at, "2026-01-05T10:00:00Z".parse::<DateTime<Utc>>().unwrap());
    }
}
