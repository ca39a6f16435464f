//! The events the cart publishes match their checked-in schemas, and what it consumes is
//! published and readable (docs/events.md "Schemas and compatibility").

use shop_cart::events::{consume, publish};
use shop_testkit::contracts;

#[test]
fn published_events_match_their_recorded_schemas() {
    contracts::assert_published("shop-cart", &publish::published_contracts());
}

#[test]
fn consumed_events_are_published_and_readable() {
    contracts::assert_consumed(&consume::consumed_contracts());
}
