//! The analytics consumer: one group over all six topics.
//!
//! Each event is applied in one transaction together with its inbox row, so a redelivery is a
//! no-op; the read models' natural keys make even a replay under a new event id harmless. Unknown
//! types are ignored; unknown versions and malformed payloads go to `<topic>.dlq` and the consumer
//! moves on.

use super::decode::{Fact, decode};
use crate::db::facts;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::AsyncConnection;
use shop_common::db::DbPool;
use shop_common::events::{Envelope, topics};
use shop_common::inbox;
use shop_common::kafka::{EventHandler, HandleError, HandlerFuture};

/// The default consumer group; `ANALYTICS_CONSUMER_GROUP` picks another one (a rebuild from the
/// earliest offsets into a fresh database, docs/analytics.md).
pub const GROUP: &str = "analytics";
const INBOX_CONSUMER: &str = "analytics";

/// Every topic analytics reads.
pub const TOPICS: &[&str] = &[
    topics::USER_EVENTS,
    topics::PRODUCT_EVENTS,
    topics::CART_EVENTS,
    topics::ORDER_EVENTS,
    topics::INVENTORY_EVENTS,
    topics::PAYMENT_EVENTS,
];

/// The consumer group's handler.
pub struct AnalyticsHandler {
    pub db: DbPool,
}

impl EventHandler for AnalyticsHandler {
    #[tracing::instrument(skip_all, fields(event.id = %event.id, event.type = %event.event_type))]
    fn handle<'a>(&'a self, event: &'a Envelope) -> HandlerFuture<'a> {
        Box::pin(async move {
            let fact = match decode(event) {
                Ok(Some(fact)) => fact,
                Ok(None) => {
                    tracing::debug!("event type not used by analytics, ignored");
                    return Ok(());
                }
                Err(rejected) => return Err(HandleError::Permanent(rejected.0)),
            };
            let mut conn = self.db.get().await.map_err(anyhow::Error::from)?;
            let applied = conn
                .transaction::<bool, DieselError, _>(async |conn| {
                    if !inbox::claim(conn, INBOX_CONSUMER, event).await? {
                        return Ok(false);
                    }
                    facts::apply(conn, event.id, &fact).await?;
                    Ok(true)
                })
                .await;
            match applied {
                Ok(true) => {
                    if !matches!(fact, Fact::Noted) {
                        tracing::debug!("event applied");
                    }
                    metrics::counter!("analytics_events_applied_total", "type" => event.event_type.clone())
                        .increment(1);
                    Ok(())
                }
                Ok(false) => {
                    tracing::debug!("event already applied");
                    metrics::counter!("analytics_events_duplicate_total", "type" => event.event_type.clone())
                        .increment(1);
                    Ok(())
                }
                Err(err) if is_data_error(&err) => {
                    Err(HandleError::Permanent(format!("rejected by the database: {err}")))
                }
                Err(err) => Err(HandleError::Transient(anyhow::Error::from(err))),
            }
        })
    }
}

/// Errors no retry can fix (the event's data breaks a constraint); everything else (connection,
/// timeout, serialization failure) is retried.
fn is_data_error(err: &DieselError) -> bool {
    matches!(
        err,
        DieselError::DatabaseError(
            DatabaseErrorKind::NotNullViolation
                | DatabaseErrorKind::CheckViolation
                | DatabaseErrorKind::ForeignKeyViolation,
            _
        )
    )
}
