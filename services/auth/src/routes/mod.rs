//! The HTTP endpoints of docs/auth.md, one file per resource.

pub mod jwks;
pub mod login;
pub mod profile;
pub mod register;
pub mod tokens;
pub mod users;

use crate::state::AppState;
use crate::tokens::TokenResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, PRAGMA};
use actix_web::{HttpResponse, web};

pub fn configure(cfg: &mut web::ServiceConfig, state: web::Data<AppState>) {
    cfg.app_data(state)
        .route("/auth/register", web::post().to(register::register_user))
        .route("/auth/login", web::post().to(login::login_user))
        .route("/auth/refresh", web::post().to(tokens::refresh_session))
        .route("/auth/logout", web::get().to(tokens::logout_session))
        .route("/auth/logout", web::post().to(tokens::logout_session))
        .route("/auth/profile", web::get().to(profile::get_profile))
        .route("/auth/profile", web::put().to(profile::update_profile))
        .route("/auth/users", web::get().to(users::list_users))
        .route("/auth/users/{id}/role", web::put().to(users::update_user_role))
        .route("/.well-known/jwks.json", web::get().to(jwks::get_jwks));
}

/// Token responses must not be cached anywhere (RFC 6749 §5.1).
fn token_reply(status: StatusCode, body: &TokenResponse) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((PRAGMA, "no-cache"))
        .json(body)
}
