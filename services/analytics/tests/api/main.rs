//! Integration tests of the analytics service against the real PostgreSQL and broker.
//!
//! One scripted event history (`history.rs`) with hand-computed figures (`figures.rs`) is fed two
//! ways: straight into the consumer's handler with the HTTP routes served on port 0 (`direct.rs`,
//! no broker needed: exact figures, arrival-order independence, auth, validation), and through the
//! broker into the whole service started in-process (`broker.rs`: redeliveries, the DLQ, replay
//! into a fresh database under a new consumer group).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod broker;
mod direct;
mod event_contracts;
mod figures;
mod helpers;
mod history;
