//! Background tasks that run beside the HTTP server until shutdown: the payment-timeout sweeper,
//! the refunder, the shipping-notice mailer and the idempotency-key pruner.

pub mod mailer;
pub mod prune;
pub mod refunds;
pub mod sweeper;

use shop_common::shutdown::Shutdown;
use std::time::Duration;
use tokio::sync::Notify;

/// Waits for `period`, a wake-up, or shutdown; returns false on shutdown.
pub(crate) async fn pause(shutdown: &mut Shutdown, period: Duration, wake: Option<&Notify>) -> bool {
    let woken = async {
        match wake {
            Some(notify) => notify.notified().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = shutdown.wait() => false,
        _ = tokio::time::sleep(period) => true,
        _ = woken => true,
    }
}
