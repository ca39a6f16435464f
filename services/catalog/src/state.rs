//! What every handler shares (`web::Data<AppState>`), built once at start.

use crate::cache::Cache;
use shop_common::db::DbPool;
use shop_common::outbox::RelayWaker;

pub struct AppState {
    pub db: DbPool,
    /// Wakes the outbox relay after a commit that wrote events.
    pub relay: RelayWaker,
    pub cache: Cache,
}
