//! `/orders`: reads, cancel and ship (checkout is in `checkout`).

use super::views::{self, OrderSummary};
use crate::db::notifications::{self, NewNotification};
use crate::db::orders::{self, ListFilter, OrderRow};
use crate::db::{OrderError, payments};
use crate::domain::{OrderId, Status, tokens};
use crate::events::publish;
use crate::state::AppState;
use crate::tasks::refunds;
use actix_web::http::header::HeaderMap;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel_async::AsyncConnection;
use serde::Deserialize;
use shop_common::auth::{AdminIdentity, Identity, MaybeIdentity};
use shop_common::error::{ApiError, ApiResult, ErrorCode};
use shop_common::http::{Page, PageParams};
use uuid::Uuid;

pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
pub const ORDER_TOKEN_HEADER: &str = "x-order-token";
/// Set on a response replayed for a repeated `Idempotency-Key`.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// A header's value as text; a non-text value is a client mistake (400).
pub(super) fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> ApiResult<Option<&'a str>> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(|v| Some(v.trim()).filter(|v| !v.is_empty()))
            .map_err(|_| ApiError::bad_request(format!("the {name} header must be visible ASCII"))),
    }
}

/// May `caller` (or the holder of `order_token`) see this order? Anyone else gets a 404, so order
/// ids cannot be probed.
fn can_access(order: &OrderRow, caller: Option<&Identity>, order_token: Option<&str>) -> bool {
    if let Some(identity) = caller
        && (identity.is_admin() || order.user_id == Some(identity.user_id))
    {
        return true;
    }
    match (order_token, &order.guest_token_hash) {
        (Some(token), Some(hash)) => tokens::constant_time_eq(&tokens::sha256_hex(token.as_bytes()), hash),
        _ => false,
    }
}

fn parse_order_id(raw: &str) -> Result<OrderId, OrderError> {
    Uuid::parse_str(raw).map(OrderId).map_err(|_| OrderError::NotFound)
}

/// `GET /orders/{id}`: the owner, an admin, or a guest with the order's `X-Order-Token`.
#[tracing::instrument(skip_all, fields(order.id = %path))]
pub async fn get_order(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: MaybeIdentity,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = parse_order_id(&path)?;
    let token = header_text(req.headers(), ORDER_TOKEN_HEADER)?;
    let mut conn = state.conn().await?;
    let order = orders::find(&mut conn, id).await?.ok_or(OrderError::NotFound)?;
    if !can_access(&order, caller.0.as_ref(), token) {
        return Err(OrderError::NotFound.into());
    }
    Ok(HttpResponse::Ok().json(views::load(&mut conn, order).await?))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    page: Option<u32>,
    #[serde(default, alias = "limit", alias = "per_page")]
    page_size: Option<u32>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    /// Admins only: one customer's orders.
    #[serde(default)]
    user_id: Option<Uuid>,
}

/// RFC 3339 instant, or a date (`from` = its start, `to` = the end of that day).
fn parse_bound(name: &str, raw: &str, end_of_day: bool) -> ApiResult<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
        return Ok(at.with_timezone(&Utc));
    }
    let invalid =
        || ApiError::new(ErrorCode::InvalidQuery, format!("{name} must be an RFC 3339 time or a YYYY-MM-DD date"));
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| invalid())?;
    let date = if end_of_day { date.succ_opt().ok_or_else(invalid)? } else { date };
    Ok(date.and_hms_opt(0, 0, 0).ok_or_else(invalid)?.and_utc())
}

/// `GET /orders`: the caller's orders, newest first; admins see everyone's. Filters: `status`,
/// `from`, `to` (creation time, `to` exclusive), and for admins `user_id`.
pub async fn list_orders(
    state: web::Data<AppState>,
    caller: Identity,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let params = PageParams::new(
        query.page.unwrap_or(1),
        query.page_size.unwrap_or(shop_common::http::pagination::DEFAULT_PAGE_SIZE),
    );
    let status = query
        .status
        .as_deref()
        .map(str::parse::<Status>)
        .transpose()
        .map_err(|err| ApiError::new(ErrorCode::InvalidQuery, err))?;
    let filter = ListFilter {
        user_id: if caller.is_admin() { query.user_id } else { Some(caller.user_id) },
        status,
        from: query.from.as_deref().map(|raw| parse_bound("from", raw, false)).transpose()?,
        to: query.to.as_deref().map(|raw| parse_bound("to", raw, true)).transpose()?,
    };
    let mut conn = state.conn().await?;
    let (rows, total) = orders::list(&mut conn, &filter, params.limit(), params.offset()).await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let counts = orders::line_counts(&mut conn, &ids).await?;
    let items = rows.iter().map(|r| OrderSummary::new(r, counts.get(&r.id).copied().unwrap_or(0))).collect();
    Ok(HttpResponse::Ok().json(Page::new(items, params, total)))
}

