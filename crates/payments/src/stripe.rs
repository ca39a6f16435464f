//! Stripe PaymentIntents over reqwest (`STRIPE_API_BASE`, form-encoded, `Idempotency-Key`).
//!
//! Every call carries `Authorization: Bearer <STRIPE_SECRET_KEY>` (reqwest marks the header
//! sensitive; the key is never logged) and every write carries an `Idempotency-Key`, so a retry
//! after a timeout returns the first answer instead of charging twice.
//!
//! **TLS:** the workspace builds reqwest without a TLS backend, so this provider only speaks plain
//! `http://` (a local Stripe double such as [`crate::fake_stripe`] or stripe-mock behind a TLS
//! proxy). [`StripeProvider::new`] refuses an `https://` base rather than failing every payment at
//! run time; enable a reqwest TLS feature and flip [`TLS_SUPPORTED`] to talk to api.stripe.com.
//!
//! Error policy: network errors, timeouts, 5xx, 429 and 409 (a concurrent request with the same
//! key is still running) are [`ProviderError::Unavailable`] (retry with the same key); other 4xx
//! are [`ProviderError::Rejected`] with Stripe's `error.message`; a card decline (402 carrying
//! `error.payment_intent`) is not an error but [`PaymentOutcome::Failed`].

use crate::settings::StripeSettings;
use crate::{
    PaymentOutcome, PaymentProvider, PaymentRequest, ProviderError, ProviderFuture, RefundOutcome, RefundRequest,
};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Whether this build's reqwest can open `https://` connections (see the module docs).
pub const TLS_SUPPORTED: bool = false;
/// Stripe's answers are a few kB; anything far larger is not Stripe.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Prefix of the refund `Idempotency-Key`: Stripe scopes keys per account, not per endpoint, so a
/// refund keyed like its payment (e.g. both on the order id) would otherwise be refused.
pub const REFUND_KEY_PREFIX: &str = "refund-";

pub struct StripeProvider {
    settings: StripeSettings,
    http: reqwest::Client,
}

impl std::fmt::Debug for StripeProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeProvider").field("api_base", &self.settings.api_base).finish_non_exhaustive()
    }
}

/// Why a call did not produce a 2xx body.
#[derive(Debug)]
enum Failure {
    Unavailable(String),
    Rejected {
        message: String,
        code: Option<String>,
    },
    /// 402 with the PaymentIntent the decline happened on.
    Declined {
        intent: Box<RawIntent>,
        message: String,
    },
}

impl From<Failure> for ProviderError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Unavailable(message) => ProviderError::Unavailable(message),
            Failure::Rejected { message, .. } | Failure::Declined { message, .. } => ProviderError::Rejected(message),
        }
    }
}

