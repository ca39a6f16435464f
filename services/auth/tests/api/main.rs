//! Integration tests of the auth service: started in-process on port 0 with its own database,
//! topic prefix and client IP, against the real PostgreSQL, Redis and broker.
//! The identity the gateway would forward is set with `Identity::to_headers()`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod admin;
mod event_contracts;
mod helpers;
mod keys;
mod login;
mod observability;
mod profile;
mod register;
mod sessions;
