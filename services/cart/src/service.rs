//! Cart operations, one transaction each: find (and lock) the caller's cart, change it, write the
//! `cart.*` event to the outbox, and return the priced view, all on one connection.
//!
//! Who owns a cart: an authenticated caller (the gateway's `x-auth-user-id`) owns their user cart;
//! a guest owns the cart whose token they present in `X-Cart-Token`. An authenticated request that
//! also presents a guest token folds that guest cart into the user's first (sign-in merge). A token
//! or line id that is not the caller's is reported exactly like one that does not exist.

use crate::db::carts::{self, CartRow, LineRow};
use crate::db::products;
use crate::domain::token::{self, CartToken};
use crate::domain::view::CartView;
use crate::domain::{CartId, LineId, MAX_LINES, OrderId, ProductId, UserId};
use crate::error::{CartError, CartResult};
use crate::events::publish::{self, ClearReason};
use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use shop_common::error::ApiError;
use shop_common::money::Money;
use std::collections::{BTreeMap, HashSet};
use uuid::Uuid;

/// Who is asking: the verified user, the guest token they sent, both, or neither.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub user: Option<UserId>,
    pub token: Option<String>,
}

/// What an operation needs from the caller's cart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Read it if it exists.
    Read,
    /// Change it if it exists (locked).
    Write,
    /// Change it, creating it first if needed (locked; a guest gets a new token).
    Create,
}

struct Resolved {
    cart: CartRow,
    issued: Option<CartToken>,
    merged: bool,
}

/// Finds the caller's cart for `access`. A guest token that names no cart is a 404; on an
/// authenticated request such a token is ignored (it was most likely merged already) because the
/// user's identity decides which cart is theirs.
async fn resolve(conn: &mut AsyncPgConnection, caller: &Caller, access: Access) -> CartResult<Option<Resolved>> {
    let lock = access != Access::Read;
    match (caller.user, caller.token.as_deref()) {
        (Some(user), token) => {
            if let Some(token) = token
                && let Some(guest) = carts::find_by_token(conn, &token::hash(token), false).await?
            {
                let cart = merge_into(conn, user, guest.id()).await?;
                return Ok(Some(Resolved { cart, issued: None, merged: true }));
            }
            let mut cart = carts::find_by_user(conn, user, lock).await?;
            if cart.is_none() && access == Access::Create {
                let created = carts::ensure_user_cart(conn, user).await?;
                cart = carts::find_by_id(conn, created.id(), true).await?;
            }
            Ok(cart.map(|cart| Resolved { cart, issued: None, merged: false }))
        }
        (None, Some(token)) => {
            let cart = carts::find_by_token(conn, &token::hash(token), lock).await?.ok_or(CartError::CartNotFound)?;
            Ok(Some(Resolved { cart, issued: None, merged: false }))
        }
        (None, None) if access == Access::Create => {
            let issued = CartToken::generate().map_err(|err| CartError::Api(ApiError::internal(err)))?;
            let cart = carts::create_guest(conn, &issued.hash()).await?;
            Ok(Some(Resolved { cart, issued: Some(issued), merged: false }))
        }
        (None, None) => Ok(None),
    }
}

/// Prices the cart's current lines.
async fn render(conn: &mut AsyncPgConnection, cart: &CartRow) -> CartResult<CartView> {
    let lines = carts::lines(conn, cart.id()).await?;
    Ok(CartView::build(&cart.header(), lines)?)
}

fn record_merge(merged: bool) {
    if merged {
        metrics::counter!("cart_merges_total").increment(1);
    }
}

/// `GET /cart`: the caller's cart, or an empty one (`id: null`) if they have none yet.
pub async fn view(conn: &mut AsyncPgConnection, caller: &Caller) -> CartResult<CartView> {
    let (view, merged) = conn
        .transaction::<_, CartError, _>(async |conn| match resolve(conn, caller, Access::Read).await? {
            Some(resolved) => Ok((render(conn, &resolved.cart).await?, resolved.merged)),
            None => Ok((CartView::empty(), false)),
        })
        .await?;
    record_merge(merged);
    Ok(view)
}

