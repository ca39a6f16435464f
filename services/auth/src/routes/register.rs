//! `POST /auth/register`: a new customer account and its first session.

use super::token_reply;
use crate::client::ClientInfo;
use crate::db::users::{self, NewUser};
use crate::domain::{UserId, validation};
use crate::events::{self, UserRegistered};
use crate::sessions;
use crate::state::AppState;
use crate::tokens;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::AsyncConnection;
use serde::Deserialize;
use shop_common::auth::Role;
use shop_common::http::Json;
use shop_common::{ApiError, ApiResult};

/// The body. Unknown members (a `role`, say) are ignored: every new account is a customer.
/// Not `Debug`: it holds a password.
#[derive(Deserialize)]
pub struct RegisterRequest {
    pub email: Option<String>,
    pub password: Option<String>,
    pub name: Option<String>,
}

fn duplicate_email() -> ApiError {
    ApiError::conflict("an account with this email already exists")
}

#[tracing::instrument(skip_all, fields(client.ip = %client.ip))]
pub async fn register_user(
    state: web::Data<AppState>,
    client: ClientInfo,
    Json(body): Json<RegisterRequest>,
) -> ApiResult<HttpResponse> {
    state.limiter.register(&client.ip).await?;
    let account =
        validation::validate_registration(body.email.as_deref(), body.password.as_deref(), body.name.as_deref())
            .map_err(ApiError::validation)?;
    // Checked before hashing so a duplicate costs no argon2 run; the unique index still decides.
    if users::email_exists(&mut *state.db.get().await?, account.email.as_str()).await? {
        return Err(duplicate_email());
    }
    let hash = state.passwords.hash(account.password).await?;

    let now = Utc::now();
    let mut conn = state.db.get().await?;
    let (user, session, refresh) = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let new_user = NewUser {
                id: UserId::new().0,
                email: account.email.as_str(),
                name: &account.name,
                password_hash: &hash,
                role: Role::Customer.as_str(),
            };
            let row = users::insert(conn, &new_user).await.map_err(|err| match err {
                DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => duplicate_email(),
                other => other.into(),
            })?;
            let (session, refresh) = sessions::start(conn, &state.sessions, row.id(), &client, now).await?;
            let event = UserRegistered {
                user_id: row.id(),
                email: row.email.clone(),
                name: row.name.clone(),
                registered_at: row.created_at,
            };
            events::user_registered(conn, &event).await?;
            Ok((row.to_user(), session, refresh))
        })
        .await?;
    state.relay.wake();
    tracing::info!(user.id = %user.id, session.id = %session, "user registered");
    let body = tokens::token_response(&state.keys, &state.tokens, user, session, &refresh, now)?;
    Ok(token_reply(StatusCode::CREATED, &body))
}
