//! A local HTTP server that answers like Stripe's API (PaymentIntents, refunds, idempotency keys)
//! and can deliver signed webhooks, for tests (feature `fake-stripe`; never in production builds).
//!
//! ```ignore
//! let fake = FakeStripe::start().await;
//! let provider = fake.provider();                  // a StripeProvider pointed at the fake
//! fake.script_next_intent(NextIntent::RequiresAction);
//! let outcome = provider.start_payment(&request).await?;   // Pending
//! let intent = fake.set_intent_status(&payment_id, "succeeded").unwrap();
//! fake.deliver(&webhook_url, "payment_intent.succeeded", &intent).await?;
//! ```
//!
//! What it mimics: Bearer-key checks (401), `Idempotency-Key` replay (same key + same parameters →
//! the stored answer with `Idempotent-Replayed: true`; different parameters → 400
//! `idempotency_error`; a request still running with that key → 409), card declines as 402 with
//! the intent in `error.payment_intent`, cancel/refund state rules. What it does not: amounts,
//! currencies and payment methods are not validated beyond presence; there are no charges objects
//! (a `charge.refunded` webhook is synthesised from the intent).

mod server;

use crate::PaymentProvider;
use crate::settings::{PaymentSettings, StripeSettings};
use crate::stripe::StripeProvider;
use actix_web::dev::ServerHandle;
use serde_json::{Value, json};
use shop_common::settings::Secret;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The API key the fake accepts (`Authorization: Bearer ...`).
pub const FAKE_SECRET_KEY: &str = "sk_test_fake_stripe";
/// The secret the fake signs webhooks with.
pub const FAKE_WEBHOOK_SECRET: &str = "whsec_fake_stripe";
/// The payment method [`FakeStripe::settings`] configures, so intents are confirmed server-side.
pub const FAKE_PAYMENT_METHOD: &str = "pm_card_visa";

/// How the fake settles the next confirmed PaymentIntent (default: [`NextIntent::Succeeded`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextIntent {
    Succeeded,
    /// 3-D Secure or similar: `requires_action`, with a client secret.
    RequiresAction,
    Processing,
    /// A card decline: 402 `card_error`, the intent left in `requires_payment_method`.
    Declined {
        message: String,
    },
}

/// A failure served instead of (or before) the next request's normal answer, whatever the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and a Stripe error body; nothing is executed or stored.
    Status { status: u16, message: String },
    /// Wait this long, then answer normally (a slow Stripe: the client times out, the work happens).
    Delay(Duration),
}

/// One request as the fake received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub idempotency_key: Option<String>,
    /// Decoded form parameters, in the order sent.
    pub params: Vec<(String, String)>,
}

impl RecordedRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

/// A running fake; the server stops when this is dropped.
pub struct FakeStripe {
    addr: SocketAddr,
    state: Arc<Mutex<server::State>>,
    handle: ServerHandle,
    http: reqwest::Client,
}

impl FakeStripe {
    /// Starts on `127.0.0.1:<free port>` inside the current Tokio runtime.
    ///
    /// # Panics
    /// When no local port can be bound: a test set-up failure.
    pub async fn start() -> Self {
        match Self::try_start().await {
            Ok(fake) => fake,
            Err(err) => panic!("could not start the fake Stripe server: {err}"),
        }
    }

