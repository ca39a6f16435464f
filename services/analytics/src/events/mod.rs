//! Events: analytics publishes nothing; `consume` turns every topic's events into facts.

pub mod consume;
pub mod decode;
pub mod payloads;
