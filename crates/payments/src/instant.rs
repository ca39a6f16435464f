//! The local-run provider: every payment succeeds at once, refunds too.
//!
//! Payment ids are derived from the idempotency key, so a retried checkout gets the same id, just
//! as Stripe returns the same PaymentIntent for a repeated `Idempotency-Key`.

use crate::{PaymentOutcome, PaymentProvider, PaymentRequest, ProviderFuture, RefundOutcome, RefundRequest};
use sha2::{Digest, Sha256};

#[derive(Debug, Default, Clone)]
pub struct InstantProvider;

fn derived_id(prefix: &str, key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    format!("{prefix}_{}", hex::encode(&digest[..12]))
}

impl PaymentProvider for InstantProvider {
    fn name(&self) -> &'static str {
        "instant"
    }

    fn start_payment<'a>(&'a self, request: &'a PaymentRequest) -> ProviderFuture<'a, PaymentOutcome> {
        Box::pin(
            async move { Ok(PaymentOutcome::Succeeded { payment_id: derived_id("inst", &request.idempotency_key) }) },
        )
    }

    fn payment_status<'a>(&'a self, payment_id: &'a str) -> ProviderFuture<'a, PaymentOutcome> {
        Box::pin(async move { Ok(PaymentOutcome::Succeeded { payment_id: payment_id.to_owned() }) })
    }

    fn refund<'a>(&'a self, request: &'a RefundRequest) -> ProviderFuture<'a, RefundOutcome> {
        Box::pin(async move {
            Ok(RefundOutcome { refund_id: derived_id("instre", &request.idempotency_key), status: "succeeded".into() })
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use shop_common::money::Money;
    use uuid::Uuid;

    #[tokio::test]
    async fn the_same_key_gives_the_same_payment() {
        let request = |key: &str| PaymentRequest {
            order_id: Uuid::nil(),
            amount: Money::new(1000, "EUR"),
            idempotency_key: key.into(),
            customer_email: None,
        };
        let provider = InstantProvider;
        let first = provider.start_payment(&request("k1")).await.unwrap();
        assert_eq!(first, provider.start_payment(&request("k1")).await.unwrap());
        assert_ne!(first, provider.start_payment(&request("k2")).await.unwrap());
        assert!(matches!(first, PaymentOutcome::Succeeded { .. }));
    }

    #[tokio::test]
    async fn cancel_reports_the_payment_as_it_stands() {
        let provider: std::sync::Arc<dyn PaymentProvider> = std::sync::Arc::new(InstantProvider);
        let outcome = provider.cancel_payment("inst_1").await.unwrap();
        assert_eq!(outcome, PaymentOutcome::Succeeded { payment_id: "inst_1".into() });
    }
}
