//! The `signing_keys` table: Ed25519 keys, one active, retired ones kept while their tokens live.

use super::schema::signing_keys;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

#[derive(Queryable, Selectable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKeyRow {
    pub kid: String,
    pub private_key: Vec<u8>,
    pub public_key: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
}

#[derive(Insertable)]
#[diesel(table_name = signing_keys)]
pub struct NewSigningKey<'a> {
    pub kid: &'a str,
    pub algorithm: &'a str,
    pub private_key: &'a [u8],
    pub public_key: &'a [u8],
    pub created_at: DateTime<Utc>,
}

/// Fixed key for the rotation lock (any replica rotating holds it for its transaction).
const ROTATION_LOCK_KEY: i64 = 0x5307_0A01;

/// Takes the rotation lock until the end of the current transaction.
pub async fn lock_for_rotation(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    diesel::sql_query(format!("SELECT pg_advisory_xact_lock({ROTATION_LOCK_KEY})")).execute(conn).await?;
    Ok(())
}

pub async fn active(conn: &mut AsyncPgConnection) -> QueryResult<Option<SigningKeyRow>> {
    signing_keys::table
        .filter(signing_keys::retired_at.is_null())
        .select(SigningKeyRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The active key and the retired ones still inside their grace period, newest first.
pub async fn published(conn: &mut AsyncPgConnection, retired_after: DateTime<Utc>) -> QueryResult<Vec<SigningKeyRow>> {
    signing_keys::table
        .filter(signing_keys::retired_at.is_null().or(signing_keys::retired_at.gt(retired_after)))
        .order(signing_keys::created_at.desc())
        .select(SigningKeyRow::as_select())
        .load(conn)
        .await
}

pub async fn insert(conn: &mut AsyncPgConnection, key: &NewSigningKey<'_>) -> QueryResult<()> {
    diesel::insert_into(signing_keys::table).values(key).execute(conn).await?;
    Ok(())
}

pub async fn retire(conn: &mut AsyncPgConnection, kid: &str, at: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(signing_keys::table.find(kid)).set(signing_keys::retired_at.eq(at)).execute(conn).await?;
    Ok(())
}

/// Deletes keys retired at or before `cutoff`: no unexpired token can carry their `kid` any more.
pub async fn delete_retired_before(conn: &mut AsyncPgConnection, cutoff: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(signing_keys::table.filter(signing_keys::retired_at.le(cutoff))).execute(conn).await
}
