//! What the catalog publishes (`product_events`, through the outbox) and consumes
//! (`inventory_events`, for the in-stock flag).

pub mod inventory;
pub mod products;
