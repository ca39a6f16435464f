//! The events auth publishes match their checked-in schemas (docs/events.md "Schemas and
//! compatibility"); `UPDATE_EVENT_SCHEMAS=1` records new and compatible ones.

#[test]
fn published_events_match_their_recorded_schemas() {
    shop_testkit::contracts::assert_published("shop-auth", &shop_auth::events::published_contracts());
}
