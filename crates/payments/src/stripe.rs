//! Stripe PaymentIntents over reqwest (`STRIPE_API_BASE`, form-encoded, `Idempotency-Key`).

use crate::settings::StripeSettings;
use crate::{
    PaymentOutcome, PaymentProvider, PaymentRequest, ProviderError, ProviderFuture, RefundOutcome, RefundRequest,
};

pub struct StripeProvider {
    settings: StripeSettings,
    http: reqwest::Client,
}

impl StripeProvider {
    pub fn new(settings: StripeSettings) -> Result<Self, ProviderError> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()
            .map_err(|err| ProviderError::Unavailable(err.to_string()))?;
        Ok(Self { settings, http })
    }
}

impl PaymentProvider for StripeProvider {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn start_payment<'a>(&'a self, request: &'a PaymentRequest) -> ProviderFuture<'a, PaymentOutcome> {
        let _ = (&self.settings, &self.http, request);
        Box::pin(async move { Err(ProviderError::Unavailable("being written (payments helper)".into())) })
    }

    fn payment_status<'a>(&'a self, payment_id: &'a str) -> ProviderFuture<'a, PaymentOutcome> {
        let _ = payment_id;
        Box::pin(async move { Err(ProviderError::Unavailable("being written (payments helper)".into())) })
    }

    fn refund<'a>(&'a self, request: &'a RefundRequest) -> ProviderFuture<'a, RefundOutcome> {
        let _ = request;
        Box::pin(async move { Err(ProviderError::Unavailable("being written (payments helper)".into())) })
    }
}
