//! `/orders`: checkout, reads, cancel and ship.

use super::views::{self, OrderSummary};
use crate::cart::CART_TOKEN_HEADER;
use crate::db::idempotency::{self, KeyRow};
use crate::db::notifications::{self, NewNotification};
use crate::db::orders::{self, ListFilter, NewOrder, OrderRow};
use crate::db::{OrderError, customers, payments, products};
use crate::domain::{self, CreateOrder, OrderId, Status, tokens};
use crate::events::publish;
use crate::state::AppState;
use crate::tasks::refunds;
use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel_async::AsyncConnection;
use serde::Deserialize;
use shop_common::auth::{AdminIdentity, Identity, MaybeIdentity};
use shop_common::error::{ApiError, ApiResult, ErrorCode};
use shop_common::http::{Page, PageParams, json};
use uuid::Uuid;

pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
pub const ORDER_TOKEN_HEADER: &str = "x-order-token";
/// Set on a response replayed for a repeated `Idempotency-Key`.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// A header's value as text; a non-text value is a client mistake (400).
fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> ApiResult<Option<&'a str>> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(|v| Some(v.trim()).filter(|v| !v.is_empty()))
            .map_err(|_| ApiError::bad_request(format!("the {name} header must be visible ASCII"))),
    }
}

fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(key) = headers.get(IDEMPOTENCY_KEY_HEADER) else { return Ok(None) };
    match key.to_str() {
        Ok(key) if tokens::valid_idempotency_key(key) => Ok(Some(key.to_owned())),
        _ => Err(ApiError::bad_request("Idempotency-Key must be 1 to 255 visible ASCII characters")),
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

enum Created {
    New(serde_json::Value),
    Replay(KeyRow),
}

/// The stored first response for a repeated key, or 422 when the key came with another request.
fn replay(row: &KeyRow, request_hash: &str, cart_token: Option<&str>) -> ApiResult<HttpResponse> {
    if row.request_hash != request_hash {
        return Err(ApiError::new(
            ErrorCode::UnprocessableEntity,
            "this Idempotency-Key was already used with a different request",
        ));
    }
    let (Some(status), Some(body), Some(order_id)) = (row.response_status, &row.response_body, row.order_id) else {
        // The claiming transaction writes both together; a key without a response cannot be seen.
        return Err(ApiError::conflict("a request with this Idempotency-Key is still being processed"));
    };
    let status = u16::try_from(status).ok().and_then(|s| StatusCode::from_u16(s).ok()).unwrap_or(StatusCode::CREATED);
    let token = cart_token.map(|t| tokens::guest_order_token(t, OrderId(order_id)));
    Ok(respond(status, body.clone(), token, true))
}

fn respond(
    status: StatusCode,
    mut body: serde_json::Value,
    order_token: Option<String>,
    replayed: bool,
) -> HttpResponse {
    let location = body.get("id").and_then(|id| id.as_str()).map(|id| format!("/orders/{id}"));
    if let (Some(token), Some(object)) = (order_token, body.as_object_mut()) {
        object.insert("order_token".into(), token.into());
    }
    let mut response = HttpResponse::build(status);
    if let Some(location) = location {
        response.insert_header(("location", location));
    }
    if replayed {
        response.insert_header((REPLAYED_HEADER, "true"));
    }
    response.json(body)
}

/// `POST /orders`: reads the caller's cart, re-prices it from the snapshot and stores the order
/// `PENDING` with `order.created`, in one transaction (ARCHITECTURE.md §4 step 1).
#[tracing::instrument(skip_all, fields(order.id))]
pub async fn create_order(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: MaybeIdentity,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let headers = req.headers();
    let cart_token = header_text(headers, CART_TOKEN_HEADER)?;
    let (scope, guest_token) = match (&caller.0, cart_token) {
        (Some(identity), _) => (tokens::user_scope(identity.user_id), None),
        (None, Some(token)) => (tokens::guest_scope(token), Some(token)),
        (None, None) => return Err(ApiError::unauthorized("sign in, or send X-Cart-Token for guest checkout")),
    };
    let request: CreateOrder =
        if body.iter().all(u8::is_ascii_whitespace) { CreateOrder::default() } else { json::parse(&body)? };
    let request = request.normalized();
    request.validate(guest_token.is_some()).map_err(ApiError::validation)?;
    let key = idempotency_key(headers)?;
    let request_hash = tokens::sha256_hex(&serde_json::to_vec(&request).map_err(ApiError::internal)?);

    // A retry after success is answered from the record, without reading a cart that may since
    // have been emptied by the checkout itself.
    if let Some(key) = &key {
        let mut conn = state.conn().await?;
        if let Some(row) = idempotency::find(&mut conn, &scope, key).await? {
            return replay(&row, &request_hash, guest_token);
        }
    }

    let cart = state.cart.fetch(headers).await?;
    if cart.lines.is_empty() {
        return Err(OrderError::Unprocessable("the cart is empty".into()).into());
    }
    let mut conn = state.conn().await?;
    let ids: Vec<_> = cart.lines.iter().map(|l| l.product_id).collect();
    let snapshot = products::find_many(&mut conn, &ids).await?;
    let priced = domain::price(&cart.lines, &snapshot).map_err(OrderError::from)?;
    // A user who gives no address at checkout is written to at the one they registered with.
    let email = match (&request.email, &caller.0) {
        (Some(email), _) => Some(email.clone()),
        (None, Some(identity)) => customers::email(&mut conn, identity.user_id).await?,
        (None, None) => None,
    };

    let order_id = OrderId(Uuid::now_v7());
    tracing::Span::current().record("order.id", tracing::field::display(order_id));
    let order_token = guest_token.map(|t| tokens::guest_order_token(t, order_id));
    let payment_key = tokens::payment_key(order_id, key.as_deref());
    let shipping =
        request.shipping_address.as_ref().map(serde_json::to_value).transpose().map_err(ApiError::internal)?;
    let new_order = NewOrder {
        id: order_id,
        user_id: caller.0.as_ref().map(|i| i.user_id),
        guest_token_hash: order_token.as_ref().map(|t| tokens::sha256_hex(t.as_bytes())),
        cart_token_hash: guest_token.map(|t| tokens::sha256_hex(t.as_bytes())),
        cart_id: cart.id,
        email: email.as_deref(),
        total: &priced.total,
        shipping_address: shipping,
        payment_key: &payment_key,
        lines: &priced.lines,
    };
    let created = conn
        .transaction::<Created, OrderError, _>(async |conn| {
            if let Some(key) = &key
                && !idempotency::claim(conn, &scope, key, &request_hash).await?
            {
                // A concurrent duplicate held the key; its transaction has ended, read what it stored.
                let row = idempotency::find(conn, &scope, key).await?.ok_or_else(|| {
                    OrderError::Conflict("a request with this Idempotency-Key is still being processed".into())
                })?;
                return Ok(Created::Replay(row));
            }
            let row = orders::insert(conn, &new_order).await?;
            publish::order_created(conn, &row, &priced.lines).await?;
            let view = views::load(conn, row).await?;
            let body = serde_json::to_value(&view).map_err(|err| OrderError::Internal(err.into()))?;
            if let Some(key) = &key {
                idempotency::store_response(conn, &scope, key, order_id.0, 201, &body).await?;
            }
            Ok(Created::New(body))
        })
        .await?;
    match created {
        Created::Replay(row) => replay(&row, &request_hash, guest_token),
        Created::New(body) => {
            state.core.relay.wake();
            tracing::info!(order.total_minor = priced.total.amount_minor, "order placed");
            Ok(respond(StatusCode::CREATED, body, order_token, false))
        }
    }
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
