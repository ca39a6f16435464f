//! The `users` table.

use super::schema::users;
use crate::domain::{User, UserId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use shop_common::auth::Role;
use shop_common::http::PageParams;
use uuid::Uuid;

/// A stored account, hash included: stays inside the service, clients get [`User`].
#[derive(Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
}

impl UserRow {
    pub fn id(&self) -> UserId {
        UserId(self.id)
    }

    pub fn role(&self) -> Role {
        // The column's CHECK constraint allows only the two roles; anything else is least privilege.
        self.role.parse().unwrap_or(Role::Customer)
    }

    pub fn to_user(&self) -> User {
        User {
            id: self.id(),
            email: self.email.clone(),
            name: self.name.clone(),
            roles: vec![self.role()],
            created_at: self.created_at,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub id: Uuid,
    pub email: &'a str,
    pub name: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
}

pub async fn insert(conn: &mut AsyncPgConnection, user: &NewUser<'_>) -> QueryResult<UserRow> {
    diesel::insert_into(users::table).values(user).returning(UserRow::as_returning()).get_result(conn).await
}

/// Inserts unless the email is taken; `None` when it was (the bootstrap admin's once-only rule).
pub async fn insert_if_absent(conn: &mut AsyncPgConnection, user: &NewUser<'_>) -> QueryResult<Option<UserRow>> {
    diesel::insert_into(users::table)
        .values(user)
        .on_conflict(users::email)
        .do_nothing()
        .returning(UserRow::as_returning())
        .get_result(conn)
        .await
        .optional()
}

pub async fn find(conn: &mut AsyncPgConnection, id: UserId) -> QueryResult<Option<UserRow>> {
    users::table.find(id.0).select(UserRow::as_select()).first(conn).await.optional()
}

/// `email` must already be normalised.
pub async fn find_by_email(conn: &mut AsyncPgConnection, email: &str) -> QueryResult<Option<UserRow>> {
    users::table.filter(users::email.eq(email)).select(UserRow::as_select()).first(conn).await.optional()
}

pub async fn email_exists(conn: &mut AsyncPgConnection, email: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(users::table.filter(users::email.eq(email)))).get_result(conn).await
}

/// Locks the row for the rest of the transaction (role changes).
pub async fn find_for_update(conn: &mut AsyncPgConnection, id: UserId) -> QueryResult<Option<UserRow>> {
    users::table.find(id.0).select(UserRow::as_select()).for_update().first(conn).await.optional()
}

pub async fn update_name(conn: &mut AsyncPgConnection, id: UserId, name: &str) -> QueryResult<UserRow> {
    diesel::update(users::table.find(id.0))
        .set((users::name.eq(name), users::updated_at.eq(diesel::dsl::now)))
        .returning(UserRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn update_password_hash(conn: &mut AsyncPgConnection, id: UserId, hash: &str) -> QueryResult<UserRow> {
    diesel::update(users::table.find(id.0))
        .set((users::password_hash.eq(hash), users::updated_at.eq(diesel::dsl::now)))
        .returning(UserRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn update_role(conn: &mut AsyncPgConnection, id: UserId, role: Role) -> QueryResult<UserRow> {
    diesel::update(users::table.find(id.0))
        .set((users::role.eq(role.as_str()), users::updated_at.eq(diesel::dsl::now)))
        .returning(UserRow::as_returning())
        .get_result(conn)
        .await
}

/// Locks every admin row (in id order) and counts them, so two concurrent demotions cannot both
/// pass a "not the last admin" check.
pub async fn lock_admins(conn: &mut AsyncPgConnection) -> QueryResult<usize> {
    let ids: Vec<Uuid> = users::table
        .filter(users::role.eq(Role::Admin.as_str()))
        .order(users::id)
        .select(users::id)
        .for_update()
        .load(conn)
        .await?;
    Ok(ids.len())
}

pub async fn count(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    users::table.count().get_result(conn).await
}

/// One page, oldest first, optionally filtered by an email substring (matched literally).
pub async fn list(
    conn: &mut AsyncPgConnection,
    email_contains: Option<&str>,
    params: PageParams,
) -> QueryResult<(Vec<UserRow>, i64)> {
    let pattern = email_contains.map(|needle| format!("%{}%", escape_like(&needle.trim().to_lowercase())));
    let filtered = || {
        let mut query = users::table.into_boxed();
        if let Some(pattern) = &pattern {
            query = query.filter(users::email.like(pattern.clone()).escape('\\'));
        }
        query
    };
    let total = filtered().count().get_result(conn).await?;
    let rows = filtered()
        .order((users::created_at.asc(), users::id.asc()))
        .limit(params.limit())
        .offset(params.offset())
        .select(UserRow::as_select())
        .load(conn)
        .await?;
    Ok((rows, total))
}

/// `%`, `_` and `\` in a user's search text match themselves, not patterns.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape_like;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(escape_like("a_b%c\\d"), "a\\_b\\%c\\\\d");
        assert_eq!(escape_like("plain"), "plain");
    }
}
