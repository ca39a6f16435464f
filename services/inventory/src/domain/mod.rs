//! Inventory rules without I/O: ids, order lines, and validation of admin stock updates.

use serde::{Deserialize, Serialize};
use shop_common::error::FieldError;
use std::collections::BTreeMap;
use std::fmt;
use uuid::Uuid;

/// The largest quantity one request or order line may carry; keeps every sum far from overflow.
pub const MAX_QUANTITY: i64 = 1_000_000_000;
/// Reasons are kept in the audit table; bounded so it stays readable.
pub const MAX_REASON_CHARS: usize = 200;

/// A catalog product, as inventory knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct ProductId(pub Uuid);

/// An order of the order service; reservations are keyed by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct OrderId(pub Uuid);

impl fmt::Display for ProductId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One product and quantity of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Line {
    pub product_id: ProductId,
    pub quantity: i64,
}

/// Merges repeated products and sorts by product id: the engine locks stock rows in this order,
/// so two orders touching the same products can never deadlock.
pub fn normalise_lines(lines: &[Line]) -> Result<Vec<Line>, String> {
    if lines.is_empty() {
        return Err("the order has no lines".into());
    }
    let mut merged: BTreeMap<ProductId, i64> = BTreeMap::new();
    for line in lines {
        if line.quantity <= 0 || line.quantity > MAX_QUANTITY {
            return Err(format!("invalid quantity {} for product {}", line.quantity, line.product_id));
        }
        let total = merged.entry(line.product_id).or_insert(0);
        *total = total.saturating_add(line.quantity);
        if *total > MAX_QUANTITY {
            return Err(format!("quantity too large for product {}", line.product_id));
        }
    }
    Ok(merged.into_iter().map(|(product_id, quantity)| Line { product_id, quantity }).collect())
}

/// How `POST /inventory/update` changes `on_hand`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// `on_hand := quantity` (never below what is reserved).
    Set,
    /// `on_hand += quantity` (may be negative; never below what is reserved).
    Adjust,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Set => "set",
            Mode::Adjust => "adjust",
        }
    }
}

/// A validated stock update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockUpdate {
    pub product_id: ProductId,
    pub mode: Mode,
    pub quantity: i64,
    pub reason: String,
    pub actor: Option<Uuid>,
}

/// Checks an update's fields; every problem is reported, not only the first.
pub fn validate_update(
    product_id: Uuid,
    mode: Mode,
    quantity: i64,
    reason: &str,
    actor: Option<Uuid>,
) -> Result<StockUpdate, Vec<FieldError>> {
    let mut errors = Vec::new();
    match mode {
        Mode::Set if !(0..=MAX_QUANTITY).contains(&quantity) => {
            errors.push(FieldError::new("quantity", format!("must be between 0 and {MAX_QUANTITY} for set")));
        }
        Mode::Adjust if quantity == 0 || quantity.abs() > MAX_QUANTITY => {
            errors.push(FieldError::new(
                "quantity",
                format!("must be a non-zero delta between -{MAX_QUANTITY} and {MAX_QUANTITY}"),
            ));
        }
        _ => {}
    }
    let reason = reason.trim();
    let chars = reason.chars().count();
    if chars == 0 || chars > MAX_REASON_CHARS {
        errors.push(FieldError::new("reason", format!("must be 1 to {MAX_REASON_CHARS} characters")));
    } else if reason.chars().any(char::is_control) {
        errors.push(FieldError::new("reason", "must not contain control characters"));
    }
    if errors.is_empty() {
        Ok(StockUpdate { product_id: ProductId(product_id), mode, quantity, reason: reason.to_owned(), actor })
    } else {
        Err(errors)
    }
}

/// Whether `available` is at or below the threshold: the low-stock condition.
pub fn is_low(available: i64, threshold: i64) -> bool {
    available <= threshold
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pid(n: u128) -> ProductId {
        ProductId(Uuid::from_u128(n))
    }

    #[test]
    fn lines_are_merged_and_sorted() {
        let lines = [
            Line { product_id: pid(2), quantity: 1 },
            Line { product_id: pid(1), quantity: 2 },
            Line { product_id: pid(2), quantity: 3 },
        ];
        let merged = normalise_lines(&lines).unwrap();
        assert_eq!(merged, vec![Line { product_id: pid(1), quantity: 2 }, Line { product_id: pid(2), quantity: 4 }]);
    }

    #[test]
    fn bad_lines_are_refused() {
        assert!(normalise_lines(&[]).is_err());
        assert!(normalise_lines(&[Line { product_id: pid(1), quantity: 0 }]).is_err());
        assert!(normalise_lines(&[Line { product_id: pid(1), quantity: -3 }]).is_err());
        assert!(normalise_lines(&[Line { product_id: pid(1), quantity: MAX_QUANTITY + 1 }]).is_err());
    }

    #[test]
    fn update_validation() {
        let id = Uuid::nil();
        assert!(validate_update(id, Mode::Adjust, -5, "damaged", None).is_ok());
        assert!(validate_update(id, Mode::Set, 0, "count", None).is_ok());
        assert_eq!(validate_update(id, Mode::Adjust, 0, "x", None).unwrap_err()[0].field, "quantity");
        assert_eq!(validate_update(id, Mode::Set, -1, "x", None).unwrap_err()[0].field, "quantity");
        assert_eq!(validate_update(id, Mode::Set, 1, "   ", None).unwrap_err()[0].field, "reason");
        assert_eq!(validate_update(id, Mode::Set, 1, &"r".repeat(201), None).unwrap_err()[0].field, "reason");
        assert!(validate_update(id, Mode::Set, 1, &"é".repeat(200), None).is_ok());
        assert_eq!(validate_update(id, Mode::Adjust, 0, "", None).unwrap_err().len(), 2);
    }

    #[test]
    fn low_means_at_or_below() {
        assert!(is_low(5, 5));
        assert!(is_low(0, 0));
        assert!(!is_low(6, 5));
    }
}
