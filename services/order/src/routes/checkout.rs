//! `POST /orders`: checkout, with `Idempotency-Key` replay.

use super::orders::{IDEMPOTENCY_KEY_HEADER, REPLAYED_HEADER, header_text};
use super::views;
use crate::cart::CART_TOKEN_HEADER;
use crate::db::idempotency::{self, KeyRow};
use crate::db::orders::{self, NewOrder};
use crate::db::{OrderError, customers, products};
use crate::domain::{self, CreateOrder, OrderId, tokens};
use crate::events::publish;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use actix_web::{HttpRequest, HttpResponse, web};
use diesel_async::AsyncConnection;
use shop_common::auth::MaybeIdentity;
use shop_common::error::{ApiError, ApiResult, ErrorCode};
use shop_common::http::json;
use uuid::Uuid;

fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(key) = headers.get(IDEMPOTENCY_KEY_HEADER) else { return Ok(None) };
    match key.to_str() {
        Ok(key) if tokens::valid_idempotency_key(key) => Ok(Some(key.to_owned())),
        _ => Err(ApiError::bad_request("Idempotency-Key must be 1 to 255 visible ASCII characters")),
    }
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