#[derive(Debug, Deserialize)]
struct RawIntent {
    id: String,
    status: String,
    client_secret: Option<String>,
    last_payment_error: Option<RawApiError>,
    cancellation_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawRefund {
    id: String,
    status: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawErrorBody {
    error: RawApiError,
}

#[derive(Debug, Deserialize)]
struct RawApiError {
    message: Option<String>,
    code: Option<String>,
    decline_code: Option<String>,
    payment_intent: Option<Box<RawIntent>>,
}

impl RawApiError {
    fn reason(&self) -> String {
        self.message
            .clone()
            .or_else(|| self.decline_code.clone())
            .or_else(|| self.code.clone())
            .unwrap_or_else(|| "payment declined".to_owned())
    }
}

/// Stripe ids (`pi_...`) go into URL paths: anything but `[A-Za-z0-9_]` is refused locally.
fn check_id(id: &str) -> Result<(), ProviderError> {
    if !id.is_empty() && id.len() <= 255 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(())
    } else {
        Err(ProviderError::Rejected(format!("{id:?} is not a Stripe id")))
    }
}

fn check_key(key: &str) -> Result<(), ProviderError> {
    // Without a key a retried call could charge twice; Stripe caps keys at 255 characters.
    let max = 255 - REFUND_KEY_PREFIX.len();
    if key.trim().is_empty() || key.len() > max {
        return Err(ProviderError::Rejected(format!("the idempotency key must have 1 to {max} bytes")));
    }
    Ok(())
}

fn check_amount(amount_minor: i64) -> Result<(), ProviderError> {
    if amount_minor <= 0 {
        return Err(ProviderError::Rejected(format!("amount must be positive, got {amount_minor}")));
    }
    Ok(())
}

/// Where an intent stands, in the order service's terms.
fn outcome(intent: RawIntent) -> PaymentOutcome {
    match intent.status.as_str() {
        "succeeded" => PaymentOutcome::Succeeded { payment_id: intent.id },
        "canceled" => PaymentOutcome::Failed {
            payment_id: Some(intent.id),
            reason: intent
                .last_payment_error
                .and_then(|error| error.message)
                .or(intent.cancellation_reason)
                .unwrap_or_else(|| "canceled".to_owned()),
        },
        // After a confirmation attempt Stripe sends a declined intent back to
        // `requires_payment_method` with `last_payment_error` set. Without an error the intent was
        // never confirmed (no `STRIPE_PAYMENT_METHOD`): it waits for the customer's client.
        "requires_payment_method" => match intent.last_payment_error {
            Some(error) => PaymentOutcome::Failed { payment_id: Some(intent.id), reason: error.reason() },
            None => PaymentOutcome::Pending { payment_id: intent.id, client_secret: intent.client_secret },
        },
        // processing, requires_action, requires_confirmation, requires_capture and any status Stripe
        // adds later: not final, the webhook (or a later `payment_status`) will tell.
        _ => PaymentOutcome::Pending { payment_id: intent.id, client_secret: intent.client_secret },
    }
}

fn parse<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, Failure> {
    // A 2xx we cannot read leaves the state unknown: retrying with the same key is safe and will
    // return the same answer, so this is "unavailable", not "rejected".
    serde_json::from_slice(body).map_err(|err| Failure::Unavailable(format!("unreadable Stripe {what}: {err}")))
}

impl StripeProvider {
    /// Builds the HTTP client. Fails when `api_base` needs TLS this build lacks (see module docs).
    pub fn new(settings: StripeSettings) -> Result<Self, ProviderError> {
        if !TLS_SUPPORTED && settings.api_base.starts_with("https://") {
            return Err(ProviderError::Rejected(format!(
                "STRIPE_API_BASE={} needs TLS, which this build of reqwest does not include; use an http:// \
                 Stripe double or build reqwest with a TLS feature",
                settings.api_base
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .build()
            .map_err(|err| ProviderError::Unavailable(err.to_string()))?;
        Ok(Self { settings, http })
    }

    /// One Stripe call: auth, optional form body and idempotency key, bounded body, error mapping.
    async fn call(
        &self,
        method: Method,
        path: &str,
        form: Option<&[(&str, String)]>,
        idempotency_key: Option<&str>,
    ) -> Result<Vec<u8>, Failure> {
        let url = format!("{}{path}", self.settings.api_base);
        let mut request = self.http.request(method.clone(), &url).bearer_auth(self.settings.secret_key.expose());
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(form) = form {
            request = request.form(form);
        }
        let unavailable = |err: reqwest::Error| {
            let what = if err.is_timeout() {
                format!("timed out after {} ms", self.settings.timeout.as_millis())
            } else if err.is_connect() {
                "could not connect".to_owned()
            } else {
                "request failed".to_owned()
            };
            Failure::Unavailable(format!("Stripe {method} {path}: {what}: {err}"))
        };
        let mut response = request.send().await.map_err(unavailable)?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unavailable)? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(Failure::Unavailable(format!(
                    "Stripe {method} {path}: answer over {MAX_RESPONSE_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        tracing::debug!(stripe.method = %method, stripe.path = path, http.status = status.as_u16(), "Stripe answered");
        if status.is_success() {
            return Ok(body);
        }

        let error = serde_json::from_slice::<RawErrorBody>(&body).ok().map(|body| body.error);
        let message = error
            .as_ref()
            .and_then(|error| error.message.clone())
            .map(|message| format!("Stripe {method} {path}: {status}: {message}"))
            .unwrap_or_else(|| format!("Stripe {method} {path}: {status}"));
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::CONFLICT {
            return Err(Failure::Unavailable(message));
        }
        if status == StatusCode::UNAUTHORIZED {
            // A configuration problem, not a payment problem: say so loudly, without the key.
            tracing::error!(stripe.path = path, "Stripe refused STRIPE_SECRET_KEY (401)");
        }
        let Some(mut error) = error else {
            return Err(Failure::Rejected { message, code: None });
        };
        if status == StatusCode::PAYMENT_REQUIRED {
            if let Some(intent) = error.payment_intent.take() {
                return Err(Failure::Declined { intent, message: error.reason() });
            }
        }
        Err(Failure::Rejected { message, code: error.code })
    }

    async fn get_intent(&self, payment_id: &str) -> Result<PaymentOutcome, ProviderError> {
        check_id(payment_id)?;
        let body = self.call(Method::GET, &format!("/v1/payment_intents/{payment_id}"), None, None).await?;
        Ok(outcome(parse(&body, "payment intent")?))
    }

    async fn create_intent(&self, request: &PaymentRequest) -> Result<PaymentOutcome, ProviderError> {
        check_key(&request.idempotency_key)?;
        check_amount(request.amount.amount_minor)?;
        let mut form: Vec<(&str, String)> = vec![
            ("amount", request.amount.amount_minor.to_string()),
            ("currency", request.amount.currency.to_ascii_lowercase()),
            ("automatic_payment_methods[enabled]", "true".into()),
            ("automatic_payment_methods[allow_redirects]", "never".into()),
            ("metadata[order_id]", request.order_id.to_string()),
        ];
        // Stripe refuses `confirm=true` without a payment method; without one the intent waits for
        // the customer's client (`Pending` with the client secret).
        if let Some(payment_method) = &self.settings.payment_method {
            form.push(("payment_method", payment_method.clone()));
            form.push(("confirm", "true".into()));
        }
        if let Some(email) = &request.customer_email {
            form.push(("receipt_email", email.clone()));
        }
        match self.call(Method::POST, "/v1/payment_intents", Some(&form), Some(&request.idempotency_key)).await {
            Ok(body) => Ok(outcome(parse(&body, "payment intent")?)),
            Err(Failure::Declined { intent, message }) => {
                Ok(PaymentOutcome::Failed { payment_id: Some(intent.id), reason: message })
            }
            Err(failure) => Err(failure.into()),
        }
    }

    async fn cancel_intent(&self, payment_id: &str) -> Result<PaymentOutcome, ProviderError> {
        check_id(payment_id)?;
        let form = [("cancellation_reason", "abandoned".to_owned())];
        let path = format!("/v1/payment_intents/{payment_id}/cancel");
        match self.call(Method::POST, &path, Some(&form), None).await {
            Ok(body) => Ok(outcome(parse(&body, "payment intent")?)),
            // Already succeeded, already cancelled or processing: report where it stands, so a
            // payment that won the race against the timeout is confirmed (or refunded), not lost.
            Err(Failure::Rejected { code: Some(code), .. }) if code == "payment_intent_unexpected_state" => {
                self.get_intent(payment_id).await
            }
            Err(failure) => Err(failure.into()),
        }
    }

    async fn create_refund(&self, request: &RefundRequest) -> Result<RefundOutcome, ProviderError> {
        check_id(&request.payment_id)?;
        check_key(&request.idempotency_key)?;
        check_amount(request.amount.amount_minor)?;
        let form: [(&str, String); 3] = [
            ("payment_intent", request.payment_id.clone()),
            ("amount", request.amount.amount_minor.to_string()),
            ("metadata[order_id]", request.order_id.to_string()),
        ];
        let key = format!("{REFUND_KEY_PREFIX}{}", request.idempotency_key);
        let body = self.call(Method::POST, "/v1/refunds", Some(&form), Some(&key)).await?;
        let refund: RawRefund = parse(&body, "refund")?;
        Ok(RefundOutcome { refund_id: refund.id, status: refund.status.unwrap_or_else(|| "pending".to_owned()) })
    }
}

impl PaymentProvider for StripeProvider {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn start_payment<'a>(&'a self, request: &'a PaymentRequest) -> ProviderFuture<'a, PaymentOutcome> {
        Box::pin(self.create_intent(request))
    }

    fn payment_status<'a>(&'a self, payment_id: &'a str) -> ProviderFuture<'a, PaymentOutcome> {
        Box::pin(self.get_intent(payment_id))
    }

    fn refund<'a>(&'a self, request: &'a RefundRequest) -> ProviderFuture<'a, RefundOutcome> {
        Box::pin(self.create_refund(request))
    }

    fn cancel_payment<'a>(&'a self, payment_id: &'a str) -> ProviderFuture<'a, PaymentOutcome> {
        Box::pin(self.cancel_intent(payment_id))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use shop_common::settings::Secret;

    fn intent(status: &str, error: Option<&str>) -> RawIntent {
        serde_json::from_value(serde_json::json!({
            "id": "pi_1",
            "status": status,
            "client_secret": "pi_1_secret_x",
            "last_payment_error": error.map(|message| serde_json::json!({ "message": message })),
            "cancellation_reason": null,
        }))
        .unwrap()
    }

    #[test]
    fn statuses_map_to_outcomes() {
        assert_eq!(outcome(intent("succeeded", None)), PaymentOutcome::Succeeded { payment_id: "pi_1".into() });
        for status in ["processing", "requires_action", "requires_confirmation", "requires_capture", "new_status"] {
            assert_eq!(
                outcome(intent(status, None)),
                PaymentOutcome::Pending { payment_id: "pi_1".into(), client_secret: Some("pi_1_secret_x".into()) },
                "{status}"
            );
        }
        assert_eq!(
            outcome(intent("requires_payment_method", Some("Your card was declined."))),
            PaymentOutcome::Failed { payment_id: Some("pi_1".into()), reason: "Your card was declined.".into() }
        );
        assert!(matches!(outcome(intent("requires_payment_method", None)), PaymentOutcome::Pending { .. }));
        assert_eq!(
            outcome(intent("canceled", None)),
            PaymentOutcome::Failed { payment_id: Some("pi_1".into()), reason: "canceled".into() }
        );
    }

    #[test]
    fn ids_that_could_change_the_url_are_refused() {
        assert!(check_id("pi_3MtwBwLkdIwHu7ix28a3tqPa").is_ok());
        for id in ["", "pi_1/cancel", "../v1/refunds", "pi_1?expand=x", "pi 1"] {
            assert!(matches!(check_id(id), Err(ProviderError::Rejected(_))), "{id}");
        }
    }

    #[test]
    fn an_https_base_is_refused_while_tls_is_not_built_in() {
        let settings = StripeSettings::new("https://api.stripe.com", Secret::new("sk"), Secret::new("wh"));
        let err = StripeProvider::new(settings).unwrap_err();
        assert!(err.to_string().contains("STRIPE_API_BASE"), "{err}");
        assert!(!err.is_retryable());
        let settings = StripeSettings::new("http://127.0.0.1:1", Secret::new("sk_secret"), Secret::new("wh"));
        let provider = StripeProvider::new(settings).unwrap();
        assert!(!format!("{provider:?}").contains("sk_secret"));
    }

    #[tokio::test]
    async fn bad_requests_are_refused_before_any_call() {
        let settings = StripeSettings::new("http://127.0.0.1:1", Secret::new("sk"), Secret::new("wh"));
        let provider = StripeProvider::new(settings).unwrap();
        let request = PaymentRequest {
            order_id: uuid::Uuid::nil(),
            amount: shop_common::money::Money::new(0, "EUR"),
            idempotency_key: "k".into(),
            customer_email: None,
        };
        assert!(matches!(provider.start_payment(&request).await, Err(ProviderError::Rejected(_))));
        let request =
            PaymentRequest { amount: shop_common::money::Money::new(5, "EUR"), idempotency_key: " ".into(), ..request };
        assert!(matches!(provider.start_payment(&request).await, Err(ProviderError::Rejected(_))));
    }

    #[tokio::test]
    async fn a_closed_port_is_unavailable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let settings = StripeSettings::new(format!("http://127.0.0.1:{port}"), Secret::new("sk"), Secret::new("wh"));
        let provider = StripeProvider::new(settings).unwrap();
        let err = provider.payment_status("pi_1").await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
    }
}
