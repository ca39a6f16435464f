//! Events: what the cart publishes (`publish`) and what it consumes (`consume`).

pub mod consume;
pub mod publish;
