//! The order side of the checkout saga (ARCHITECTURE.md §4), shared by the consumer, the webhook,
//! the HTTP handlers and the background tasks.
//!
//! Every function here runs inside the caller's transaction on an order the caller locked
//! (`orders::lock`), and decides from the *locked* status, so concurrent writers (the synchronous
//! payment result and the webhook, a cancel and the timeout sweeper) serialise on the row and each
//! event is written exactly once.

use crate::db::orders::OrderRow;
use crate::db::{orders, payments};
use crate::domain::Status;
use crate::events::publish;
use diesel_async::AsyncPgConnection;
use shop_payments::PaymentOutcome;

/// What applying a payment result left to do after the commit.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// The order moved to another status.
    pub changed: bool,
    /// Money was taken for an order that failed or was cancelled: the refunder must pay it back.
    pub refund_due: bool,
}

/// Applies a provider's answer (synchronous result or webhook) to a locked order.
///
/// - succeeded: an open order is `CONFIRMED` (`order.confirmed`, `payment.succeeded`); a failed or
///   cancelled one is refunded; a confirmed or shipped one is left alone.
/// - pending: a `PENDING` order waits (`AWAITING_PAYMENT`) for the webhook.
/// - failed: an open order is `FAILED` (`order.failed` so inventory releases, `payment.failed`);
///   anything later (a failure arriving after the success) is ignored.
pub async fn apply_payment(
    conn: &mut AsyncPgConnection,
    order: &OrderRow,
    provider: &str,
    outcome: &PaymentOutcome,
) -> diesel::QueryResult<Applied> {
    let id = order.order_id();
    let status = order.status();
    let amount = order.total();
    let mut applied = Applied::default();
    match outcome {
        PaymentOutcome::Succeeded { payment_id } => {
            if payments::record_succeeded(conn, id, provider, payment_id, &amount).await? {
                publish::payment_succeeded(conn, id, payment_id, provider, amount.clone()).await?;
            }
            match status {
                Status::Pending | Status::AwaitingPayment => {
                    if orders::set_status(conn, id, status, Status::Confirmed, None).await? {
                        let lines = orders::lines(conn, id).await?;
                        publish::order_confirmed(conn, order, &lines).await?;
                        applied.changed = true;
                    }
                }
                Status::Failed | Status::Cancelled => {
                    tracing::warn!(order.id = %id, order.status = %status, "payment succeeded for a closed order, refunding");
                    applied.refund_due = payments::require_refund(conn, id).await?;
                }
                Status::Confirmed | Status::Shipped => {}
            }
        }
        PaymentOutcome::Pending { payment_id, client_secret } => {
            if status.is_open() {
                payments::record_pending(conn, id, provider, payment_id, client_secret.as_deref(), &amount).await?;
            }
            if status == Status::Pending {
                applied.changed = orders::set_status(conn, id, status, Status::AwaitingPayment, None).await?;
            }
        }
        PaymentOutcome::Failed { payment_id, reason } => {
            if status.is_open() {
                if payments::record_failed(conn, id, provider, payment_id.as_deref(), &amount, reason).await? {
                    publish::payment_failed(conn, id, payment_id.as_deref(), provider, reason).await?;
                }
                applied.changed = fail(conn, order, "payment_failed").await?;
            } else {
                tracing::info!(order.id = %id, order.status = %status, "late payment failure ignored");
            }
        }
    }
    Ok(applied)
}

/// Fails a locked open order with `reason` (`order.failed`: inventory releases its stock).
/// Returns false if the order was no longer open.
pub async fn fail(conn: &mut AsyncPgConnection, order: &OrderRow, reason: &str) -> diesel::QueryResult<bool> {
    let status = order.status();
    if !status.is_open() {
        return Ok(false);
    }
    let id = order.order_id();
    if !orders::set_status(conn, id, status, Status::Failed, Some(reason)).await? {
        return Ok(false);
    }
    publish::order_ended(conn, publish::ORDER_FAILED, id, reason).await?;
    tracing::info!(order.id = %id, reason, "order failed");
    Ok(true)
}
