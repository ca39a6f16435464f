//! The read models: `facts` writes what events say (idempotent upserts), `reports` aggregates.
//!
//! Plain SQL through `diesel::sql_query` with bound parameters: the writes are upserts whose
//! conflict rules (`LEAST`, "newer event wins") are the point, and the reads are aggregates.

pub mod facts;
pub mod reports;
