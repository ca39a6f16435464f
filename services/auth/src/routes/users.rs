//! Admin endpoints: `GET /auth/users` and `PUT /auth/users/{id}/role`.

use crate::db::users;
use crate::domain::validation::MAX_EMAIL_CHARS;
use crate::domain::{User, UserId};
use crate::state::AppState;
use actix_web::web;
use diesel_async::AsyncConnection;
use serde::Deserialize;
use shop_common::auth::{AdminIdentity, Role};
use shop_common::error::FieldError;
use shop_common::http::{Json, Page, PageParams};
use shop_common::{ApiError, ApiResult};
use uuid::Uuid;

/// `?email=` filters by substring of the (normalised) email.
#[derive(Deserialize)]
pub struct UserFilter {
    pub email: Option<String>,
}

#[tracing::instrument(skip_all, fields(admin.id = %admin.0.user_id))]
pub async fn list_users(
    state: web::Data<AppState>,
    admin: AdminIdentity,
    page: web::Query<PageParams>,
    filter: web::Query<UserFilter>,
) -> ApiResult<web::Json<Page<User>>> {
    let email = filter.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
    if email.is_some_and(|e| e.chars().count() > MAX_EMAIL_CHARS) {
        return Err(ApiError::validation(vec![FieldError::new("email", "must be at most 254 characters")]));
    }
    let (rows, total) = users::list(&mut *state.db.get().await?, email, *page).await?;
    Ok(web::Json(Page::new(rows.iter().map(users::UserRow::to_user).collect(), *page, total)))
}

#[derive(Deserialize)]
pub struct RoleChange {
    pub role: Role,
}

/// Sets the user's role. The last admin cannot be demoted (nobody could promote anyone again).
/// The user's current access tokens keep their roles until they expire (≤ 15 min); the next
/// refresh carries the new role.
#[tracing::instrument(skip_all, fields(admin.id = %admin.0.user_id, user.id = %id))]
pub async fn update_user_role(
    state: web::Data<AppState>,
    admin: AdminIdentity,
    id: web::Path<Uuid>,
    Json(body): Json<RoleChange>,
) -> ApiResult<web::Json<User>> {
    let target = UserId(id.into_inner());
    let mut conn = state.db.get().await?;
    let row = conn
        .transaction::<_, ApiError, _>(async |conn| {
            // Admin rows first, in id order, then the target: every role change locks in the same
            // order, so two concurrent demotions serialise instead of deadlocking.
            let admins = if body.role == Role::Customer { users::lock_admins(conn).await? } else { 0 };
            let row = users::find_for_update(conn, target)
                .await?
                .ok_or_else(|| ApiError::not_found("no user with this id"))?;
            if row.role() == body.role {
                return Ok(row);
            }
            if row.role() == Role::Admin && admins <= 1 {
                return Err(ApiError::conflict("the last admin cannot be demoted"));
            }
            Ok(users::update_role(conn, target, body.role).await?)
        })
        .await?;
    tracing::info!(user.role = %body.role, "role changed");
    Ok(web::Json(row.to_user()))
}
