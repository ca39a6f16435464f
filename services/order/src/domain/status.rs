//! Order statuses and which transitions the saga, the customer and the admin may make.
//!
//! ```text
//! PENDING ──inventory.reserved + paid──► CONFIRMED ──ship──► SHIPPED
//!    │  └─inventory.reserved, payment pending─► AWAITING_PAYMENT ──webhook succeeded──► CONFIRMED
//!    ├─rejected / payment failed / timeout──► FAILED  ◄──webhook failed / timeout── AWAITING_PAYMENT
//!    └─cancel (also from AWAITING_PAYMENT and CONFIRMED)──► CANCELLED
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Pending,
    AwaitingPayment,
    Confirmed,
    Failed,
    Cancelled,
    Shipped,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Pending,
        Status::AwaitingPayment,
        Status::Confirmed,
        Status::Failed,
        Status::Cancelled,
        Status::Shipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::AwaitingPayment => "AWAITING_PAYMENT",
            Status::Confirmed => "CONFIRMED",
            Status::Failed => "FAILED",
            Status::Cancelled => "CANCELLED",
            Status::Shipped => "SHIPPED",
        }
    }

    /// Still waiting for stock or money: payment may confirm or fail it, the timeout fails it.
    pub fn is_open(self) -> bool {
        matches!(self, Status::Pending | Status::AwaitingPayment)
    }

    /// A customer or admin may cancel until the order ships.
    pub fn can_cancel(self) -> bool {
        matches!(self, Status::Pending | Status::AwaitingPayment | Status::Confirmed)
    }

    pub fn can_ship(self) -> bool {
        self == Status::Confirmed
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(value))
            .ok_or_else(|| format!("unknown order status {value:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for status in Status::ALL {
            assert_eq!(status.as_str().parse::<Status>().unwrap(), status);
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        assert_eq!("awaiting_payment".parse::<Status>().unwrap(), Status::AwaitingPayment);
        assert!("PAID".parse::<Status>().is_err());
    }

    #[test]
    fn cancel_and_ship_rules() {
        assert!(Status::Confirmed.can_cancel());
        assert!(!Status::Shipped.can_cancel());
        assert!(!Status::Failed.can_cancel());
        assert!(Status::Confirmed.can_ship());
        assert!(!Status::Pending.can_ship());
        assert!(Status::AwaitingPayment.is_open());
        assert!(!Status::Confirmed.is_open());
    }
}
