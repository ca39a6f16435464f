//! `POST /auth/refresh` (rotate the refresh token) and `GET|POST /auth/logout` (end the session).

use super::token_reply;
use crate::client::ClientInfo;
use crate::db::{refresh_tokens, users};
use crate::domain::{SessionId, User, UserId};
use crate::sessions;
use crate::state::AppState;
use crate::tokens::{self, MAX_REFRESH_TOKEN_LEN, RefreshToken, hash_refresh_token};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use diesel_async::AsyncConnection;
use serde::Deserialize;
use shop_common::auth::Identity;
use shop_common::error::FieldError;
use shop_common::http::Json;
use shop_common::http::json::parse;
use shop_common::{ApiError, ApiResult};
use uuid::Uuid;

#[derive(Deserialize)]
pub struct RefreshRequest {
    pub refresh_token: Option<String>,
}

/// Why a refresh token was turned down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rejection {
    /// Unknown, expired, or its session ended (logout, Redis lost it).
    Invalid,
    /// Already used or revoked: someone replayed it. The whole family is revoked.
    Reused,
}

enum Outcome {
    Rotated { user: User, session: SessionId, token: RefreshToken },
    Rejected { reason: Rejection, end: Option<SessionId> },
}

fn invalid_refresh_token() -> ApiError {
    ApiError::unauthorized("the refresh token is invalid or expired")
}

#[tracing::instrument(skip_all, fields(client.ip = %client.ip))]
pub async fn refresh_session(
    state: web::Data<AppState>,
    client: ClientInfo,
    Json(body): Json<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    let Some(presented) = body.refresh_token else {
        return Err(ApiError::validation(vec![FieldError::new("refresh_token", "is required")]));
    };
    if presented.is_empty() || presented.len() > MAX_REFRESH_TOKEN_LEN {
        return Err(invalid_refresh_token());
    }
    let hash = hash_refresh_token(&presented);
    let now = Utc::now();
    let mut conn = state.db.get().await?;
    // The row lock serialises concurrent uses of one token: the second sees it used, as reuse.
    let outcome = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let Some(row) = refresh_tokens::find_by_hash_for_update(conn, &hash).await? else {
                return Ok(Outcome::Rejected { reason: Rejection::Invalid, end: None });
            };
            if row.used_at.is_some() || row.revoked_at.is_some() {
                refresh_tokens::revoke_family(conn, row.session(), now).await?;
                return Ok(Outcome::Rejected { reason: Rejection::Reused, end: Some(row.session()) });
            }
            if row.expires_at <= now {
                return Ok(Outcome::Rejected { reason: Rejection::Invalid, end: None });
            }
            let user = users::find(conn, row.user()).await?;
            let alive = state.sessions.touch(row.session(), &client, now).await?;
            let Some(user) = user.filter(|_| alive) else {
                // The Redis session is gone (logout elsewhere, expiry, data loss): end the family too.
                refresh_tokens::revoke_family(conn, row.session(), now).await?;
                return Ok(Outcome::Rejected { reason: Rejection::Invalid, end: None });
            };
            refresh_tokens::mark_used(conn, row.id, now).await?;
            let token = sessions::issue_refresh_token(conn, &state.sessions, row.session(), row.user(), now).await?;
            Ok(Outcome::Rotated { user: user.to_user(), session: row.session(), token })
        })
        .await?;

    match outcome {
        Outcome::Rotated { user, session, token } => {
            tracing::info!(user.id = %user.id, session.id = %session, "refresh token rotated");
            let body = tokens::token_response(&state.keys, &state.tokens, user, session, &token, now)?;
            Ok(token_reply(StatusCode::OK, &body))
        }
        Outcome::Rejected { reason, end } => {
            if let Some(session) = end {
                tracing::warn!(session.id = %session, "refresh token reuse: the session is revoked");
                // The family is revoked in the database already, which alone stops refreshes.
                let _ = state.sessions.remove(&[session]).await;
            }
            Err(match reason {
                Rejection::Invalid => invalid_refresh_token(),
                Rejection::Reused => {
                    ApiError::unauthorized("the refresh token was already used; the session is revoked")
                }
            })
        }
    }
}

/// Optional body of `POST /auth/logout`.
#[derive(Deserialize, Default)]
pub struct LogoutRequest {
    pub refresh_token: Option<String>,
}

/// Ends the caller's session (`sid`), and the session of a refresh token in the body if it is the
/// caller's; deny-lists the access token until it expires. 204 even if the session was already
/// gone: logging out twice is not an error.
#[tracing::instrument(skip_all, fields(user.id = %identity.user_id))]
pub async fn logout_session(
    state: web::Data<AppState>,
    identity: Identity,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let request: LogoutRequest =
        if body.iter().all(u8::is_ascii_whitespace) { LogoutRequest::default() } else { parse(&body)? };
    let user = UserId(identity.user_id);
    let now = Utc::now();
    let mut ended: Vec<SessionId> =
        identity.session_id.as_deref().and_then(|sid| Uuid::parse_str(sid).ok()).map(SessionId).into_iter().collect();

    let mut conn = state.db.get().await?;
    if let Some(token) = request.refresh_token.filter(|t| !t.is_empty() && t.len() <= MAX_REFRESH_TOKEN_LEN)
        && let Some(row) = refresh_tokens::find_by_hash(&mut conn, &hash_refresh_token(&token)).await?
        && row.user() == user
        && !ended.contains(&row.session())
    {
        ended.push(row.session());
    }

    // Redis first: if it is down the client gets a 503 and can retry with nothing half-done that
    // matters (the database revocation below is idempotent).
    if let (Some(jti), Some(exp)) = (&identity.token_id, identity.token_expires_at) {
        state.sessions.deny_access_token(jti, exp, now).await?;
    }
    state.sessions.remove(&ended).await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        for session in &ended {
            refresh_tokens::revoke_family_of(conn, *session, user, now).await?;
        }
        Ok(())
    })
    .await?;
    tracing::info!(sessions.ended = ended.len(), "logged out");
    Ok(HttpResponse::NoContent().finish())
}
