//! The web UI's static files (`FRONTEND_DIR`, the output of `npm run build` in `frontend/`), served
//! under `/app/` for `make run`, where no nginx stands in front of the gateway (ARCHITECTURE.md §1).
//!
//! The SPA is built with the base `/app/`, so:
//! - `/app/assets/*` are Vite's content-hashed files: served with a year-long `immutable` cache; a
//!   missing one is a 404 (answering `index.html` for a lost JS chunk would only confuse the browser);
//! - any other `/app/*` path is a file of the build's root (`favicon.svg`) when one exists, and
//!   otherwise `index.html`, revalidated on every load, so a client route (`/app/products/42`)
//!   survives a reload and a new build is picked up at once;
//! - `/app` redirects to `/app/`.
//!
//! These routes sit outside the auth guard (the files are public) and are registered only when
//! `FRONTEND_DIR` is set; without it `/app/*` is a path like any other the route table does not
//! name (a problem+json 404). The API stays at the root paths, so the SPA calls it same-origin.
//!
//! Files are read whole with `tokio::fs`: a built SPA is a handful of files of a few hundred KiB,
//! not worth a dependency (`actix-files`) or range requests.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Compress;
use actix_web::{HttpRequest, HttpResponse, web};
use std::path::{Path, PathBuf};

/// The path prefix the SPA is built for (Vite `base`, the router's history base).
pub const PREFIX: &str = "/app";

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// Where the built SPA is; shared by the workers.
#[derive(Debug, Clone)]
pub struct Frontend {
    root: PathBuf,
}

impl Frontend {
    /// `dir` must be a directory holding `index.html` (checked once, at start).
    pub fn new(dir: &Path) -> anyhow::Result<Self> {
        let root = dir.canonicalize().map_err(|err| anyhow::anyhow!("FRONTEND_DIR {}: {err}", dir.display()))?;
        if !root.join("index.html").is_file() {
            anyhow::bail!("FRONTEND_DIR {}: no index.html in it (run `make frontend` first)", root.display());
        }
        Ok(Self { root })
    }

    /// The file a relative request path names, if it is a regular file inside the root. Hidden
    /// names, `..`, backslashes and NULs are refused before touching the file system; the
    /// canonical path must stay under the root, so a symlink cannot lead out of it either.
    async fn file(&self, relative: &str) -> Option<PathBuf> {
        let mut path = self.root.clone();
        for segment in relative.split('/').filter(|s| !s.is_empty()) {
            if segment.starts_with('.') || segment.contains(['\\', '\0']) {
                return None;
            }
            path.push(segment);
        }
        let canonical = tokio::fs::canonicalize(&path).await.ok()?;
        let metadata = tokio::fs::metadata(&canonical).await.ok()?;
        (canonical.starts_with(&self.root) && metadata.is_file()).then_some(canonical)
    }
}

/// Registers `/app` and `/app/{tail}` (GET and HEAD). Call before the gateway's catch-all scope.
pub fn configure(cfg: &mut web::ServiceConfig, frontend: Frontend) {
    cfg.service(
        web::scope(PREFIX)
            .app_data(web::Data::new(frontend))
            .wrap(Compress::default())
            .service(web::resource("").route(web::get().to(redirect)).route(web::head().to(redirect)))
            .service(web::resource("/{tail:.*}").route(web::get().to(serve)).route(web::head().to(serve))),
    );
}

/// `GET /app` → `/app/` (the query string kept).
async fn redirect(req: HttpRequest) -> HttpResponse {
    let location = match req.query_string() {
        "" => format!("{PREFIX}/"),
        query => format!("{PREFIX}/?{query}"),
    };
    HttpResponse::build(StatusCode::PERMANENT_REDIRECT).insert_header((header::LOCATION, location)).finish()
}

async fn serve(req: HttpRequest, frontend: web::Data<Frontend>, tail: web::Path<String>) -> HttpResponse {
    let tail = tail.into_inner();
    let is_asset = tail.starts_with("assets/");
    let (path, cache) = match frontend.file(&tail).await {
        Some(path) if is_asset => (path, IMMUTABLE),
        Some(path) => (path, REVALIDATE),
        None if is_asset => return not_found(),
        None => (frontend.root.join("index.html"), REVALIDATE),
    };
    let body = match tokio::fs::read(&path).await {
        Ok(body) => body,
        Err(err) => {
            tracing::warn!(error = %err, file.path = %path.display(), "reading a frontend file failed");
            return not_found();
        }
    };
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CONTENT_TYPE, content_type(&path)))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static(cache)))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")));
    if req.method() == Method::HEAD {
        response.insert_header((header::CONTENT_LENGTH, body.len()));
        return response.finish();
    }
    response.body(body)
}

fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static(REVALIDATE)))
        .content_type("text/plain; charset=utf-8")
        .body("not found\n")
}

/// The types a Vite build produces; anything else is served as bytes.
fn content_type(path: &Path) -> HeaderValue {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    HeaderValue::from_static(match extension.as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type(Path::new("a/index.html")), "text/html; charset=utf-8");
        assert_eq!(content_type(Path::new("assets/index-AB12.JS")), "text/javascript; charset=utf-8");
        assert_eq!(content_type(Path::new("x.woff2")), "font/woff2");
        assert_eq!(content_type(Path::new("LICENSE")), "application/octet-stream");
    }

    #[tokio::test]
    async fn paths_cannot_leave_the_root() {
        let dir = std::env::temp_dir().join(format!("shop-frontend-unit-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("assets")).unwrap();
        std::fs::write(dir.join("index.html"), "<html></html>").unwrap();
        std::fs::write(dir.join(".env"), "secret").unwrap();
        let frontend = Frontend::new(&dir).unwrap();
        assert!(frontend.file("index.html").await.is_some());
        for bad in ["../index.html", "assets/../../etc/passwd", ".env", "assets", "a\\b", "missing.js"] {
            assert!(frontend.file(bad).await.is_none(), "{bad}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_without_index_html_is_refused() {
        let err = Frontend::new(Path::new("/nonexistent/shop-frontend")).unwrap_err();
        assert!(err.to_string().contains("FRONTEND_DIR"), "{err}");
    }
}
