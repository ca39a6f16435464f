//! `POST /auth/login`: email + password for a new session.

use super::token_reply;
use crate::client::ClientInfo;
use crate::db::users;
use crate::domain::validation::normalize_email;
use crate::events::{self, UserLoggedIn};
use crate::sessions;
use crate::state::AppState;
use crate::tokens;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use diesel_async::AsyncConnection;
use serde::Deserialize;
use shop_common::error::FieldError;
use shop_common::http::Json;
use shop_common::{ApiError, ApiResult};

/// Not `Debug`: it holds a password.
#[derive(Deserialize)]
pub struct LoginRequest {
    pub email: Option<String>,
    pub password: Option<String>,
}

/// One answer for an unknown email and a wrong password, so neither reveals which it was.
pub fn invalid_credentials() -> ApiError {
    ApiError::unauthorized("invalid email or password")
}

#[tracing::instrument(skip_all, fields(client.ip = %client.ip))]
pub async fn login_user(
    state: web::Data<AppState>,
    client: ClientInfo,
    Json(body): Json<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let (email, password) = match (body.email, body.password) {
        (Some(email), Some(password)) => (normalize_email(&email), password),
        (email, password) => {
            let missing = [("email", email.is_none()), ("password", password.is_none())];
            let errors = missing.iter().filter(|(_, absent)| *absent).map(|(f, _)| FieldError::new(*f, "is required"));
            return Err(ApiError::validation(errors.collect()));
        }
    };
    // Malformed emails are not rejected with a 400 here: they simply match no account, and the
    // answer stays the same 401 as for any other unknown email.
    let attempt = state.limiter.login(&email, &client.ip).await?;
    let row = users::find_by_email(&mut *state.db.get().await?, &email).await?;
    let matches = state.passwords.verify(password, row.as_ref().map(|r| r.password_hash.clone())).await?;
    let Some(row) = row.filter(|_| matches) else {
        tracing::info!("login failed");
        return Err(invalid_credentials());
    };
    state.limiter.release(&attempt).await;

    let now = Utc::now();
    let mut conn = state.db.get().await?;
    let (session, refresh) = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let started = sessions::start(conn, &state.sessions, row.id(), &client, now).await?;
            events::user_logged_in(conn, &UserLoggedIn { user_id: row.id(), logged_in_at: now }).await?;
            Ok(started)
        })
        .await?;
    state.relay.wake();
    tracing::info!(user.id = %row.id(), session.id = %session, "user logged in");
    let body = tokens::token_response(&state.keys, &state.tokens, row.to_user(), session, &refresh, now)?;
    Ok(token_reply(StatusCode::OK, &body))
}
