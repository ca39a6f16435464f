//! The sign-in merge: a guest cart folded into the user's cart.

use super::{record_merge, render};
use crate::db::carts::{self, CartRow, LineRow};
use crate::domain::token;
use crate::domain::view::CartView;
use crate::domain::{CartId, LineId, MAX_LINES, ProductId, UserId};
use crate::error::{CartError, CartResult};
use crate::events::publish;
use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use std::collections::HashSet;

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
pub(super) async fn merge_into(conn: &mut AsyncPgConnection, user: UserId, from: CartId) -> CartResult<CartRow> {
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
