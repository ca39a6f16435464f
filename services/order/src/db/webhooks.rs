//! Provider webhook event ids already applied: the replay guard, claimed in the transaction that
//! applies the event so "recorded" and "applied" cannot diverge.

use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// Records `event_id`; false if it was recorded before (a replay: apply nothing).
pub async fn claim(conn: &mut AsyncPgConnection, event_id: &str, event_type: &str) -> diesel::QueryResult<bool> {
    let inserted = diesel::sql_query(
        "INSERT INTO webhook_events (event_id, event_type) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING",
    )
    .bind::<Text, _>(event_id)
    .bind::<Text, _>(event_type)
    .execute(conn)
    .await?;
    Ok(inserted == 1)
}
