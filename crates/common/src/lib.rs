//! Shared plumbing for every shop binary.
//!
//! Each service crate builds its app from these pieces, so the cross-cutting rules (error format,
//! metrics names, event delivery guarantees, shutdown order) are written once. See
//! `shared/ARCHITECTURE.md` for the design these modules implement.

pub mod auth;
pub mod db;
pub mod error;
pub mod events;
pub mod http;
pub mod inbox;
pub mod kafka;
pub mod money;
pub mod outbox;
pub mod pool_gauges;
pub mod redis;
pub mod schema;
pub mod service;
pub mod settings;
pub mod shutdown;
pub mod telemetry;

pub use error::{ApiError, ApiResult};
