//! HTTP plumbing shared by the services and the gateway.

pub mod extract;
pub mod json;
pub mod observe;
pub mod pagination;
pub mod probes;
pub mod request_id;

pub use extract::configure_extractors;
pub use json::Json;
pub use observe::observe;
pub use pagination::{Page, PageParams};
pub use probes::{Probe, ProbeFuture, ScrapeHook, ServiceInfo};
