//! Integration tests of the inventory service against the real PostgreSQL and broker: the engine
//! called directly on a pool (`engine.rs`), the HTTP API and the consumers through the service
//! started in-process on port 0 with its own database and topic prefix.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod engine;
mod event_contracts;
mod events;
mod helpers;
mod http;
