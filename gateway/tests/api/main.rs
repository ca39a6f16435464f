//! Gateway integration tests: the real gateway on 127.0.0.1:0 in front of small in-process fake
//! services, driven over real HTTP. One test binary (modules below) keeps link time down.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod support;

mod auth_keys;
mod auth_policy;
mod auth_tokens;
mod denylist_replica;
mod failures;
mod health;
mod limits;
mod metrics;
mod pool;
mod rate_limits;
mod routing;