/// `POST /cart/items`: adds `quantity` (already validated, 1..=99) units of `product`; an existing
/// line grows, capped at 99. Creates the cart (and a guest's token) on first use.
pub async fn add_item(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    product_id: ProductId,
    quantity: i64,
) -> CartResult<CartView> {
    let (view, merged, added) = conn
        .transaction::<_, CartError, _>(async |conn| {
            let Some(Resolved { cart, issued, merged }) = resolve(conn, caller, Access::Create).await? else {
                return Err(CartError::CartNotFound);
            };
            let product = products::find(conn, product_id).await?;
            let product = match product {
                Some(p) if !p.deleted => p,
                _ => return Err(CartError::ProductNotFound(product_id)),
            };
            if !product.sellable() {
                return Err(CartError::ProductUnavailable(product_id));
            }
            let existing = carts::find_line_for_product(conn, cart.id(), product_id).await?;
            let count = carts::line_count(conn, cart.id()).await?;
            if existing.is_none() && count >= MAX_LINES {
                return Err(CartError::CartFull);
            }
            let new_currency = if count == 0 {
                Some(product.currency.as_str())
            } else if cart.currency.as_deref() != Some(product.currency.as_str()) {
                return Err(CartError::CurrencyMismatch {
                    product: product_id,
                    product_currency: product.currency.clone(),
                    cart_currency: cart.currency.clone().unwrap_or_default(),
                });
            } else {
                None
            };
            let before = existing.map_or(0, |line| line.quantity);
            let line = carts::upsert_line(conn, cart.id(), product_id, quantity).await?;
            let added = line.quantity - before;
            let cart = carts::touch(conn, cart.id(), new_currency).await?;
            if added > 0 {
                let event = publish::ItemAdded {
                    cart_id: cart.id(),
                    user_id: cart.user(),
                    product_id,
                    quantity: added,
                    line_quantity: line.quantity,
                    unit_price: Money::new(product.price_minor, product.currency.clone()),
                    at: Utc::now(),
                };
                publish::enqueue(conn, publish::ITEM_ADDED, cart.id(), &event).await?;
            }
            let mut view = render(conn, &cart).await?;
            view.cart_token = issued.map(|t| t.as_str().to_owned());
            Ok((view, merged, added))
        })
        .await?;
    record_merge(merged);
    if added > 0 {
        metrics::counter!("cart_lines_added_total").increment(1);
        metrics::counter!("cart_units_added_total").increment(added.unsigned_abs());
    }
    Ok(view)
}

/// Parses a line id from the path; a malformed one is "not in your cart" like an unknown one.
pub fn parse_line_id(raw: &str) -> CartResult<LineId> {
    Uuid::parse_str(raw).map(LineId).map_err(|_| CartError::LineNotFound(raw.chars().take(64).collect()))
}

/// Finds `line` in the caller's cart (locked) or fails with 404.
async fn owned_line(conn: &mut AsyncPgConnection, caller: &Caller, line: LineId) -> CartResult<(Resolved, LineRow)> {
    let resolved = resolve(conn, caller, Access::Write).await?.ok_or(CartError::line_not_found(line))?;
    let row = carts::find_line(conn, resolved.cart.id(), line).await?.ok_or(CartError::line_not_found(line))?;
    Ok((resolved, row))
}

/// `PUT /cart/items/{id}`: sets a line's quantity (already validated, 1..=99).
pub async fn update_item(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    line: LineId,
    quantity: i64,
) -> CartResult<CartView> {
    let (view, merged) = conn
        .transaction::<_, CartError, _>(async |conn| {
            let (resolved, row) = owned_line(conn, caller, line).await?;
            let mut cart = resolved.cart;
            if quantity > row.quantity {
                // More units only of what is still for sale, in the cart's currency.
                ensure_sellable(conn, &cart, row.product()).await?;
            }
            if row.quantity != quantity {
                carts::set_quantity(conn, line, quantity).await?;
                cart = carts::touch(conn, cart.id(), None).await?;
                let event = publish::ItemUpdated {
                    cart_id: cart.id(),
                    user_id: cart.user(),
                    product_id: row.product(),
                    quantity,
                    at: Utc::now(),
                };
                publish::enqueue(conn, publish::ITEM_UPDATED, cart.id(), &event).await?;
            }
            Ok((render(conn, &cart).await?, resolved.merged))
        })
        .await?;
    record_merge(merged);
    Ok(view)
}

/// Fails unless `product` can take more units in `cart`: it exists, is active and is priced in the
/// cart's currency.
async fn ensure_sellable(conn: &mut AsyncPgConnection, cart: &CartRow, product_id: ProductId) -> CartResult<()> {
    let product = match products::find(conn, product_id).await? {
        Some(p) if !p.deleted => p,
        _ => return Err(CartError::ProductNotFound(product_id)),
    };
    if !product.sellable() {
        return Err(CartError::ProductUnavailable(product_id));
    }
    if cart.currency.as_deref() != Some(product.currency.as_str()) {
        return Err(CartError::CurrencyMismatch {
            product: product_id,
            product_currency: product.currency,
            cart_currency: cart.currency.clone().unwrap_or_default(),
        });
    }
    Ok(())
}