/// `PUT /orders/{id}/cancel`: the owner (or guest with the order token) or an admin, until the
/// order ships. Stock is released by inventory on `order.cancelled`; a paid order is refunded.
#[tracing::instrument(skip_all, fields(order.id = %path))]
pub async fn cancel_order(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: MaybeIdentity,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = parse_order_id(&path)?;
    let token = header_text(req.headers(), ORDER_TOKEN_HEADER)?;
    let caller = caller.0;
    let reason =
        if caller.as_ref().is_some_and(Identity::is_admin) { "cancelled_by_admin" } else { "cancelled_by_customer" };
    let mut conn = state.conn().await?;
    let refund_due = conn
        .transaction::<bool, OrderError, _>(async |conn| {
            let order = orders::lock(conn, id).await?.ok_or(OrderError::NotFound)?;
            if !can_access(&order, caller.as_ref(), token) {
                return Err(OrderError::NotFound);
            }
            let status = order.status();
            match status {
                // PUT is idempotent: cancelling a cancelled order answers with it unchanged.
                Status::Cancelled => return Ok(false),
                Status::Shipped => {
                    return Err(OrderError::Conflict("the order has shipped and can no longer be cancelled".into()));
                }
                Status::Failed => {
                    return Err(OrderError::Conflict("the order has failed; there is nothing to cancel".into()));
                }
                _ => {}
            }
            if !orders::set_status(conn, id, status, Status::Cancelled, Some(reason)).await? {
                return Err(OrderError::Conflict("the order changed meanwhile, try again".into()));
            }
            publish::order_ended(conn, publish::ORDER_CANCELLED, id, reason).await?;
            Ok(payments::require_refund(conn, id).await?)
        })
        .await?;
    state.core.relay.wake();
    if !refund_due {
        // A payment still open at the provider is cancelled by the refunder.
        state.core.refunds.notify_one();
    } else {
        // Pay back now so the response shows the refund; on failure the refunder task retries.
        if let Err(err) = refunds::process_due(&state.core, Some(id)).await {
            tracing::warn!(error = %format!("{err:#}"), "refund after cancel failed, the refunder retries");
        }
    }
    tracing::info!(reason, "order cancelled");
    let order = orders::find(&mut conn, id).await?.ok_or(OrderError::NotFound)?;
    Ok(HttpResponse::Ok().json(views::load(&mut conn, order).await?))
}

fn shipping_notice(order: &OrderRow, lines: &[orders::LineRow]) -> (String, String) {
    let subject = format!("Your order {} has shipped", order.id);
    let mut body = format!("Good news: your order {} is on its way.\n\n", order.id);
    for line in lines {
        body.push_str(&format!("  {} x {} ({})\n", line.quantity, line.name, line.sku));
    }
    body.push_str(&format!("\nTotal: {} {}\n", order.total_minor, order.currency));
    (subject, body)
}

/// `PUT /orders/{id}/ship` (admin): `CONFIRMED` → `SHIPPED`, `order.shipped` (inventory commits
/// the sale) and a shipping notification.
#[tracing::instrument(skip_all, fields(order.id = %path))]
pub async fn ship_order(
    state: web::Data<AppState>,
    _admin: AdminIdentity,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = parse_order_id(&path)?;
    let mail_enabled = state.mail_enabled;
    let mut conn = state.conn().await?;
    let queued_mail = conn
        .transaction::<bool, OrderError, _>(async |conn| {
            let order = orders::lock(conn, id).await?.ok_or(OrderError::NotFound)?;
            let status = order.status();
            if !status.can_ship() {
                return Err(OrderError::Conflict(format!("only a CONFIRMED order can ship; this one is {status}")));
            }
            orders::set_status(conn, id, status, Status::Shipped, None).await?;
            publish::order_shipped(conn, id).await?;
            let lines = orders::lines(conn, id).await?;
            let (subject, body) = shipping_notice(&order, &lines);
            let (status, note) = match (&order.email, mail_enabled) {
                (Some(_), true) => ("pending", None),
                (None, _) => ("skipped", Some("no e-mail address on the order")),
                (Some(_), false) => ("skipped", Some("SMTP is not configured")),
            };
            notifications::insert(
                conn,
                &NewNotification {
                    order_id: id,
                    kind: "order_shipped",
                    channel: "email",
                    recipient: order.email.as_deref(),
                    subject: &subject,
                    body: &body,
                    status,
                    note,
                },
            )
            .await?;
            Ok(status == "pending")
        })
        .await?;
    state.core.relay.wake();
    if queued_mail {
        state.core.mail.notify_one();
    }
    tracing::info!("order shipped");
    let order = orders::find(&mut conn, id).await?.ok_or(OrderError::NotFound)?;
    Ok(HttpResponse::Ok().json(views::load(&mut conn, order).await?))
}
