//! `order.confirmed`: the ordered quantities leave the cart they were bought from.

use crate::db::carts;
use crate::domain::{CartId, LineId, OrderId, ProductId, UserId};
use crate::events::publish::{self, ClearReason};
use chrono::Utc;
use diesel_async::AsyncPgConnection;
use std::collections::BTreeMap;

/// What applying a confirmed order did to its cart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutOutcome {
    /// The ordered lines were taken out; the cart still holds others.
    Reduced,
    /// The cart ended empty (`cart.cleared` with reason `checkout`).
    Emptied,
    /// Nothing to do: no such cart, another user's cart, or none of the products were in it.
    Unchanged,
    /// This order was applied before (a replay under a new event id).
    AlreadyApplied,
}

/// Applies `order.confirmed`: subtracts the ordered quantities from `cart`'s lines (a line at 0 or
/// below goes) and emits the matching events, once per order. Runs in the caller's transaction
/// (the consumer's, which also holds the inbox row).
pub async fn apply_checkout(
    conn: &mut AsyncPgConnection,
    order: OrderId,
    cart: CartId,
    user: Option<UserId>,
    ordered: &[(ProductId, i64)],
) -> diesel::QueryResult<CheckoutOutcome> {
    let Some(cart) = carts::find_by_id(conn, cart, true).await? else {
        return Ok(CheckoutOutcome::Unchanged);
    };
    if !carts::claim_checkout(conn, order, cart.id()).await? {
        return Ok(CheckoutOutcome::AlreadyApplied);
    }
    // A user cart only follows its own user's orders (a guest order never names a user cart).
    if let Some(owner) = cart.user()
        && user != Some(owner)
    {
        tracing::warn!(cart.id = %cart.id(), "order.confirmed names a cart of another user; ignored");
        return Ok(CheckoutOutcome::Unchanged);
    }
    let mut wanted: BTreeMap<ProductId, i64> = BTreeMap::new();
    for (product, quantity) in ordered.iter().filter(|(_, q)| *q > 0) {
        let total = wanted.entry(*product).or_insert(0);
        *total = total.saturating_add(*quantity);
    }
    let mut changes: Vec<(ProductId, Option<i64>)> = Vec::new();
    for (product, quantity) in wanted {
        let Some(line) = carts::find_line_for_product(conn, cart.id(), product).await? else { continue };
        let left = line.quantity.saturating_sub(quantity);
        if left <= 0 {
            carts::delete_line(conn, LineId(line.id)).await?;
            changes.push((product, None));
        } else {
            carts::set_quantity(conn, LineId(line.id), left).await?;
            changes.push((product, Some(left)));
        }
    }
    if changes.is_empty() {
        return Ok(CheckoutOutcome::Unchanged);
    }
    let cart = carts::touch(conn, cart.id(), None).await?;
    let at = Utc::now();
    if carts::line_count(conn, cart.id()).await? == 0 {
        let event = publish::Cleared { cart_id: cart.id(), user_id: cart.user(), reason: ClearReason::Checkout, at };
        publish::enqueue(conn, publish::CLEARED, cart.id(), &event).await?;
        return Ok(CheckoutOutcome::Emptied);
    }
    for (product_id, left) in changes {
        match left {
            Some(quantity) => {
                let event = publish::ItemUpdated { cart_id: cart.id(), user_id: cart.user(), product_id, quantity, at };
                publish::enqueue(conn, publish::ITEM_UPDATED, cart.id(), &event).await?;
            }
            None => {
                let event = publish::ItemRemoved { cart_id: cart.id(), user_id: cart.user(), product_id, at };
                publish::enqueue(conn, publish::ITEM_REMOVED, cart.id(), &event).await?;
            }
        }
    }
    Ok(CheckoutOutcome::Reduced)
}
