//! Integration tests of the catalog service: started in-process on port 0 with its own database,
//! topic prefix and Redis key prefix, against the real PostgreSQL, Redis and broker. The identity
//! the gateway would forward is set with `Identity::to_headers()`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod cache;
mod categories;
mod demo;
mod events;
mod helpers;
mod listing;
mod products;
mod search;
mod search_bounded;
