//! Payment providers behind one interface, and Stripe webhook verification.
//!
//! The order service holds an `Arc<dyn PaymentProvider>` chosen from settings (`PAYMENT_PROVIDER`):
//! [`instant::InstantProvider`] approves at once (local runs, tests), [`stripe::StripeProvider`] talks
//! to Stripe's PaymentIntents API at `STRIPE_API_BASE` over reqwest. The order's idempotency key is
//! passed through as Stripe's `Idempotency-Key`, so a retried checkout can never charge twice.
//! Stripe's signed webhooks are checked and reduced to a [`webhook::WebhookEvent`] by
//! [`webhook::verify_and_parse`].
//!
//! # Environment ([`settings::PaymentSettings::from_env`])
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `PAYMENT_PROVIDER` | `instant` | `instant` or `stripe`; anything else stops the start |
//! | `STRIPE_SECRET_KEY` | required for `stripe` | API key, sent as `Authorization: Bearer`; never logged |
//! | `STRIPE_WEBHOOK_SECRET` | required for `stripe` | `whsec_...`, verifies `Stripe-Signature` |
//! | `STRIPE_API_BASE` | `https://api.stripe.com` | Stripe or a double; **this build has no TLS**, so only `http://` works (see [`stripe`]) |
//! | `STRIPE_TIMEOUT_MS` | `10000` | bound on each Stripe call, connect included |
//! | `STRIPE_PAYMENT_METHOD` | unset | e.g. `pm_card_visa` (test mode): attached and confirmed server-side; unset, intents wait for the client (`Pending` + client secret) |
//!
//! # Wiring (order service)
//!
//! ```ignore
//! let payments = PaymentSettings::from_env(&env)?;          // at start; errors name the variable
//! let provider: Arc<dyn PaymentProvider> = payments.build_provider()?;
//! // checkout: Succeeded → confirm, Pending → wait for the webhook, Failed → fail and release stock;
//! // Err(e) if e.is_retryable() → retry later with the SAME idempotency key.
//! let outcome = provider.start_payment(&PaymentRequest { order_id, amount, idempotency_key, customer_email }).await?;
//! // POST /webhooks/stripe, with the raw body bytes (never re-serialised JSON):
//! let header = req.headers().get("Stripe-Signature").and_then(|v| v.to_str().ok());
//! match webhook::verify_and_parse(header, &body, secret.expose(), Utc::now(), webhook::DEFAULT_TOLERANCE_SECS) {
//!     Ok(event) => { /* skip if event.id was seen; act on event.kind; answer 200 */ }
//!     Err(_) => { /* answer 400: Stripe retries */ }
//! }
//! // payment timeout: provider.cancel_payment(&payment_id) → Failed, or Succeeded if it won the race.
//! ```
//!
//! # Test double
//!
//! With the `fake-stripe` feature, `fake_stripe::FakeStripe` is a local HTTP server answering like
//! Stripe for the calls above, with scripted outcomes and signed webhook delivery.

#[cfg(feature = "fake-stripe")]
pub mod fake_stripe;
pub mod instant;
pub mod settings;
pub mod stripe;
pub mod webhook;

use shop_common::money::Money;
use std::future::Future;
use std::pin::Pin;
use uuid::Uuid;

/// What the order service asks a provider to charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRequest {
    pub order_id: Uuid,
    pub amount: Money,
    /// The order's `Idempotency-Key` (or the order id for orders created without one): the same
    /// key always yields the same payment at the provider.
    pub idempotency_key: String,
    pub customer_email: Option<String>,
}

/// Where a payment stands at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// Money taken; the order can be confirmed.
    Succeeded { payment_id: String },
    /// Created, waiting for the customer or the provider; the signed webhook will tell.
    Pending { payment_id: String, client_secret: Option<String> },
    /// Declined or cancelled; the order fails and its stock is released.
    Failed { payment_id: Option<String>, reason: String },
}

/// A refund of a succeeded payment (full amount unless a smaller one is given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    pub order_id: Uuid,
    pub payment_id: String,
    pub amount: Money,
    /// Stripe receives it as `refund-<key>`, so it never collides with the payment's own key.
    pub idempotency_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundOutcome {
    pub refund_id: String,
    /// Provider status, e.g. `succeeded` or `pending`.
    pub status: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Network trouble, timeouts, provider 5xx or 429: safe to retry with the same idempotency key.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the request itself (bad key, invalid amount...): retrying will not help.
    #[error("payment provider rejected the request: {0}")]
    Rejected(String),
}

impl ProviderError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, ProviderError::Unavailable(_))
    }
}

pub type ProviderFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send + 'a>>;

/// One payment provider. Implementations must be idempotent per `idempotency_key`.
pub trait PaymentProvider: Send + Sync + 'static {
    /// `instant` or `stripe`: recorded with the payment and in `payment.*` events.
    fn name(&self) -> &'static str;

    /// Creates (and where possible confirms) the payment for an order.
    fn start_payment<'a>(&'a self, request: &'a PaymentRequest) -> ProviderFuture<'a, PaymentOutcome>;

    /// Where a payment stands now: used when a confirm races the webhook or the webhook is late.
    fn payment_status<'a>(&'a self, payment_id: &'a str) -> ProviderFuture<'a, PaymentOutcome>;

    /// Refunds a succeeded payment (a cancelled paid order).
    fn refund<'a>(&'a self, request: &'a RefundRequest) -> ProviderFuture<'a, RefundOutcome>;

    /// Cancels a payment that has not completed (the order service's payment timeout) and returns
    /// where it stands afterwards: `Failed` once cancelled, but `Succeeded` when the money was taken
    /// before the cancel arrived (the caller must then confirm or refund the order, not drop it), or
    /// `Pending` when the provider cannot cancel it right now (Stripe: `processing`; ask again later).
    ///
    /// The default suits providers whose payments never wait ([`instant::InstantProvider`]): nothing
    /// to cancel, so it reports the current status. Safe to call twice.
    fn cancel_payment<'a>(&'a self, payment_id: &'a str) -> ProviderFuture<'a, PaymentOutcome> {
        self.payment_status(payment_id)
    }
}
