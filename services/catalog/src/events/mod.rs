//! What the catalog publishes (`product_events`, through the outbox) and consumes
//! (`inventory_events`, for the in-stock flag).

pub mod inventory;
pub mod products;

/// The catalog's published and consumed events against the checked-in schemas (docs/events.md
/// "Schemas and compatibility"). Unit tests rather than API tests: they need no infrastructure.
#[cfg(test)]
mod event_contracts {
    #[test]
    fn published_events_match_their_recorded_schemas() {
        shop_testkit::contracts::assert_published("shop-catalog", &super::products::published_contracts());
    }

    #[test]
    fn consumed_events_are_published_and_readable() {
        shop_testkit::contracts::assert_consumed(&super::inventory::consumed_contracts());
    }
}
