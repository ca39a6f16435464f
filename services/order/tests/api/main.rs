//! Integration tests of the order service against the real PostgreSQL and broker: the service
//! started in-process on port 0 with its own database and topic prefix, a stub cart service, and
//! the saga driven by publishing `inventory_events` the way inventory does.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod checkout;
mod event_contracts;
mod helpers;
mod manage;
mod saga;
mod webhook;