    pub async fn try_start() -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(server::State::new(FAKE_SECRET_KEY)));
        let server = server::run(listener, state.clone())?;
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Self { addr, state, handle, http: reqwest::Client::new() })
    }

    /// `http://127.0.0.1:<port>`: the `STRIPE_API_BASE` to use.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Settings for a [`StripeProvider`] talking to this fake: its keys, [`FAKE_PAYMENT_METHOD`]
    /// (intents are confirmed at creation) and a 5 s timeout.
    pub fn settings(&self) -> StripeSettings {
        let mut settings =
            StripeSettings::new(self.base_url(), Secret::new(FAKE_SECRET_KEY), Secret::new(FAKE_WEBHOOK_SECRET));
        settings.timeout = Duration::from_secs(5);
        settings.payment_method = Some(FAKE_PAYMENT_METHOD.to_owned());
        settings
    }

    /// [`FakeStripe::settings`] as the order service's [`PaymentSettings`].
    pub fn payment_settings(&self) -> PaymentSettings {
        PaymentSettings::Stripe(self.settings())
    }

    /// A provider built from [`FakeStripe::settings`].
    ///
    /// # Panics
    /// Never for an `http://` base; a panic here is a bug in the fake.
    pub fn provider(&self) -> Arc<dyn PaymentProvider> {
        match StripeProvider::new(self.settings()) {
            Ok(provider) => Arc::new(provider),
            Err(err) => panic!("the fake's settings do not build a provider: {err}"),
        }
    }

    pub fn webhook_secret(&self) -> &'static str {
        FAKE_WEBHOOK_SECRET
    }

    fn state(&self) -> MutexGuard<'_, server::State> {
        // A test that panicked while holding the lock must not hide the original failure.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues how the next confirmed intent settles (one entry per intent, first in first out).
    pub fn script_next_intent(&self, next: NextIntent) {
        self.state().script.push_back(next);
    }

    /// Queues a fault for the next request (one entry per request, first in first out).
    pub fn fail_next(&self, fault: Fault) {
        self.state().faults.push_back(fault);
    }

    /// How many PaymentIntents were created (replays and rejected requests do not count).
    pub fn intents_created(&self) -> usize {
        self.state().intents_created
    }

    /// How many refunds were created (replays and rejected requests do not count).
    pub fn refunds(&self) -> usize {
        self.state().refunds_created
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    /// The stored intent as Stripe would return it.
    pub fn intent(&self, payment_id: &str) -> Option<Value> {
        self.state().intents.get(payment_id).cloned()
    }

    /// Every stored intent id, in creation order.
    pub fn intent_ids(&self) -> Vec<String> {
        self.state().intent_order.clone()
    }

    /// Moves an intent to `status` as if the customer or the bank acted (e.g. a pending intent
    /// becomes `succeeded`); returns the updated intent for [`FakeStripe::webhook`].
    pub fn set_intent_status(&self, payment_id: &str, status: &str) -> Option<Value> {
        self.state().set_status(payment_id, status)
    }

    /// A signed webhook for `event_type` about `object` (an intent from [`FakeStripe::intent`]):
    /// `(raw body, Stripe-Signature header)`, with a fresh `evt_` id and the current time. For
    /// `charge.*` events the object is turned into the intent's charge, as Stripe sends it.
    pub fn webhook(&self, event_type: &str, object: &Value) -> (Vec<u8>, String) {
        let now = chrono::Utc::now().timestamp();
        let object = if event_type.starts_with("charge.") { charge_for(object) } else { object.clone() };
        let event = json!({
            "id": format!("evt_{}", server::random_suffix()),
            "object": "event",
            "api_version": "2024-06-20",
            "created": now,
            "livemode": false,
            "pending_webhooks": 1,
            "request": { "id": null, "idempotency_key": null },
            "type": event_type,
            "data": { "object": object },
        });
        let body = event.to_string().into_bytes();
        let header = crate::webhook::sign(&body, FAKE_WEBHOOK_SECRET, now);
        (body, header)
    }

    /// Builds a webhook like [`FakeStripe::webhook`] and POSTs it to `url`; returns the status the
    /// receiver answered and the body sent (to replay it with [`FakeStripe::deliver_signed`]).
    pub async fn deliver(
        &self,
        url: &str,
        event_type: &str,
        object: &Value,
    ) -> Result<(reqwest::StatusCode, Vec<u8>, String), reqwest::Error> {
        let (body, header) = self.webhook(event_type, object);
        let status = self.deliver_signed(url, &body, &header).await?;
        Ok((status, body, header))
    }

    /// POSTs an already built webhook, as Stripe does: `application/json` and `Stripe-Signature`.
    pub async fn deliver_signed(
        &self,
        url: &str,
        body: &[u8],
        signature: &str,
    ) -> Result<reqwest::StatusCode, reqwest::Error> {
        let response = self
            .http
            .post(url)
            .header("Content-Type", "application/json; charset=utf-8")
            .header("Stripe-Signature", signature)
            .body(body.to_vec())
            .send()
            .await?;
        Ok(response.status())
    }
}

impl Drop for FakeStripe {
    fn drop(&mut self) {
        // `stop` sends the command at once; the returned future only waits for completion.
        drop(self.handle.stop(false));
    }
}

/// The charge Stripe would attach to `intent`, refunded in full (for `charge.*` webhooks).
fn charge_for(intent: &Value) -> Value {
    let amount = intent.get("amount").cloned().unwrap_or(Value::Null);
    json!({
        "id": format!("ch_{}", server::random_suffix()),
        "object": "charge",
        "payment_intent": intent.get("id").cloned().unwrap_or(Value::Null),
        "amount": amount,
        "amount_refunded": amount,
        "currency": intent.get("currency").cloned().unwrap_or(Value::Null),
        "metadata": intent.get("metadata").cloned().unwrap_or_else(|| json!({})),
        "refunded": true,
        "status": "succeeded",
    })
}

impl std::fmt::Debug for FakeStripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeStripe").field("addr", &self.addr).finish_non_exhaustive()
    }
}
