//! What handlers, the consumer and the background tasks share.

use crate::cart::CartClient;
use shop_common::db::{DbConn, DbPool};
use shop_common::error::ApiResult;
use shop_common::outbox::RelayWaker;
use shop_common::settings::Secret;
use shop_payments::PaymentProvider;
use std::sync::Arc;
use tokio::sync::Notify;

/// The service's core: database, outbox wake-up, payment provider and the wake-ups of the
/// refunder and mailer tasks.
#[derive(Clone)]
pub struct Core {
    pub db: DbPool,
    pub relay: RelayWaker,
    pub provider: Arc<dyn PaymentProvider>,
    /// Woken when a refund became due, so it is paid back without waiting for the next poll.
    pub refunds: Arc<Notify>,
    /// Woken when a notification was queued for e-mail.
    pub mail: Arc<Notify>,
}

/// Shared by every HTTP handler (`web::Data<AppState>`).
pub struct AppState {
    pub core: Core,
    pub cart: CartClient,
    /// The provider's webhook signing secret; `None` when no provider with webhooks is configured.
    pub webhook_secret: Option<Secret>,
    /// Whether shipping notices are e-mailed (SMTP configured) or only recorded.
    pub mail_enabled: bool,
}

impl AppState {
    pub async fn conn(&self) -> ApiResult<DbConn> {
        Ok(self.core.db.get().await?)
    }
}
