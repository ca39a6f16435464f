//! Registered customers' e-mail addresses, fed by `user.registered`.

use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel::{OptionalExtension, QueryableByName};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

pub async fn upsert(conn: &mut AsyncPgConnection, user_id: Uuid, email: &str) -> diesel::QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO customers (user_id, email) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, updated_at = now()",
    )
    .bind::<SqlUuid, _>(user_id)
    .bind::<Text, _>(email)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn email(conn: &mut AsyncPgConnection, user_id: Uuid) -> diesel::QueryResult<Option<String>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        email: String,
    }
    let row: Option<Row> = diesel::sql_query("SELECT email FROM customers WHERE user_id = $1")
        .bind::<SqlUuid, _>(user_id)
        .get_result(conn)
        .await
        .optional()?;
    Ok(row.map(|r| r.email))
}