/// `DELETE /cart/items/{id}`: removes a line.
pub async fn remove_item(conn: &mut AsyncPgConnection, caller: &Caller, line: LineId) -> CartResult<CartView> {
    let (view, merged) = conn
        .transaction::<_, CartError, _>(async |conn| {
            let (resolved, row) = owned_line(conn, caller, line).await?;
            carts::delete_line(conn, line).await?;
            let cart = carts::touch(conn, resolved.cart.id(), None).await?;
            let event = publish::ItemRemoved {
                cart_id: cart.id(),
                user_id: cart.user(),
                product_id: row.product(),
                at: Utc::now(),
            };
            publish::enqueue(conn, publish::ITEM_REMOVED, cart.id(), &event).await?;
            Ok((render(conn, &cart).await?, resolved.merged))
        })
        .await?;
    record_merge(merged);
    metrics::counter!("cart_lines_removed_total").increment(1);
    Ok(view)
}

/// `DELETE /cart`: empties the caller's cart (the cart itself, and a guest's token, stay valid).
pub async fn clear(conn: &mut AsyncPgConnection, caller: &Caller) -> CartResult<CartView> {
    let (view, merged) = conn
        .transaction::<_, CartError, _>(async |conn| {
            let Some(resolved) = resolve(conn, caller, Access::Write).await? else {
                return Ok((CartView::empty(), false));
            };
            let mut cart = resolved.cart;
            if carts::delete_lines(conn, cart.id()).await? > 0 {
                cart = carts::touch(conn, cart.id(), None).await?;
                let event = publish::Cleared {
                    cart_id: cart.id(),
                    user_id: cart.user(),
                    reason: ClearReason::User,
                    at: Utc::now(),
                };
                publish::enqueue(conn, publish::CLEARED, cart.id(), &event).await?;
                metrics::counter!("cart_cleared_total", "reason" => "user").increment(1);
            }
            Ok((render(conn, &cart).await?, resolved.merged))
        })
        .await?;
    record_merge(merged);
    Ok(view)
}

/// `POST /cart/merge`: folds the guest cart named by `token` into `user`'s cart.
pub async fn merge(conn: &mut AsyncPgConnection, user: UserId, token: &str) -> CartResult<CartView> {
    let view = conn
        .transaction::<_, CartError, _>(async |conn| {
            let guest = carts::find_by_token(conn, &token::hash(token), false).await?.ok_or(CartError::CartNotFound)?;
            let cart = merge_into(conn, user, guest.id()).await?;
            render(conn, &cart).await
        })
        .await?;
    record_merge(true);
    Ok(view)
}

/// Folds guest cart `from` into `user`'s cart (created if needed) and deletes it.
///
/// Rules: quantities of the same product add up, capped at 99; guest lines that would take the
/// user's cart past 100 lines are dropped (oldest guest lines go first); if both carts hold lines
/// in different currencies, the guest's lines are dropped (one currency per cart). Emits
/// `cart.merged`. Returns the user's cart, locked.
async fn merge_into(conn: &mut AsyncPgConnection, user: UserId, from: CartId) -> CartResult<CartRow> {
    let target = carts::ensure_user_cart(conn, user).await?;
    let locked = carts::lock_all(conn, &[from, target.id()]).await?;
    let target = locked.iter().find(|c| c.id == target.id).cloned().ok_or(diesel::result::Error::NotFound)?;
    let Some(guest) = locked.into_iter().find(|c| c.id == from.0) else {
        // A concurrent request merged it first: nothing left to fold in.
        return Ok(target);
    };
    let guest_lines = carts::line_rows(conn, guest.id()).await?;
    let target_lines = carts::line_rows(conn, target.id()).await?;
    let compatible = target_lines.is_empty() || guest_lines.is_empty() || guest.currency == target.currency;
    let mut moved = 0usize;
    let mut dropped = 0usize;
    if compatible {
        let mut present: HashSet<ProductId> = target_lines.iter().map(LineRow::product).collect();
        let mut count = target_lines.len() as i64;
        for line in &guest_lines {
            if present.contains(&line.product()) {
                carts::upsert_line(conn, target.id(), line.product(), line.quantity).await?;
            } else if count < MAX_LINES {
                // Moving the row keeps its id, so a client that saw it as a guest can still use it.
                carts::move_line(conn, LineId(line.id), target.id()).await?;
                count += 1;
                present.insert(line.product());
            } else {
                dropped += 1;
                continue;
            }
            moved += 1;
        }
    } else {
        dropped = guest_lines.len();
    }
    let currency = if target_lines.is_empty() && moved > 0 { guest.currency.as_deref() } else { None };
    carts::delete_cart(conn, guest.id()).await?;
    let target = carts::touch(conn, target.id(), currency).await?;
    let event = publish::Merged { from_cart_id: guest.id(), into_cart_id: target.id(), user_id: user, at: Utc::now() };
    publish::enqueue(conn, publish::MERGED, target.id(), &event).await?;
    tracing::info!(cart.from = %guest.id(), cart.into = %target.id(), cart.lines_moved = moved, cart.lines_dropped = dropped, "guest cart merged");
    Ok(target)
}

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
    if let (Some(ordered_by), Some(owner)) = (user, cart.user())
        && ordered_by != owner
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
