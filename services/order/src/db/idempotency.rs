//! `Idempotency-Key` records: per caller scope, the request's hash and the response it produced.
//!
//! The row is inserted with `ON CONFLICT DO NOTHING` inside the order's transaction. A concurrent
//! duplicate's insert blocks on the first one's uncommitted row; when the first commits, the
//! duplicate's insert does nothing and its next statement sees the stored response.

use chrono::{DateTime, Utc};
use diesel::sql_types::{Int4, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel::{OptionalExtension, QueryableByName};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

#[derive(Debug, Clone, QueryableByName)]
pub struct KeyRow {
    #[diesel(sql_type = Text)]
    pub request_hash: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub order_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Int4>)]
    pub response_status: Option<i32>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    pub response_body: Option<serde_json::Value>,
}

pub async fn find(conn: &mut AsyncPgConnection, scope: &str, key: &str) -> diesel::QueryResult<Option<KeyRow>> {
    diesel::sql_query(
        "SELECT request_hash, order_id, response_status, response_body FROM idempotency_keys
         WHERE scope = $1 AND idem_key = $2",
    )
    .bind::<Text, _>(scope)
    .bind::<Text, _>(key)
    .get_result(conn)
    .await
    .optional()
}

/// Claims the key for this request; false if another request holds it (after waiting for it).
pub async fn claim(
    conn: &mut AsyncPgConnection,
    scope: &str,
    key: &str,
    request_hash: &str,
) -> diesel::QueryResult<bool> {
    let inserted = diesel::sql_query(
        "INSERT INTO idempotency_keys (scope, idem_key, request_hash) VALUES ($1, $2, $3)
         ON CONFLICT (scope, idem_key) DO NOTHING",
    )
    .bind::<Text, _>(scope)
    .bind::<Text, _>(key)
    .bind::<Text, _>(request_hash)
    .execute(conn)
    .await?;
    Ok(inserted == 1)
}

/// Stores the response of the request that claimed the key.
pub async fn store_response(
    conn: &mut AsyncPgConnection,
    scope: &str,
    key: &str,
    order_id: Uuid,
    status: u16,
    body: &serde_json::Value,
) -> diesel::QueryResult<()> {
    diesel::sql_query(
        "UPDATE idempotency_keys SET order_id = $3, response_status = $4, response_body = $5
         WHERE scope = $1 AND idem_key = $2",
    )
    .bind::<Text, _>(scope)
    .bind::<Text, _>(key)
    .bind::<SqlUuid, _>(order_id)
    .bind::<Int4, _>(i32::from(status))
    .bind::<Jsonb, _>(body)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes keys created before `cutoff`.
pub async fn prune(conn: &mut AsyncPgConnection, cutoff: DateTime<Utc>) -> diesel::QueryResult<usize> {
    diesel::sql_query("DELETE FROM idempotency_keys WHERE created_at < $1")
        .bind::<Timestamptz, _>(cutoff)
        .execute(conn)
        .await
}
