//! Cart operations, one transaction each: find (and lock) the caller's cart, change it, write the
//! `cart.*` event to the outbox, and return the priced view, all on one connection.
//!
//! Who owns a cart: an authenticated caller (the gateway's `x-auth-user-id`) owns their user cart;
//! a guest owns the cart whose token they present in `X-Cart-Token`. An authenticated request that
//! also presents a guest token folds that guest cart into the user's first (sign-in merge). A token
//! or line id that is not the caller's is reported exactly like one that does not exist.

mod checkout;
mod merge;

pub use checkout::{CheckoutOutcome, apply_checkout};
pub use merge::merge;

use crate::db::carts::{self, CartRow, LineRow};
use crate::db::products;
use crate::domain::token::{self, CartToken};
use crate::domain::view::CartView;
use crate::domain::{LineId, MAX_LINES, ProductId, UserId};
use crate::error::{CartError, CartResult};
use crate::events::publish::{self, ClearReason};
use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use shop_common::error::ApiError;
use shop_common::money::Money;
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
                let cart = merge::merge_into(conn, user, guest.id()).await?;
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
pub(crate) async fn render(conn: &mut AsyncPgConnection, cart: &CartRow) -> CartResult<CartView> {
    let lines = carts::lines(conn, cart.id()).await?;
    Ok(CartView::build(&cart.header(), lines)?)
}

pub(crate) fn record_merge(merged: bool) {
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
