//! What the auth service publishes on `user_events` (docs/auth.md "Events"), through the outbox.

use crate::domain::UserId;
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};
use shop_common::events::topics;
use shop_common::outbox::{self, EventMeta};

pub const SOURCE: &str = "auth";
pub const USER_REGISTERED: &str = "user.registered";
pub const USER_LOGGED_IN: &str = "user.logged_in";
pub const VERSION: u32 = 1;

/// `user.registered` v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRegistered {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub registered_at: DateTime<Utc>,
}

/// `user.logged_in` v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserLoggedIn {
    pub user_id: UserId,
    pub logged_in_at: DateTime<Utc>,
}

/// Writes `data` as a `user_events` outbox row keyed by the user, inside the caller's transaction.
async fn enqueue<T: Serialize>(
    conn: &mut AsyncPgConnection,
    event_type: &str,
    user: UserId,
    data: &T,
) -> diesel::QueryResult<()> {
    let meta = EventMeta { topic: topics::USER_EVENTS, event_type, version: VERSION, source: SOURCE };
    outbox::enqueue_typed(conn, meta, user.to_string(), data).await
}

pub async fn user_registered(conn: &mut AsyncPgConnection, event: &UserRegistered) -> diesel::QueryResult<()> {
    enqueue(conn, USER_REGISTERED, event.user_id, event).await
}

pub async fn user_logged_in(conn: &mut AsyncPgConnection, event: &UserLoggedIn) -> diesel::QueryResult<()> {
    enqueue(conn, USER_LOGGED_IN, event.user_id, event).await
}
