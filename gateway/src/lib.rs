//! The shop API gateway: the one public port (5001). It verifies access tokens and applies each
//! route's access policy, routes every API path to its service through a pooled, streaming
//! reverse proxy, and aggregates the platform's `/health` and `/metrics`. Rate limits come later.
//!
//! `lib.rs` builds the app; `main.rs` only reads settings and runs it, so tests start exactly
//! what ships. Module map:
//! - [`settings`], [`upstream`]: configuration and the services behind the gateway;
//! - [`routes`]: the route table (method + public path → service, access);
//! - [`auth`]: bearer token verification (JWKS, HS256, OIDC), deny-list, access checks;
//! - [`proxy`]: forwarding, header rules, body streaming and limits, upstream error mapping;
//! - [`health`], [`scrape`] + [`exposition`], [`info`]: the gateway's own endpoints;
//! - [`frontend`]: the web UI's files under `/app/` when `FRONTEND_DIR` is set.

pub mod auth;
pub mod exposition;
pub mod frontend;
pub mod health;
pub mod info;
pub mod proxy;
pub mod ratelimit;
pub mod routes;
pub mod scrape;
pub mod settings;
pub mod state;
pub mod upstream;

pub use settings::Settings;

use actix_web::middleware::from_fn;
use actix_web::web;
use shop_common::http::probes::RedisProbe;
use shop_common::service::{HttpApp, RunningService};
use state::GatewayState;
use std::sync::Arc;

pub const NAME: &str = "gateway";

/// Builds the shared state (one HTTP client for all workers) and starts serving.
pub async fn start(settings: Settings) -> anyhow::Result<RunningService> {
    let state = web::Data::new(GatewayState::new(&settings)?);
    let frontend = settings.frontend_dir.as_deref().map(frontend::Frontend::new).transpose()?;
    scrape::describe();
    auth::describe();
    ratelimit::describe();

    let routes_state = state.clone();
    let routes = Arc::new(move |cfg: &mut web::ServiceConfig| configure(cfg, routes_state.clone(), frontend.clone()));
    let mut app = HttpApp::new(NAME, env!("CARGO_PKG_VERSION"), routes);
    // The standard probe routes would report only the gateway; it serves platform-wide ones.
    app.probe_routes = false;
    app.probes.push(Arc::new(RedisProbe(state.redis.clone())));
    app.background.extend(state.auth.denylist().sync_task());
    let (limiter, redis_client) = (state.rate_limiter.clone(), state.redis_client.clone());
    app.background.push(Box::new(move |shutdown| Box::pin(async move { limiter.sync(redis_client, shutdown).await })));
    app.workers = settings.http_workers;
    app.shutdown_grace = settings.shutdown_grace;
    app.bind_and_start(&settings.host, settings.port)
}

/// The web UI's public files first (when configured), then the gateway's own endpoints, then
/// everything else to the proxy (which answers a problem+json 404 for paths outside the route
/// table). All but the files behind the auth guard: one scope, so no route can be added beside it
/// by mistake.
fn configure(cfg: &mut web::ServiceConfig, state: web::Data<GatewayState>, frontend: Option<frontend::Frontend>) {
    if let Some(frontend) = frontend {
        frontend::configure(cfg, frontend);
    }
    // Called once per worker, on the worker's thread: each gets its own upstream pool.
    let worker_client = web::Data::new(state.worker_client());
    cfg.app_data(state).app_data(worker_client).service(
        web::scope("")
            .wrap(from_fn(auth::guard::admit))
            .route("/health", web::get().to(health::health))
            .route("/metrics", web::get().to(scrape::metrics))
            .route("/", web::get().to(info::root))
            .service(web::resource("/{path:.*}").to(proxy::forward)),
    );
}
