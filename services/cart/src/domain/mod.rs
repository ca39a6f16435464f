//! Cart rules without I/O: ids, limits, quantity validation, guest tokens and the priced view.

pub mod token;
pub mod view;

use serde::{Deserialize, Serialize};
use shop_common::error::FieldError;
use std::fmt;
use uuid::Uuid;

/// The most units one line may hold; a merge caps sums here.
pub const MAX_LINE_QUANTITY: i64 = 99;
/// The most lines one cart may hold.
pub const MAX_LINES: i64 = 100;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[derive(schemars::JsonSchema)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A cart (user's or guest's).
    CartId
);
id_type!(
    /// One line of a cart; what `PUT/DELETE /cart/items/{id}` name.
    LineId
);
id_type!(
    /// A catalog product.
    ProductId
);
id_type!(
    /// An authenticated user (the gateway's `x-auth-user-id`).
    UserId
);
id_type!(
    /// An order of the order service.
    OrderId
);

/// Checks a requested line quantity: 1 to [`MAX_LINE_QUANTITY`].
pub fn validate_quantity(quantity: i64) -> Result<i64, FieldError> {
    if (1..=MAX_LINE_QUANTITY).contains(&quantity) {
        Ok(quantity)
    } else {
        Err(FieldError::new("quantity", format!("must be between 1 and {MAX_LINE_QUANTITY}")))
    }
}

/// The quantity of a line after adding `added` to `current`, capped at [`MAX_LINE_QUANTITY`].
pub fn capped_sum(current: i64, added: i64) -> i64 {
    current.saturating_add(added).min(MAX_LINE_QUANTITY)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn quantities_are_one_to_ninety_nine() {
        assert_eq!(validate_quantity(1).unwrap(), 1);
        assert_eq!(validate_quantity(99).unwrap(), 99);
        for bad in [0, -1, 100, i64::MAX, i64::MIN] {
            assert_eq!(validate_quantity(bad).unwrap_err().field, "quantity");
        }
    }

    #[test]
    fn sums_are_capped() {
        assert_eq!(capped_sum(3, 4), 7);
        assert_eq!(capped_sum(60, 60), 99);
        assert_eq!(capped_sum(99, i64::MAX), 99);
    }
}
