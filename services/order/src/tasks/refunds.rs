//! The refunder: pays back payments flagged `refund_required` (a cancelled paid order, money that
//! arrived for a failed order) and emits `payment.refunded` once.
//!
//! The provider is called outside any transaction with the idempotency key `refund:<order id>`, so
//! two runs racing (the cancel handler and this task) refund once; the conditional
//! `mark_refunded` decides which of them records it and writes the event.

use crate::db::payments;
use crate::domain::OrderId;
use crate::events::publish;
use crate::state::Core;
use diesel_async::AsyncConnection;
use shop_common::shutdown::Shutdown;
use shop_payments::RefundRequest;
use std::time::Duration;

const BATCH: i64 = 20;
const POLL_EVERY: Duration = Duration::from_secs(30);

/// Refunds what is due now; returns how many refunds this call recorded.
pub async fn process_due(core: &Core) -> anyhow::Result<usize> {
    let due = {
        let mut conn = core.db.get().await?;
        payments::refunds_due(&mut conn, BATCH).await?
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

pub async fn run(core: Core, mut shutdown: Shutdown) {
    loop {
        if let Err(err) = process_due(&core).await {
            tracing::warn!(error = %format!("{err:#}"), "refund pass failed");
        }
        if !super::pause(&mut shutdown, POLL_EVERY, Some(&core.refunds)).await {
            break;
        }
    }
}
