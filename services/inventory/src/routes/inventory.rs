//! `/inventory`: public stock reads, admin updates and the admin low-stock listing.

use super::AppState;
use crate::db::{StockRow, stock};
use crate::domain::{Mode, ProductId, validate_update};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use shop_common::auth::AdminIdentity;
use shop_common::error::{ApiError, ApiResult};
use shop_common::http::{Json, Page, PageParams};
use uuid::Uuid;

/// The public view of one product's stock.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StockView {
    pub product_id: Uuid,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
    pub low_stock_threshold: i64,
    pub in_stock: bool,
}

impl From<StockRow> for StockView {
    fn from(row: StockRow) -> Self {
        Self {
            product_id: row.product_id,
            on_hand: row.on_hand,
            reserved: row.reserved,
            available: row.available,
            low_stock_threshold: row.low_stock_threshold,
            in_stock: row.active && row.available > 0,
        }
    }
}

/// `GET /inventory/{product_id}`: anyone. A malformed id is a 404 like an unknown one.
#[tracing::instrument(skip_all, fields(product.id = %path))]
pub async fn get_inventory(state: web::Data<AppState>, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let not_found = || ApiError::not_found(format!("no stock for product {path}"));
    let id = Uuid::parse_str(&path).map_err(|_| not_found())?;
    let mut conn = state.conn().await?;
    let row = stock::find(&mut conn, ProductId(id)).await?.ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(StockView::from(row)))
}

/// The body of `POST /inventory/update`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateRequest {
    pub product_id: Uuid,
    pub mode: Mode,
    pub quantity: i64,
    pub reason: String,
}

/// `POST /inventory/update` (admin): set or adjust on hand, audited, with `inventory.adjusted`.
#[tracing::instrument(skip_all, fields(product.id = %body.product_id))]
pub async fn update_inventory(
    state: web::Data<AppState>,
    admin: AdminIdentity,
    body: Json<UpdateRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let update = validate_update(body.product_id, body.mode, body.quantity, &body.reason, Some(admin.0.user_id))
        .map_err(ApiError::validation)?;
    let mut conn = state.conn().await?;
    let row = stock::apply_update(&mut conn, &update).await?;
    state.relay.wake();
    tracing::info!(
        stock.mode = update.mode.as_str(),
        stock.quantity = update.quantity,
        stock.on_hand = row.on_hand,
        "stock updated"
    );
    Ok(HttpResponse::Ok().json(StockView::from(row)))
}

/// `GET /inventory/low-stock` (admin): active products at or below their threshold, paginated.
pub async fn list_low_stock(
    state: web::Data<AppState>,
    _admin: AdminIdentity,
    params: web::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let params = params.into_inner();
    let mut conn = state.conn().await?;
    let (rows, total) = stock::list_low(&mut conn, params.limit(), params.offset()).await?;
    let items: Vec<StockView> = rows.into_iter().map(StockView::from).collect();
    Ok(HttpResponse::Ok().json(Page::new(items, params, total)))
}
