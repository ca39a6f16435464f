//! What every handler shares (`web::Data<AppState>`), built once at start.

use crate::keys::KeyStore;
use crate::passwords::Passwords;
use crate::rate_limit::RateLimiter;
use crate::sessions::SessionStore;
use crate::settings::TokenSettings;
use shop_common::db::DbPool;
use shop_common::outbox::RelayWaker;
use std::sync::Arc;

pub struct AppState {
    pub db: DbPool,
    /// Wakes the outbox relay after a commit that wrote events.
    pub relay: RelayWaker,
    pub sessions: SessionStore,
    pub limiter: RateLimiter,
    pub passwords: Arc<Passwords>,
    pub keys: Arc<KeyStore>,
    pub tokens: TokenSettings,
}
