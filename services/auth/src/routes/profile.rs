//! `GET /auth/profile` and `PUT /auth/profile` (name, password) for the caller.

use crate::db::{refresh_tokens, users};
use crate::domain::validation::validate_profile_change;
use crate::domain::{SessionId, User, UserId};
use crate::state::AppState;
use actix_web::web;
use chrono::Utc;
use diesel_async::AsyncConnection;
use serde::Deserialize;
use shop_common::auth::Identity;
use shop_common::error::FieldError;
use shop_common::http::Json;
use shop_common::{ApiError, ApiResult};
use uuid::Uuid;

fn account_gone() -> ApiError {
    ApiError::not_found("the account no longer exists")
}

#[tracing::instrument(skip_all, fields(user.id = %identity.user_id))]
pub async fn get_profile(state: web::Data<AppState>, identity: Identity) -> ApiResult<web::Json<User>> {
    let row = users::find(&mut *state.db.get().await?, UserId(identity.user_id)).await?.ok_or_else(account_gone)?;
    Ok(web::Json(row.to_user()))
}

/// Not `Debug`: it holds passwords.
#[derive(Deserialize)]
pub struct ProfileUpdate {
    pub name: Option<String>,
    pub current_password: Option<String>,
    pub new_password: Option<String>,
}

/// Changes the name and/or the password. A password change needs the current password (checked
/// against the account's login rate limit) and ends every other session of the user; the caller's
/// own session (`sid`) stays.
#[tracing::instrument(skip_all, fields(user.id = %identity.user_id))]
pub async fn update_profile(
    state: web::Data<AppState>,
    identity: Identity,
    Json(body): Json<ProfileUpdate>,
) -> ApiResult<web::Json<User>> {
    let change =
        validate_profile_change(body.name.as_deref(), body.current_password.as_deref(), body.new_password.as_deref())
            .map_err(ApiError::validation)?;
    let user = UserId(identity.user_id);
    let current = users::find(&mut *state.db.get().await?, user).await?.ok_or_else(account_gone)?;

    let new_hash = match change.password {
        None => None,
        Some(password) => {
            let attempt = state.limiter.password_check(&current.email).await?;
            if !state.passwords.verify(password.current, Some(current.password_hash.clone())).await? {
                return Err(ApiError::validation(vec![FieldError::new("current_password", "is incorrect")]));
            }
            state.limiter.release(&attempt).await;
            Some(state.passwords.hash(password.new).await?)
        }
    };
    if change.name.is_none() && new_hash.is_none() {
        return Ok(web::Json(current.to_user()));
    }

    let keep = identity.session_id.as_deref().and_then(|sid| Uuid::parse_str(sid).ok()).map(SessionId);
    let now = Utc::now();
    let mut conn = state.db.get().await?;
    let (updated, ended) = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let mut updated = None;
            if let Some(name) = &change.name {
                updated = Some(users::update_name(conn, user, name).await?);
            }
            let mut ended = Vec::new();
            if let Some(hash) = &new_hash {
                updated = Some(users::update_password_hash(conn, user, hash).await?);
                ended = refresh_tokens::revoke_other_families(conn, user, keep, now).await?;
            }
            Ok((updated, ended))
        })
        .await?;
    if new_hash.is_some() {
        tracing::info!(sessions.ended = ended.len(), "password changed");
        // The families are revoked in the database, which already stops their refreshes.
        let _ = state.sessions.remove(&ended).await;
    }
    Ok(web::Json(updated.unwrap_or(current).to_user()))
}
