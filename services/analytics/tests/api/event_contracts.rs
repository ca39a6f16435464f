//! What analytics decodes is published and readable with its payload types (docs/events.md
//! "Schemas and compatibility"). Analytics publishes nothing.

#[test]
fn consumed_events_are_published_and_readable() {
    shop_testkit::contracts::assert_consumed(&shop_analytics::events::decode::consumed_contracts());
}
