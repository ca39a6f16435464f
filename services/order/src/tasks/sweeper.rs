//! The payment-timeout sweeper: orders still `PENDING` or `AWAITING_PAYMENT` after
//! `PAYMENT_TIMEOUT` fail with reason `payment_timeout`, and `order.failed` lets inventory release
//! their stock. Rows are locked with `SKIP LOCKED`, so an order a consumer or webhook is working on
//! right now is left for the next pass, and several replicas never fail the same order twice.
//!
//! Before timing out an `AWAITING_PAYMENT` order the sweeper asks the provider where its payment
//! stands (outside any transaction): a payment that succeeded but whose webhook was lost confirms
//! the order instead of failing and refunding it; a failed one fails it as `payment_failed`.

use crate::db::{orders, payments};
use crate::saga;
use crate::state::Core;
use chrono::Utc;
use diesel_async::AsyncConnection;
use shop_common::shutdown::Shutdown;
use shop_payments::PaymentOutcome;
use std::time::Duration;

const BATCH: i64 = 100;
pub const TIMEOUT_REASON: &str = "payment_timeout";

/// Settles expired `AWAITING_PAYMENT` orders whose payment the provider has decided meanwhile.
async fn reconcile_awaiting(core: &Core, cutoff: chrono::DateTime<Utc>) -> anyhow::Result<()> {
    let awaiting = {
        let mut conn = core.db.get().await?;
        payments::awaiting_before(&mut conn, cutoff, BATCH).await?
    };
    let provider = core.provider.name();
    for (order_id, payment_id) in awaiting {
        let outcome = match core.provider.payment_status(&payment_id).await {
            Ok(PaymentOutcome::Pending { .. }) => continue,
            Ok(outcome) => outcome,
            Err(err) => {
                tracing::warn!(order.id = %order_id, error = %err, "asking the provider about a late payment failed");
                continue;
            }
        };
        let mut conn = core.db.get().await?;
        conn.transaction::<(), diesel::result::Error, _>(async |conn| {
            if let Some(order) = orders::lock(conn, order_id).await? {
                saga::apply_payment(conn, &order, provider, &outcome).await?;
            }
            Ok(())
        })
        .await?;
        core.relay.wake();
        tracing::info!(order.id = %order_id, "late payment settled from the provider's status");
    }
    Ok(())
}

/// Fails the expired open orders of one batch; returns how many.
pub async fn sweep_once(core: &Core, timeout: Duration) -> anyhow::Result<usize> {
    let cutoff = Utc::now() - chrono::Duration::from_std(timeout)?;
    if let Err(err) = reconcile_awaiting(core, cutoff).await {
        tracing::warn!(error = %format!("{err:#}"), "reconciling late payments failed");
    }
    let mut conn = core.db.get().await?;
    let failed = conn
        .transaction::<usize, diesel::result::Error, _>(async |conn| {
            let mut failed = 0;
            for order in orders::lock_expired_open(conn, cutoff, BATCH).await? {
                if saga::fail(conn, &order, TIMEOUT_REASON).await? {
                    failed += 1;
                }
            }
            Ok(failed)
        })
        .await?;
    if failed > 0 {
        core.relay.wake();
        // Their payments may still be open at the provider: the refunder cancels them.
        core.refunds.notify_one();
        tracing::info!(orders.count = failed, "open orders timed out");
    }
    Ok(failed)
}

/// How often to sweep: a quarter of the timeout, between 100 ms and 30 s.
pub fn interval(timeout: Duration) -> Duration {
    (timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(30))
}

pub async fn run(core: Core, timeout: Duration, mut shutdown: Shutdown) {
    let every = interval(timeout);
    loop {
        match sweep_once(&core, timeout).await {
            // A full batch: more may be waiting, go again at once.
            Ok(n) if n as i64 >= BATCH => continue,
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %format!("{err:#}"), "payment-timeout sweep failed"),
        }
        if !super::pause(&mut shutdown, every, None).await {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_follows_the_timeout_within_bounds() {
        assert_eq!(interval(Duration::from_secs(900)), Duration::from_secs(30));
        assert_eq!(interval(Duration::from_secs(2)), Duration::from_millis(500));
        assert_eq!(interval(Duration::from_millis(10)), Duration::from_millis(100));
    }
}
