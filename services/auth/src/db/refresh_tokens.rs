//! The `refresh_tokens` table: one row per issued refresh token, grouped in families (sessions).

use super::schema::refresh_tokens;
use crate::domain::{SessionId, UserId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

#[derive(Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct NewRefreshToken<'a> {
    pub id: Uuid,
    pub token_hash: &'a [u8],
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshTokenRow {
    pub id: Uuid,
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl RefreshTokenRow {
    pub fn session(&self) -> SessionId {
        SessionId(self.family_id)
    }
    pub fn user(&self) -> UserId {
        UserId(self.user_id)
    }
}

pub async fn insert(conn: &mut AsyncPgConnection, token: &NewRefreshToken<'_>) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table).values(token).execute(conn).await?;
    Ok(())
}

/// Finds the token by its hash and locks the row, so two refreshes with one token serialise and
/// the second sees it used.
pub async fn find_by_hash_for_update(
    conn: &mut AsyncPgConnection,
    hash: &[u8],
) -> QueryResult<Option<RefreshTokenRow>> {
    refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(hash))
        .select(RefreshTokenRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn find_by_hash(conn: &mut AsyncPgConnection, hash: &[u8]) -> QueryResult<Option<RefreshTokenRow>> {
    refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(hash))
        .select(RefreshTokenRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn mark_used(conn: &mut AsyncPgConnection, id: Uuid, at: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(refresh_tokens::table.find(id)).set(refresh_tokens::used_at.eq(at)).execute(conn).await?;
    Ok(())
}

/// Revokes every still-valid token of the family; returns how many were revoked.
pub async fn revoke_family(conn: &mut AsyncPgConnection, family: SessionId, at: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family.0))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(at))
    .execute(conn)
    .await
}

/// Revokes the family only if it belongs to `user` (logout must not end someone else's session).
pub async fn revoke_family_of(
    conn: &mut AsyncPgConnection,
    family: SessionId,
    user: UserId,
    at: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family.0))
            .filter(refresh_tokens::user_id.eq(user.0))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(at))
    .execute(conn)
    .await
}

/// Revokes all of `user`'s sessions except `keep`; returns the sessions that were live.
pub async fn revoke_other_families(
    conn: &mut AsyncPgConnection,
    user: UserId,
    keep: Option<SessionId>,
    at: DateTime<Utc>,
) -> QueryResult<Vec<SessionId>> {
    let keep = keep.map(|s| s.0).unwrap_or(Uuid::nil());
    let mut families: Vec<Uuid> = diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user.0))
            .filter(refresh_tokens::family_id.ne(keep))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(at))
    .returning(refresh_tokens::family_id)
    .get_results(conn)
    .await?;
    families.sort_unstable();
    families.dedup();
    Ok(families.into_iter().map(SessionId).collect())
}

/// Deletes tokens that expired before `cutoff` (reuse detection needs them only while they could
/// still be presented).
pub async fn delete_expired(conn: &mut AsyncPgConnection, cutoff: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(refresh_tokens::table.filter(refresh_tokens::expires_at.lt(cutoff))).execute(conn).await
}
