//! A fake upstream service: a real actix server on 127.0.0.1 that echoes what it received, serves
//! `/health` and `/metrics` like a shop service, sleeps on `.../slow`, and counts the requests
//! and distinct client connections it saw. Given a key set, it also serves it as a JWKS
//! (`GET /.well-known/jwks.json`, like the auth service or Keycloak) and counts the fetches.

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use std::collections::{BTreeMap, HashSet};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the fake records, shared with its handlers.
#[derive(Default)]
struct Seen {
    requests: AtomicUsize,
    /// Client addresses (ip:port); one per TCP connection the gateway opened.
    peers: Mutex<HashSet<SocketAddr>>,
    /// The JWKS document served at [`JWKS_PATH`]; `None` echoes that path like any other.
    jwks: Mutex<Option<serde_json::Value>>,
    jwks_fetches: AtomicUsize,
    /// Answer JWKS fetches with a 500 (an issuer in trouble).
    jwks_failing: AtomicBool,
}

/// Where the fake serves its key set.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

pub struct FakeUpstream {
    pub name: &'static str,
    pub addr: SocketAddr,
    handle: ServerHandle,
    seen: Arc<Seen>,
}

impl FakeUpstream {
    /// Starts on a free port.
    pub fn start(name: &'static str) -> Self {
        Self::serve(name, TcpListener::bind("127.0.0.1:0").unwrap())
    }

    /// Starts on `port`, waiting (with a deadline) for the previous owner to release it.
    pub async fn start_on(name: &'static str, port: u16) -> Self {
        let listener = shop_testkit::wait_for(Duration::from_secs(10), "the port to be free again", || async move {
            TcpListener::bind(("127.0.0.1", port)).ok()
        })
        .await
        .unwrap();
        Self::serve(name, listener)
    }

    fn serve(name: &'static str, listener: TcpListener) -> Self {
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Seen::default());
        let data = web::Data::from(seen.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::Data::new(name))
                .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
                .route("/health", web::get().to(health))
                .route("/metrics", web::get().to(metrics))
                .default_service(web::to(echo))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { name, addr, handle, seen }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Requests that reached the echo handler (not `/health` or `/metrics`).
    pub fn requests(&self) -> usize {
        self.seen.requests.load(Ordering::SeqCst)
    }

    pub fn distinct_connections(&self) -> usize {
        self.seen.peers.lock().unwrap().len()
    }

    /// Serves `document` at [`JWKS_PATH`] from now on (replacing any earlier one: key rotation).
    pub fn serve_jwks(&self, document: serde_json::Value) {
        *self.seen.jwks.lock().unwrap() = Some(document);
    }

    /// Makes JWKS fetches fail with a 500 (`true`) or succeed again.
    pub fn fail_jwks(&self, failing: bool) {
        self.seen.jwks_failing.store(failing, Ordering::SeqCst);
    }

    /// JWKS fetches answered (or failed) so far.
    pub fn jwks_fetches(&self) -> usize {
        self.seen.jwks_fetches.load(Ordering::SeqCst)
    }

    /// The URL of the key set.
    pub fn jwks_url(&self) -> String {
        format!("{}{JWKS_PATH}", self.url())
    }

    /// Stops at once, dropping open connections, like a crashed service.
    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// Echoes the request as JSON. `x-echo-status` picks the response status; a path ending in
/// `/slow` answers only after 10 s.
async fn echo(
    req: HttpRequest,
    body: web::Bytes,
    seen: web::Data<Seen>,
    name: web::Data<&'static str>,
) -> HttpResponse {
    if req.path() == JWKS_PATH
        && let Some(document) = seen.jwks.lock().unwrap().clone()
    {
        seen.jwks_fetches.fetch_add(1, Ordering::SeqCst);
        if seen.jwks_failing.load(Ordering::SeqCst) {
            return HttpResponse::InternalServerError().finish();
        }
        return HttpResponse::Ok().insert_header(("cache-control", "public, max-age=300")).json(document);
    }
    seen.requests.fetch_add(1, Ordering::SeqCst);
    if let Some(peer) = req.peer_addr() {
        seen.peers.lock().unwrap().insert(peer);
    }
    if req.path().ends_with("/slow") {
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    let headers: BTreeMap<String, String> = req
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap_or("<binary>").to_owned()))
        .collect();
    let status = req
        .headers()
        .get("x-echo-status")
        .and_then(|v| v.to_str().ok()?.parse::<u16>().ok())
        .and_then(|code| actix_web::http::StatusCode::from_u16(code).ok())
        .unwrap_or(actix_web::http::StatusCode::OK);
    HttpResponse::build(status).insert_header(("x-upstream", *name.get_ref())).json(serde_json::json!({
        "service": *name.get_ref(),
        "method": req.method().as_str(),
        "path": req.path(),
        "query": req.query_string(),
        "body": String::from_utf8_lossy(&body),
        "body_len": body.len(),
        "headers": headers,
    }))
}

async fn health(name: web::Data<&'static str>) -> HttpResponse {
    let up = serde_json::json!({"status": "up", "latency_ms": 0.4});
    HttpResponse::Ok().json(serde_json::json!({
        "status": "up",
        "service": *name.get_ref(),
        "checks": {"postgres": up, "redis": up, "broker": up},
    }))
}

/// The shape a shop service exposes: shared family names, its own `service` label.
async fn metrics(name: web::Data<&'static str>) -> HttpResponse {
    let name = *name.get_ref();
    let text = format!(
        "# HELP http_requests_total Requests handled.\n\
         # TYPE http_requests_total counter\n\
         http_requests_total{{service=\"{name}\",method=\"GET\",route=\"/items/{{id}}\",status=\"200\"}} 3\n\
         # TYPE http_request_duration_seconds histogram\n\
         http_request_duration_seconds_bucket{{service=\"{name}\",le=\"0.1\"}} 3\n\
         http_request_duration_seconds_bucket{{service=\"{name}\",le=\"+Inf\"}} 3\n\
         http_request_duration_seconds_sum{{service=\"{name}\"}} 0.03\n\
         http_request_duration_seconds_count{{service=\"{name}\"}} 3\n\
         # TYPE fake_{name}_items gauge\n\
         fake_{name}_items 7\n"
    );
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(text)
}
