//! The refunder: pays back payments flagged `refund_required` (a cancelled paid order, money that
//! arrived for a failed order) and emits `payment.refunded` once. It also cancels payments still
//! pending at the provider for orders that failed (timeout) or were cancelled, so the customer can
//! no longer pay them; one that turns out to have succeeded meanwhile is refunded.
//!
//! The provider is called outside any transaction with the idempotency key `refund:<order id>`, so
//! two runs racing (the cancel handler and this task) refund once; the conditional
//! `mark_refunded` decides which of them records it and writes the event.

use crate::db::{orders, payments};
use crate::domain::OrderId;
use crate::events::publish;
use crate::saga;
use crate::state::Core;
use diesel_async::AsyncConnection;
use shop_common::shutdown::Shutdown;
use shop_payments::{PaymentOutcome, RefundRequest};
use std::time::Duration;

const BATCH: i64 = 20;
const POLL_EVERY: Duration = Duration::from_secs(30);

/// Refunds what is due now (only `only`'s payment when given); returns how many refunds this call
/// recorded.
pub async fn process_due(core: &Core, only: Option<OrderId>) -> anyhow::Result<usize> {
    let due = {
        let mut conn = core.db.get().await?;
        payments::refunds_due(&mut conn, only, BATCH).await?
    };
    let mut recorded = 0;
    for payment in due {
        let order_id = OrderId(payment.order_id);
        let Some(payment_id) = payment.payment_id.clone() else {
            tracing::error!(order.id = %order_id, "a succeeded payment without a provider id cannot be refunded");
            continue;
        };
        let request = RefundRequest {
            order_id: payment.order_id,
            payment_id: payment_id.clone(),
            amount: payment.amount(),
            idempotency_key: format!("refund:{}", payment.order_id),
        };
        match core.provider.refund(&request).await {
            Ok(refund) => {
                let mut conn = core.db.get().await?;
                let provider = payment.provider.clone();
                let done = conn
                    .transaction::<bool, diesel::result::Error, _>(async |conn| {
                        let Some(row) = payments::mark_refunded(conn, order_id, &refund.refund_id).await? else {
                            return Ok(false);
                        };
                        publish::payment_refunded(conn, order_id, &payment_id, &provider, row.amount()).await?;
                        Ok(true)
                    })
                    .await?;
                if done {
                    recorded += 1;
                    core.relay.wake();
                    tracing::info!(order.id = %order_id, refund.id = %refund.refund_id, "payment refunded");
                }
            }
            Err(err) => {
                tracing::warn!(order.id = %order_id, error = %err, attempts = payment.refund_attempts + 1, "refund failed, will retry");
                let mut conn = core.db.get().await?;
                payments::refund_attempt_failed(&mut conn, order_id).await?;
            }
        }
    }
    Ok(recorded)
}

/// Cancels pending payments of closed orders; returns how many were settled (cancelled or found paid).
pub async fn cancel_abandoned(core: &Core) -> anyhow::Result<usize> {
    let abandoned = {
        let mut conn = core.db.get().await?;
        payments::pending_on_closed_orders(&mut conn, BATCH).await?
    };
    let mut settled = 0;
    for payment in abandoned {
        let order_id = OrderId(payment.order_id);
        let Some(payment_id) = payment.payment_id.clone() else { continue };
        let outcome = match core.provider.cancel_payment(&payment_id).await {
            Ok(outcome) => outcome,
            Err(err) => {
                tracing::warn!(order.id = %order_id, error = %err, "cancelling an abandoned payment failed, will retry");
                continue;
            }
        };
        let provider = payment.provider.clone();
        let mut conn = core.db.get().await?;
        let refund_due = conn
            .transaction::<bool, diesel::result::Error, _>(async |conn| {
                let Some(order) = orders::lock(conn, order_id).await? else { return Ok(false) };
                match &outcome {
                    PaymentOutcome::Failed { reason, .. } => {
                        let amount = order.total();
                        if payments::record_failed(conn, order_id, &provider, Some(&payment_id), &amount, reason)
                            .await?
                        {
                            publish::payment_failed(conn, order_id, Some(&payment_id), &provider, reason).await?;
                        }
                        Ok(false)
                    }
                    // Paid before the cancel arrived: recorded, and refunded since the order is closed.
                    PaymentOutcome::Succeeded { .. } => {
                        Ok(saga::apply_payment(conn, &order, &provider, &outcome).await?.refund_due)
                    }
                    // The provider cannot cancel it yet (e.g. processing): ask again next pass.
                    PaymentOutcome::Pending { .. } => Ok(false),
                }
            })
            .await?;
        if !matches!(outcome, PaymentOutcome::Pending { .. }) {
            settled += 1;
            core.relay.wake();
        }
        if refund_due {
            process_due(core, Some(order_id)).await?;
        }
    }
    Ok(settled)
}

pub async fn run(core: Core, mut shutdown: Shutdown) {
    loop {
        if let Err(err) = cancel_abandoned(&core).await {
            tracing::warn!(error = %format!("{err:#}"), "cancelling abandoned payments failed");
        }
        if let Err(err) = process_due(&core, None).await {
            tracing::warn!(error = %format!("{err:#}"), "refund pass failed");
        }
        if !super::pause(&mut shutdown, POLL_EVERY, Some(&core.refunds)).await {
            break;
        }
    }
}
