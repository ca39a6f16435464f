//! The web UI's files under `/app/` (`FRONTEND_DIR`): hashed assets with a long cache, the index
//! for every client route, `/app` → `/app/`, nothing outside the directory, and no files at all
//! when the variable is unset. The real gateway on 127.0.0.1:0; the services behind it point at a
//! dead port (serving files needs none of them).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use shop_common::service::RunningService;
use shop_common::settings::Env;
use shop_gateway::upstream::Service;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

const INDEX: &str = "<!doctype html><title>shop</title><script type=module src=/app/assets/index-AB12.js></script>";
const SCRIPT: &str = "console.log('shop')";

/// A throw-away build: `index.html`, one hashed asset, one root file, and a secret beside the root.
struct BuildDir(PathBuf);

impl BuildDir {
    fn new() -> Self {
        let base = std::env::temp_dir().join(format!("shop-gw-frontend-{}", uuid::Uuid::new_v4().simple()));
        let root = base.join("dist");
        std::fs::create_dir_all(root.join("assets")).unwrap();
        std::fs::write(root.join("index.html"), INDEX).unwrap();
        std::fs::write(root.join("assets/index-AB12.js"), SCRIPT).unwrap();
        std::fs::write(root.join("favicon.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>").unwrap();
        std::fs::write(base.join("secret.txt"), "not for the web").unwrap();
        Self(base)
    }

    fn root(&self) -> PathBuf {
        self.0.join("dist")
    }
}

impl Drop for BuildDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start_gateway(frontend_dir: Option<&Path>) -> RunningService {
    let dead = {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        format!("http://127.0.0.1:{port}")
    };
    let mut pairs: Vec<(String, String)> = vec![
        ("PORT".into(), "0".into()),
        ("HTTP_WORKERS".into(), "1".into()),
        ("SHUTDOWN_GRACE_MS".into(), "1000".into()),
    ];
    pairs.extend(Service::ALL.into_iter().map(|service| (service.url_variable().to_owned(), dead.clone())));
    for name in ["REDIS_URL", "REDIS_HOST", "REDIS_PORT"] {
        if let Ok(value) = std::env::var(name) {
            pairs.push((name.into(), value));
        }
    }
    if let Some(dir) = frontend_dir {
        pairs.push(("FRONTEND_DIR".into(), dir.display().to_string()));
    }
    let env = Env::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    shop_gateway::start(shop_gateway::Settings::from_env(&env).unwrap()).await.unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn get(gateway: &RunningService, path: &str) -> reqwest::Response {
    client().get(format!("{}{path}", gateway.base_url())).send().await.unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response.headers().get(name).map_or("", |v| v.to_str().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_assets_with_a_long_cache_and_the_index_for_client_routes() {
    let build = BuildDir::new();
    let gateway = start_gateway(Some(&build.root())).await;

    let asset = get(&gateway, "/app/assets/index-AB12.js").await;
    assert_eq!(asset.status(), 200);
    assert_eq!(header(&asset, "content-type"), "text/javascript; charset=utf-8");
    assert_eq!(header(&asset, "cache-control"), "public, max-age=31536000, immutable");
    assert_eq!(asset.text().await.unwrap(), SCRIPT);

    // The index itself and every client route: the same document, revalidated on each load.
    for path in ["/app/", "/app/products/0195-abc", "/app/admin/orders?status=PENDING", "/app/checkout"] {
        let page = get(&gateway, path).await;
        assert_eq!(page.status(), 200, "{path}");
        assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8", "{path}");
        assert_eq!(header(&page, "cache-control"), "no-cache", "{path}");
        assert_eq!(page.text().await.unwrap(), INDEX, "{path}");
    }

    // A file of the build's root is itself, not the index.
    let icon = get(&gateway, "/app/favicon.svg").await;
    assert_eq!((icon.status().as_u16(), header(&icon, "content-type")), (200, "image/svg+xml"));

    // A lost asset is a 404, not HTML the browser would try to run as a script.
    assert_eq!(get(&gateway, "/app/assets/gone-0000.js").await.status(), 404);

    // Compressed when the client asks (reqwest here does not decode, so the bytes are gzip).
    let gzipped =
        client().get(format!("{}/app/", gateway.base_url())).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(header(&gzipped, "content-encoding"), "gzip");

    // `/app` → `/app/`, query kept.
    let redirect = get(&gateway, "/app?next=cart").await;
    assert_eq!(redirect.status(), 308);
    assert_eq!(header(&redirect, "location"), "/app/?next=cart");

    // The API root paths are untouched: `/` is still the gateway's JSON.
    let root = get(&gateway, "/").await;
    assert_eq!(root.status(), 200);
    assert!(header(&root, "content-type").starts_with("application/json"));

    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_outside_the_directory_is_served() {
    let build = BuildDir::new();
    let gateway = start_gateway(Some(&build.root())).await;
    for path in ["/app/../secret.txt", "/app/%2e%2e/secret.txt", "/app/assets/..%2F..%2Fsecret.txt"] {
        let response = get(&gateway, path).await;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        assert!(!body.contains("not for the web"), "{path}: {status} {body}");
    }
    // Writes are not for files.
    let post = client().post(format!("{}/app/", gateway.base_url())).send().await.unwrap();
    assert_eq!(post.status(), 405);
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_frontend_dir_nothing_is_served_under_app() {
    let gateway = start_gateway(None).await;
    for path in ["/app/", "/app/assets/index-AB12.js", "/app"] {
        let response = get(&gateway, path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(header(&response, "content-type"), "application/problem+json", "{path}");
    }
    gateway.stop().await;
}

#[tokio::test]
async fn a_frontend_dir_without_an_index_stops_the_start_naming_the_variable() {
    let empty = std::env::temp_dir().join(format!("shop-gw-empty-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&empty).unwrap();
    let env = Env::from_pairs([("PORT", "0"), ("FRONTEND_DIR", empty.to_str().unwrap())]);
    let err = shop_gateway::start(shop_gateway::Settings::from_env(&env).unwrap()).await.err().unwrap();
    assert!(err.to_string().contains("FRONTEND_DIR"), "{err}");
    std::fs::remove_dir_all(&empty).unwrap();
}
