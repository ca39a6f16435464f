//! The priced cart as the API returns it, computed from the lines and the product snapshot with
//! checked arithmetic.
//!
//! Rules: a line is `available` when its product is active, not deleted, and still priced in the
//! cart's currency. `subtotal` sums the available lines only (what checkout can sell); `item_count`
//! counts every unit in the cart. An empty cart has `subtotal: null` and `currency: null`.

use super::{CartId, LineId, ProductId};
use chrono::{DateTime, Utc};
use serde::Serialize;
use shop_common::money::Money;

/// A product as the snapshot holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub sku: String,
    pub name: String,
    pub price_minor: i64,
    pub currency: String,
    pub active: bool,
    pub deleted: bool,
}

/// A stored line with its product's snapshot (`None` if the snapshot row is missing).
#[derive(Debug, Clone)]
pub struct LineRecord {
    pub id: LineId,
    pub product_id: ProductId,
    pub quantity: i64,
    pub snapshot: Option<Snapshot>,
}

/// The cart row's fields the view shows.
#[derive(Debug, Clone)]
pub struct CartHeader {
    pub id: CartId,
    pub currency: Option<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LineView {
    pub id: LineId,
    pub product_id: ProductId,
    pub sku: String,
    pub name: String,
    pub unit_price: Money,
    pub quantity: i64,
    pub line_total: Money,
    pub available: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CartView {
    pub id: Option<CartId>,
    pub lines: Vec<LineView>,
    pub item_count: i64,
    pub subtotal: Option<Money>,
    pub currency: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
    /// The guest token, only in the response that issued it (it is not stored, so never again).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cart_token: Option<String>,
}

/// A total does not fit in 64 bits of minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the cart total is out of range")]
pub struct TotalOutOfRange;

impl CartView {
    /// The view of a caller who has no cart yet.
    pub fn empty() -> Self {
        Self {
            id: None,
            lines: Vec::new(),
            item_count: 0,
            subtotal: None,
            currency: None,
            updated_at: None,
            cart_token: None,
        }
    }

    /// Prices `lines` of the cart `header`.
    pub fn build(header: &CartHeader, lines: Vec<LineRecord>) -> Result<Self, TotalOutOfRange> {
        let currency = if lines.is_empty() { None } else { header.currency.clone() };
        let cart_currency = currency.clone().unwrap_or_default();
        let mut subtotal = Money::zero(cart_currency.clone());
        let mut item_count: i64 = 0;
        let mut views = Vec::with_capacity(lines.len());
        for line in lines {
            let (sku, name, unit_price, available) = match line.snapshot {
                Some(s) => {
                    let available = s.active && !s.deleted && s.currency == cart_currency;
                    (s.sku, s.name, Money::new(s.price_minor, s.currency), available)
                }
                None => (String::new(), String::new(), Money::zero(cart_currency.clone()), false),
            };
            let line_total = unit_price.checked_mul(line.quantity).ok_or(TotalOutOfRange)?;
            if available {
                subtotal = subtotal.checked_add(&line_total).ok_or(TotalOutOfRange)?;
            }
            item_count = item_count.checked_add(line.quantity).ok_or(TotalOutOfRange)?;
            views.push(LineView {
                id: line.id,
                product_id: line.product_id,
                sku,
                name,
                unit_price,
                quantity: line.quantity,
                line_total,
                available,
            });
        }
        Ok(Self {
            id: Some(header.id),
            subtotal: if views.is_empty() { None } else { Some(subtotal) },
            lines: views,
            item_count,
            currency,
            updated_at: Some(header.updated_at),
            cart_token: None,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use uuid::Uuid;

    fn header() -> CartHeader {
        CartHeader { id: CartId(Uuid::nil()), currency: Some("EUR".into()), updated_at: Utc::now() }
    }

    fn line(n: u128, quantity: i64, price: i64, currency: &str, active: bool, deleted: bool) -> LineRecord {
        LineRecord {
            id: LineId(Uuid::from_u128(n)),
            product_id: ProductId(Uuid::from_u128(n + 1000)),
            quantity,
            snapshot: Some(Snapshot {
                sku: format!("SKU-{n}"),
                name: format!("P{n}"),
                price_minor: price,
                currency: currency.into(),
                active,
                deleted,
            }),
        }
    }

    #[test]
    fn totals_count_available_lines() {
        let lines = vec![
            line(1, 2, 1050, "EUR", true, false),
            line(2, 3, 200, "EUR", true, false),
            line(3, 1, 999, "EUR", false, false),
            line(4, 1, 999, "EUR", true, true),
            line(5, 1, 999, "USD", true, false),
        ];
        let view = CartView::build(&header(), lines).unwrap();
        assert_eq!(view.subtotal, Some(Money::new(2700, "EUR")));
        assert_eq!(view.item_count, 8);
        assert_eq!(view.lines[0].line_total, Money::new(2100, "EUR"));
        let available: Vec<bool> = view.lines.iter().map(|l| l.available).collect();
        assert_eq!(available, vec![true, true, false, false, false]);
        assert_eq!(view.currency.as_deref(), Some("EUR"));
    }

    #[test]
    fn empty_cart_has_no_subtotal_or_currency() {
        let view = CartView::build(&header(), vec![]).unwrap();
        assert_eq!((view.subtotal, view.currency, view.item_count), (None, None, 0));
        let json = serde_json::to_value(CartView::empty()).unwrap();
        assert_eq!(json["id"], serde_json::Value::Null);
        assert_eq!(json["subtotal"], serde_json::Value::Null);
        assert!(json.get("cart_token").is_none());
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        let lines = vec![line(1, 2, i64::MAX / 2 + 1, "EUR", true, false)];
        assert_eq!(CartView::build(&header(), lines).unwrap_err(), TotalOutOfRange);
        let lines = vec![line(1, 1, i64::MAX, "EUR", true, false), line(2, 1, 1, "EUR", true, false)];
        assert_eq!(CartView::build(&header(), lines).unwrap_err(), TotalOutOfRange);
    }

    #[test]
    fn missing_snapshot_is_unavailable() {
        let mut l = line(1, 1, 100, "EUR", true, false);
        l.snapshot = None;
        let view = CartView::build(&header(), vec![l]).unwrap();
        assert!(!view.lines[0].available);
        assert_eq!(view.subtotal, Some(Money::new(0, "EUR")));
    }
}
