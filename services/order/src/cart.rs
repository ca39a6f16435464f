//! Reading the caller's cart from the cart service (docs/events.md, "The cart ↔ order HTTP
//! contract"): `GET {CART_SERVICE_URL}/cart` with the caller's `x-auth-*`, `X-Cart-Token` and
//! `x-request-id` headers forwarded unchanged, so the cart service applies its own access rules.
//! Only `id` and `lines[].product_id` / `lines[].quantity` are read; prices come from the snapshot.

use crate::db::OrderError;
use crate::domain::{CartLine, ProductId};
use actix_web::http::header::HeaderMap;
use serde::Deserialize;
use shop_common::auth::headers::PREFIX as AUTH_PREFIX;
use std::time::Duration;
use uuid::Uuid;

pub const CART_TOKEN_HEADER: &str = "x-cart-token";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cart {
    /// The cart's id when it is a UUID (it travels on in `order.created`/`order.confirmed`).
    pub id: Option<Uuid>,
    pub lines: Vec<CartLine>,
}

#[derive(Deserialize)]
struct CartBody {
    #[serde(default)]
    id: serde_json::Value,
    #[serde(default)]
    lines: Vec<CartLineBody>,
}

#[derive(Deserialize)]
struct CartLineBody {
    product_id: Uuid,
    quantity: i64,
}

#[derive(Clone)]
pub struct CartClient {
    http: reqwest::Client,
    base: String,
}

impl CartClient {
    pub fn new(base: &str, timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(2)))
            .timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self { http, base: base.trim_end_matches('/').to_owned() })
    }

    /// The caller's cart. A missing cart (404) is an empty one.
    pub async fn fetch(&self, incoming: &HeaderMap) -> Result<Cart, OrderError> {
        let mut request = self.http.get(format!("{}/cart", self.base)).header("accept", "application/json");
        for (name, value) in incoming {
            let name = name.as_str();
            if name.starts_with(AUTH_PREFIX) || name == CART_TOKEN_HEADER {
                request = request.header(name, value.as_bytes());
            }
        }
        if let Some(id) = shop_common::http::request_id::current() {
            request = request.header(shop_common::http::request_id::HEADER, id);
        }
        let response = request.send().await.map_err(|err| OrderError::CartUnavailable(err.into()))?;
        let status = response.status();
        match status.as_u16() {
            200 => {}
            404 => return Ok(Cart { id: None, lines: Vec::new() }),
            401 => return Err(OrderError::Unauthorized("the cart service did not accept the caller".into())),
            403 => return Err(OrderError::Forbidden("the cart belongs to someone else".into())),
            400 | 422 => return Err(OrderError::BadRequest("the cart service refused the cart token".into())),
            _ => {
                return Err(OrderError::CartUnavailable(anyhow::anyhow!("the cart service answered {status}")));
            }
        }
        let body: CartBody = response
            .json()
            .await
            .map_err(|err| OrderError::CartUnavailable(anyhow::Error::from(err).context("reading the cart")))?;
        let id = body.id.as_str().and_then(|s| Uuid::parse_str(s).ok());
        let lines = body
            .lines
            .into_iter()
            .map(|l| CartLine { product_id: ProductId(l.product_id), quantity: l.quantity })
            .collect();
        Ok(Cart { id, lines })
    }
}
