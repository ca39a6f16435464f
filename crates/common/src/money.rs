//! Money as integer minor units plus an ISO 4217 code (docs/events.md): never floats.

use serde::{Deserialize, Serialize};

/// An amount of one currency in its minor units (cents for EUR).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: String,
}

impl Money {
    pub fn new(amount_minor: i64, currency: impl Into<String>) -> Self {
        Self { amount_minor, currency: currency.into() }
    }

    pub fn zero(currency: impl Into<String>) -> Self {
        Self::new(0, currency)
    }

    /// `self + other`, or `None` on a currency mismatch or an overflow.
    pub fn checked_add(&self, other: &Money) -> Option<Money> {
        if self.currency != other.currency {
            return None;
        }
        Some(Money::new(self.amount_minor.checked_add(other.amount_minor)?, self.currency.clone()))
    }

    /// `self × quantity`, or `None` on an overflow.
    pub fn checked_mul(&self, quantity: i64) -> Option<Money> {
        Some(Money::new(self.amount_minor.checked_mul(quantity)?, self.currency.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_only_the_same_currency() {
        let eur = Money::new(1050, "EUR");
        assert_eq!(eur.checked_add(&Money::new(50, "EUR")), Some(Money::new(1100, "EUR")));
        assert_eq!(eur.checked_add(&Money::new(50, "USD")), None);
    }

    #[test]
    fn overflow_is_none_not_a_wrap() {
        assert_eq!(Money::new(i64::MAX, "EUR").checked_add(&Money::new(1, "EUR")), None);
        assert_eq!(Money::new(i64::MAX / 2 + 1, "EUR").checked_mul(2), None);
        assert_eq!(Money::new(250, "EUR").checked_mul(3), Some(Money::new(750, "EUR")));
    }

    #[test]
    fn wire_shape_is_minor_units_and_code() {
        let json = serde_json::to_value(Money::new(1999, "EUR")).unwrap();
        assert_eq!(json, serde_json::json!({"amount_minor": 1999, "currency": "EUR"}));
    }
}
