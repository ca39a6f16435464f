//! Test support for shop's integration and system tests.
//!
//! Tests run against the real PostgreSQL, Redis and broker (`scripts/infra up`), isolated from each
//! other so nextest can run them in parallel: every test gets its own database cloned from a
//! template migrated once per migration set ([`TestDb`]), and its own topic/group prefix
//! ([`unique_prefix`]). Services start in-process on port 0 with the same code `main` runs.

// Test support panics on purpose: a failed helper is a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod contracts;
pub mod db;
pub mod jwt;
pub mod kafka;
pub mod services;
pub mod wait;

pub use db::TestDb;
pub use kafka::unique_prefix;
pub use services::{TestService, service_env};
pub use wait::{wait_for, wait_until};
