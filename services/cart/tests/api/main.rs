//! Integration tests of the cart service against the real PostgreSQL and broker: the service layer
//! called directly on a pool (`service.rs`: concurrency, merge, checkout), the HTTP API
//! (`http.rs`) and the consumers and published events (`events.rs`) through the service started
//! in-process on port 0 with its own database and topic prefix.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod event_contracts;
mod events;
mod helpers;
mod http;
mod service;
