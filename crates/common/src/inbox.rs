//! The inbox: records each applied event id inside the consumer's own transaction, so a redelivered
//! event is recognised and skipped (exactly-once application on top of at-least-once delivery).

use crate::events::Envelope;
use crate::schema::inbox;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// Marks `event` as applied by `consumer`. Returns `false` if it was applied before, in which case
/// the caller must skip its changes. Call it first inside the transaction that applies the event:
/// the primary key makes a concurrent duplicate wait on this row and then see it.
pub async fn claim(conn: &mut AsyncPgConnection, consumer: &str, event: &Envelope) -> QueryResult<bool> {
    let inserted = diesel::insert_into(inbox::table)
        .values((inbox::consumer.eq(consumer), inbox::event_id.eq(event.id), inbox::event_type.eq(&event.event_type)))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}
