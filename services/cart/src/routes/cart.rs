//! `/cart`: the caller's cart (user or guest), its lines, and the sign-in merge.
//!
//! Every response is the whole priced cart, so a client never has to recompute totals.

use super::AppState;
use crate::domain::view::CartView;
use crate::domain::{ProductId, UserId, validate_quantity};
use crate::error::{CartError, CartResult};
use crate::service::{self, Caller};
use actix_web::http::header::{CACHE_CONTROL, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use shop_common::auth::{Identity, MaybeIdentity};
use shop_common::http::Json;
use uuid::Uuid;

/// The guest cart token header (request and response).
pub const CART_TOKEN_HEADER: &str = "x-cart-token";

/// The token the request carries, if any (an empty header counts as none).
fn request_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(CART_TOKEN_HEADER)?;
    let token = String::from_utf8_lossy(value.as_bytes()).trim().to_owned();
    (!token.is_empty()).then_some(token)
}

fn caller(identity: MaybeIdentity, req: &HttpRequest) -> Caller {
    Caller { user: identity.0.map(|id| UserId(id.user_id)), token: request_token(req) }
}

/// 200 with the cart; carries `X-Cart-Token` when this response issued one. Never cached: the
/// body is one customer's.
fn respond(view: CartView) -> CartResult<HttpResponse> {
    let mut response = HttpResponse::Ok();
    response.insert_header((CACHE_CONTROL, HeaderValue::from_static("no-store")));
    if let Some(token) = &view.cart_token {
        let value =
            HeaderValue::from_str(token).map_err(|err| CartError::Api(shop_common::error::ApiError::internal(err)))?;
        response.insert_header((CART_TOKEN_HEADER, value));
    }
    Ok(response.json(view))
}

/// `GET /cart`: the caller's cart; `id: null` and no lines when they have none yet.
#[tracing::instrument(skip_all)]
pub async fn get_cart(
    state: web::Data<AppState>,
    identity: MaybeIdentity,
    req: HttpRequest,
) -> CartResult<HttpResponse> {
    let caller = caller(identity, &req);
    let mut conn = state.conn().await?;
    let view = service::view(&mut conn, &caller).await?;
    state.relay.wake(); // an auto-merge may have written cart.merged
    respond(view)
}

/// The body of `POST /cart/items`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddItemRequest {
    pub product_id: Uuid,
    pub quantity: i64,
}

/// `POST /cart/items`: adds units of a product (to its line if there is one).
#[tracing::instrument(skip_all, fields(product.id = %body.product_id))]
pub async fn add_item(
    state: web::Data<AppState>,
    identity: MaybeIdentity,
    req: HttpRequest,
    body: Json<AddItemRequest>,
) -> CartResult<HttpResponse> {
    let caller = caller(identity, &req);
    let quantity = validate_quantity(body.quantity).map_err(|err| CartError::Invalid(vec![err]))?;
    let mut conn = state.conn().await?;
    let view = service::add_item(&mut conn, &caller, ProductId(body.product_id), quantity).await?;
    state.relay.wake();
    respond(view)
}

/// The body of `PUT /cart/items/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateItemRequest {
    pub quantity: i64,
}

/// `PUT /cart/items/{id}`: sets a line's quantity.
#[tracing::instrument(skip_all, fields(line.id = %path))]
pub async fn update_item(
    state: web::Data<AppState>,
    identity: MaybeIdentity,
    req: HttpRequest,
    path: web::Path<String>,
    body: Json<UpdateItemRequest>,
) -> CartResult<HttpResponse> {
    let caller = caller(identity, &req);
    let line = service::parse_line_id(&path)?;
    let quantity = validate_quantity(body.quantity).map_err(|err| CartError::Invalid(vec![err]))?;
    let mut conn = state.conn().await?;
    let view = service::update_item(&mut conn, &caller, line, quantity).await?;
    state.relay.wake();
    respond(view)
}

/// `DELETE /cart/items/{id}`: removes a line.
#[tracing::instrument(skip_all, fields(line.id = %path))]
pub async fn remove_item(
    state: web::Data<AppState>,
    identity: MaybeIdentity,
    req: HttpRequest,
    path: web::Path<String>,
) -> CartResult<HttpResponse> {
    let caller = caller(identity, &req);
    let line = service::parse_line_id(&path)?;
    let mut conn = state.conn().await?;
    let view = service::remove_item(&mut conn, &caller, line).await?;
    state.relay.wake();
    respond(view)
}

/// `DELETE /cart`: empties the caller's cart.
#[tracing::instrument(skip_all)]
pub async fn clear_cart(
    state: web::Data<AppState>,
    identity: MaybeIdentity,
    req: HttpRequest,
) -> CartResult<HttpResponse> {
    let caller = caller(identity, &req);
    let mut conn = state.conn().await?;
    let view = service::clear(&mut conn, &caller).await?;
    state.relay.wake();
    respond(view)
}

/// `POST /cart/merge` (authenticated, with `X-Cart-Token`): folds the guest cart into the user's.
#[tracing::instrument(skip_all)]
pub async fn merge_cart(state: web::Data<AppState>, identity: Identity, req: HttpRequest) -> CartResult<HttpResponse> {
    let token = request_token(&req).ok_or(CartError::TokenRequired("the X-Cart-Token header is required"))?;
    let mut conn = state.conn().await?;
    let view = service::merge(&mut conn, UserId(identity.user_id), &token).await?;
    state.relay.wake();
    respond(view)
}
