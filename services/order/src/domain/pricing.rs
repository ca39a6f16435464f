//! Re-pricing a cart from the order service's own product snapshot: one currency, checked sums,
//! every product known and active. The cart's prices are never trusted.

use super::ProductId;
use shop_common::money::Money;
use std::collections::{BTreeMap, HashMap};

/// Most units of one product in one order; far above any real basket, far below an overflow.
pub const MAX_LINE_QUANTITY: i64 = 10_000;

/// What the cart says: a product and how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CartLine {
    pub product_id: ProductId,
    pub quantity: i64,
}

/// A product as the snapshot knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotProduct {
    pub product_id: ProductId,
    pub sku: String,
    pub name: String,
    pub price: Money,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedLine {
    pub product_id: ProductId,
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price: Money,
    pub line_total: Money,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedOrder {
    pub lines: Vec<PricedLine>,
    pub total: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error("the cart is empty")]
    Empty,
    #[error("product {0} is unknown")]
    Unknown(ProductId),
    #[error("product {0} is no longer available")]
    Unavailable(ProductId),
    #[error("product {0} has an invalid quantity {1} (1..={MAX_LINE_QUANTITY})")]
    BadQuantity(ProductId, i64),
    #[error("the cart mixes currencies ({0} and {1}); an order has one currency")]
    MixedCurrency(String, String),
    #[error("the order total is too large")]
    Overflow,
}

/// Prices `lines` (lines of the same product are merged) in the order they first appear.
pub fn price(lines: &[CartLine], products: &HashMap<ProductId, SnapshotProduct>) -> Result<PricedOrder, PricingError> {
    if lines.is_empty() {
        return Err(PricingError::Empty);
    }
    let mut merged: Vec<CartLine> = Vec::new();
    let mut position: BTreeMap<ProductId, usize> = BTreeMap::new();
    for line in lines {
        if line.quantity < 1 {
            return Err(PricingError::BadQuantity(line.product_id, line.quantity));
        }
        match position.get(&line.product_id) {
            Some(&i) => {
                merged[i].quantity = merged[i].quantity.checked_add(line.quantity).ok_or(PricingError::Overflow)?;
            }
            None => {
                position.insert(line.product_id, merged.len());
                merged.push(*line);
            }
        }
    }
    let mut priced = Vec::with_capacity(merged.len());
    let mut total: Option<Money> = None;
    for line in merged {
        if line.quantity > MAX_LINE_QUANTITY {
            return Err(PricingError::BadQuantity(line.product_id, line.quantity));
        }
        let product = products.get(&line.product_id).ok_or(PricingError::Unknown(line.product_id))?;
        if !product.active {
            return Err(PricingError::Unavailable(line.product_id));
        }
        let line_total = product.price.checked_mul(line.quantity).ok_or(PricingError::Overflow)?;
        total = Some(match total {
            None => line_total.clone(),
            Some(sum) => {
                if sum.currency != line_total.currency {
                    return Err(PricingError::MixedCurrency(sum.currency, line_total.currency));
                }
                sum.checked_add(&line_total).ok_or(PricingError::Overflow)?
            }
        });
        priced.push(PricedLine {
            product_id: line.product_id,
            sku: product.sku.clone(),
            name: product.name.clone(),
            quantity: line.quantity,
            unit_price: product.price.clone(),
            line_total,
        });
    }
    let total = total.ok_or(PricingError::Empty)?;
    Ok(PricedOrder { lines: priced, total })
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn product(price: i64, currency: &str, active: bool) -> SnapshotProduct {
        SnapshotProduct {
            product_id: ProductId(Uuid::new_v4()),
            sku: "SKU".into(),
            name: "Lamp".into(),
            price: Money::new(price, currency),
            active,
        }
    }

    fn catalogue(products: &[&SnapshotProduct]) -> HashMap<ProductId, SnapshotProduct> {
        products.iter().map(|p| (p.product_id, (*p).clone())).collect()
    }

    fn line(p: &SnapshotProduct, quantity: i64) -> CartLine {
        CartLine { product_id: p.product_id, quantity }
    }

    #[test]
    fn prices_and_merges_lines() {
        let a = product(1250, "EUR", true);
        let b = product(99, "EUR", true);
        let order = price(&[line(&a, 2), line(&b, 1), line(&a, 1)], &catalogue(&[&a, &b])).unwrap();
        assert_eq!(order.lines.len(), 2);
        assert_eq!(order.lines[0].quantity, 3);
        assert_eq!(order.lines[0].line_total, Money::new(3750, "EUR"));
        assert_eq!(order.total, Money::new(3849, "EUR"));
    }

    #[test]
    fn refuses_what_cannot_be_sold() {
        let a = product(100, "EUR", true);
        let gone = product(100, "EUR", false);
        let usd = product(100, "USD", true);
        let all = catalogue(&[&a, &gone, &usd]);
        assert_eq!(price(&[], &all), Err(PricingError::Empty));
        let unknown = ProductId(Uuid::new_v4());
        assert_eq!(price(&[CartLine { product_id: unknown, quantity: 1 }], &all), Err(PricingError::Unknown(unknown)));
        assert_eq!(price(&[line(&gone, 1)], &all), Err(PricingError::Unavailable(gone.product_id)));
        assert!(matches!(price(&[line(&a, 1), line(&usd, 1)], &all), Err(PricingError::MixedCurrency(..))));
        assert_eq!(price(&[line(&a, 0)], &all), Err(PricingError::BadQuantity(a.product_id, 0)));
        assert!(matches!(price(&[line(&a, MAX_LINE_QUANTITY + 1)], &all), Err(PricingError::BadQuantity(..))));
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        let huge = product(i64::MAX / 2, "EUR", true);
        assert_eq!(price(&[line(&huge, 3)], &catalogue(&[&huge])), Err(PricingError::Overflow));
        let big = product(i64::MAX / 3, "EUR", true);
        let big2 = product(i64::MAX / 3, "EUR", true);
        let big3 = product(i64::MAX / 3, "EUR", true);
        let big4 = product(i64::MAX / 3, "EUR", true);
        let all = catalogue(&[&big, &big2, &big3, &big4]);
        assert_eq!(
            price(&[line(&big, 1), line(&big2, 1), line(&big3, 1), line(&big4, 1)], &all),
            Err(PricingError::Overflow)
        );
    }
}
