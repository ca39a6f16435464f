//! The auth domain without I/O: what a valid account looks like, ids and the user as clients see it.

pub mod user;
pub mod validation;

pub use user::{SessionId, User, UserId};
