//! Customer notifications (the shipping notice): always recorded, e-mailed by the mailer task when
//! SMTP is configured. Rows are leased (`next_attempt_at` pushed forward) before sending, so two
//! senders never mail the same row at once and a crashed sender's row comes back after the lease.

use crate::domain::OrderId;
use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Int4, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use std::time::Duration;
use uuid::Uuid;

const COLUMNS: &str =
    "id, order_id, kind, channel, recipient, subject, body, status, attempts, last_error, created_at, sent_at";

#[derive(Debug, Clone, QueryableByName)]
pub struct NotificationRow {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = SqlUuid)]
    pub order_id: Uuid,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub channel: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub recipient: Option<String>,
    #[diesel(sql_type = Text)]
    pub subject: String,
    #[diesel(sql_type = Text)]
    pub body: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Int4)]
    pub attempts: i32,
    #[diesel(sql_type = Nullable<Text>)]
    pub last_error: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub sent_at: Option<DateTime<Utc>>,
}

pub struct NewNotification<'a> {
    pub order_id: OrderId,
    pub kind: &'a str,
    pub channel: &'a str,
    pub recipient: Option<&'a str>,
    pub subject: &'a str,
    pub body: &'a str,
    /// `pending` (to be sent) or `skipped` (recorded only), with why in `note`.
    pub status: &'a str,
    pub note: Option<&'a str>,
}

pub async fn insert(conn: &mut AsyncPgConnection, n: &NewNotification<'_>) -> diesel::QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO notifications (order_id, kind, channel, recipient, subject, body, status, last_error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind::<SqlUuid, _>(n.order_id.0)
    .bind::<Text, _>(n.kind)
    .bind::<Text, _>(n.channel)
    .bind::<Nullable<Text>, _>(n.recipient)
    .bind::<Text, _>(n.subject)
    .bind::<Text, _>(n.body)
    .bind::<Text, _>(n.status)
    .bind::<Nullable<Text>, _>(n.note)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn for_order(conn: &mut AsyncPgConnection, order_id: OrderId) -> diesel::QueryResult<Vec<NotificationRow>> {
    diesel::sql_query(format!("SELECT {COLUMNS} FROM notifications WHERE order_id = $1 ORDER BY id"))
        .bind::<SqlUuid, _>(order_id.0)
        .load(conn)
        .await
}

/// Takes up to `limit` due rows for `lease`, counting the attempt.
pub async fn lease_due(
    conn: &mut AsyncPgConnection,
    limit: i64,
    lease: Duration,
) -> diesel::QueryResult<Vec<NotificationRow>> {
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    diesel::sql_query(format!(
        "UPDATE notifications SET next_attempt_at = now() + make_interval(secs => $2::float8 / 1000),
             attempts = attempts + 1
         WHERE id IN (SELECT id FROM notifications WHERE status = 'pending' AND next_attempt_at <= now()
                      ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING {COLUMNS}"
    ))
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>(lease_ms)
    .load(conn)
    .await
}

pub async fn mark_sent(conn: &mut AsyncPgConnection, id: i64) -> diesel::QueryResult<()> {
    diesel::sql_query("UPDATE notifications SET status = 'sent', sent_at = now(), last_error = NULL WHERE id = $1")
        .bind::<BigInt, _>(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records a failed attempt: retried after `retry_in`, or given up (`failed`) when `None`.
pub async fn mark_attempt_failed(
    conn: &mut AsyncPgConnection,
    id: i64,
    error: &str,
    retry_in: Option<Duration>,
) -> diesel::QueryResult<()> {
    let (status, retry_ms) = match retry_in {
        Some(delay) => ("pending", i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
        None => ("failed", 0),
    };
    diesel::sql_query(
        "UPDATE notifications SET status = $2, last_error = $3,
             next_attempt_at = now() + make_interval(secs => $4::float8 / 1000)
         WHERE id = $1",
    )
    .bind::<BigInt, _>(id)
    .bind::<Text, _>(status)
    .bind::<Text, _>(error)
    .bind::<BigInt, _>(retry_ms)
    .execute(conn)
    .await?;
    Ok(())
}
