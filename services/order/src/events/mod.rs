//! Events: what the order service publishes (`publish`) and what it consumes (`consume`).

pub mod consume;
pub mod publish;
