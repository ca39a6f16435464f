//! What the auth service publishes on `user_events` (docs/auth.md "Events"), through the outbox.

use crate::domain::UserId;
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use shop_common::events::contract::EventKind;
use shop_common::events::topics;
use shop_common::outbox;

pub const SOURCE: &str = "auth";

// The one table of what auth publishes: the publish functions below write these kinds, and
// `published_contracts()` (checked against docs/events/schemas) lists them.
shop_common::published_events! {
    USER_REGISTERED: UserRegistered = (topics::USER_EVENTS, "user.registered", 1);
    USER_LOGGED_IN: UserLoggedIn = (topics::USER_EVENTS, "user.logged_in", 1);
}

/// `user.registered` v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserRegistered {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub registered_at: DateTime<Utc>,
}

/// `user.logged_in` v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserLoggedIn {
    pub user_id: UserId,
    pub logged_in_at: DateTime<Utc>,
}

/// Writes `data` as a `user_events` outbox row keyed by the user, inside the caller's transaction.
async fn enqueue<T: Serialize>(
    conn: &mut AsyncPgConnection,
    kind: EventKind<T>,
    user: UserId,
    data: &T,
) -> diesel::QueryResult<()> {
    outbox::enqueue_typed(conn, kind.meta(SOURCE), user.to_string(), data).await
}

pub async fn user_registered(conn: &mut AsyncPgConnection, event: &UserRegistered) -> diesel::QueryResult<()> {
    enqueue(conn, USER_REGISTERED, event.user_id, event).await
}

pub async fn user_logged_in(conn: &mut AsyncPgConnection, event: &UserLoggedIn) -> diesel::QueryResult<()> {
    enqueue(conn, USER_LOGGED_IN, event.user_id, event).await
}
