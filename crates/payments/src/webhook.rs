//! `Stripe-Signature` verification and the webhook events the order service acts on.
//!
//! Header format: `t=<unix seconds>,v1=<hex hmac-sha256 of "<t>.<raw body>">[,v1=...]` (several `v1`
//! during secret rotation; other schemes such as `v0` are ignored). A body is accepted only when one
//! `v1` matches (constant-time comparison) and `t` is within the tolerance (default 5 minutes) of
//! now, in either direction. Replays of a valid event inside the window are stopped by the caller,
//! which records processed event ids.
//!
//! The signature is checked over the *raw* bytes as received: the caller must not re-serialise the
//! JSON before calling [`verify_and_parse`]. Inputs are bounded ([`MAX_HEADER_BYTES`],
//! [`MAX_BODY_BYTES`]) so a hostile request costs little.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;
use shop_common::money::Money;
use uuid::Uuid;

pub const DEFAULT_TOLERANCE_SECS: i64 = 300;
/// Longer `Stripe-Signature` headers are rejected as malformed before any parsing.
pub const MAX_HEADER_BYTES: usize = 4096;
/// Larger bodies are rejected before the HMAC is computed (Stripe's payment events are a few kB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header is malformed")]
    Malformed,
    #[error("the Stripe-Signature timestamp is outside the tolerance")]
    TimestampOutOfTolerance,
    #[error("no Stripe-Signature v1 signature matches the body")]
    NoMatchingSignature,
}

/// A verified webhook event, reduced to what the order service needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// Stripe's `evt_...` id: the replay / duplicate key.
    pub id: String,
    /// Stripe's `created` (unix seconds): lets the caller ignore out-of-order stale events.
    pub created: i64,
    pub kind: WebhookKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookKind {
    /// `payment_intent.succeeded`
    PaymentSucceeded { payment_id: String, order_id: Option<Uuid>, amount: Money },
    /// `payment_intent.payment_failed` or `payment_intent.canceled`
    PaymentFailed { payment_id: String, order_id: Option<Uuid>, reason: String },
    /// `charge.refunded` (also sent for partial refunds); `payment_id` is the charge's PaymentIntent.
    /// `order_id` comes from the charge's metadata, which may be empty: look the order up by
    /// `payment_id`.
    Refunded { payment_id: String, order_id: Option<Uuid> },
    /// Anything else: acknowledged (2xx) and ignored.
    Other { event_type: String },
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("the webhook body is not a Stripe event: {0}")]
    Body(String),
}

/// Verifies `header` over the raw `body` with `secret` at time `now`, then parses the event.
///
/// Answer `400` to Stripe on any error (it retries later), `2xx` on success, also for
/// [`WebhookKind::Other`].
pub fn verify_and_parse(
    header: Option<&str>,
    body: &[u8],
    secret: &str,
    now: DateTime<Utc>,
    tolerance_secs: i64,
) -> Result<WebhookEvent, WebhookError> {
    verify(header, body, secret, now, tolerance_secs)?;
    parse_event(body)
}

/// Builds a valid `Stripe-Signature` header (tests, the fake Stripe server).
pub fn sign(body: &[u8], secret: &str, timestamp: i64) -> String {
    format!("t={timestamp},v1={}", hex::encode(signed_payload_mac(body, secret, timestamp).finalize().into_bytes()))
}

fn signed_payload_mac(body: &[u8], secret: &str, timestamp: i64) -> HmacSha256 {
    // HMAC takes keys of any length, so this never fails; an impossible error yields a MAC over a
    // different key, which simply matches nothing.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default()));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The parsed header: the timestamp and every `v1` signature (decoded).
#[derive(Debug, PartialEq, Eq)]
struct SignatureHeader {
    timestamp: i64,
    v1: Vec<Vec<u8>>,
}

fn parse_header(header: &str) -> Result<SignatureHeader, SignatureError> {
    if header.len() > MAX_HEADER_BYTES {
        return Err(SignatureError::Malformed);
    }
    let mut timestamp = None;
    let mut v1 = Vec::new();
    for item in header.split(',') {
        let Some((key, value)) = item.split_once('=') else {
            return Err(SignatureError::Malformed);
        };
        match key.trim() {
            "t" => {
                let value = value.trim();
                // Digits only: `i64::from_str` would also accept a sign.
                if timestamp.is_some() || value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(SignatureError::Malformed);
                }
                timestamp = Some(value.parse::<i64>().map_err(|_| SignatureError::Malformed)?);
            }
            "v1" => {
                let bytes = hex::decode(value.trim()).map_err(|_| SignatureError::Malformed)?;
                if bytes.len() != 32 {
                    return Err(SignatureError::Malformed);
                }
                v1.push(bytes);
            }
            // `v0` (test-mode SHA-1 scheme) and any future scheme: ignored, as Stripe's libraries do.
            _ => {}
        }
    }
    match timestamp {
        Some(timestamp) if !v1.is_empty() => Ok(SignatureHeader { timestamp, v1 }),
        _ => Err(SignatureError::Malformed),
    }
}

fn verify(
    header: Option<&str>,
    body: &[u8],
    secret: &str,
    now: DateTime<Utc>,
    tolerance_secs: i64,
) -> Result<(), WebhookError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let parsed = parse_header(header)?;
    if body.len() > MAX_BODY_BYTES {
        return Err(WebhookError::Body(format!("larger than {MAX_BODY_BYTES} bytes")));
    }
    // An empty secret would make every signature forgeable: a misconfiguration must fail closed.
    if secret.is_empty() {
        return Err(SignatureError::NoMatchingSignature.into());
    }
    let mac = signed_payload_mac(body, secret, parsed.timestamp);
    // `verify_slice` compares in constant time; any matching v1 (rotation) is enough.
    if !parsed.v1.iter().any(|candidate| mac.clone().verify_slice(candidate).is_ok()) {
        return Err(SignatureError::NoMatchingSignature.into());
    }
    let tolerance = u64::try_from(tolerance_secs).unwrap_or(0);
    if now.timestamp().abs_diff(parsed.timestamp) > tolerance {
        return Err(SignatureError::TimestampOutOfTolerance.into());
    }
    Ok(())
}

#[derive(Deserialize)]
struct RawEvent {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    created: i64,
    data: RawData,
}

#[derive(Deserialize)]
struct RawData {
    object: Value,
}

#[derive(Deserialize)]
struct RawPaymentIntent {
    id: String,
    amount: Option<i64>,
    amount_received: Option<i64>,
    currency: Option<String>,
    #[serde(default)]
    metadata: Option<Value>,
    last_payment_error: Option<RawPaymentError>,
    cancellation_reason: Option<String>,
}

#[derive(Deserialize)]
struct RawPaymentError {
    message: Option<String>,
}

#[derive(Deserialize)]
struct RawCharge {
    id: String,
    payment_intent: Option<String>,
    #[serde(default)]
    metadata: Option<Value>,
}

fn body_error(what: &str) -> impl Fn(serde_json::Error) -> WebhookError + '_ {
    move |err| WebhookError::Body(format!("{what}: {err}"))
}

/// Our order id, from the `metadata[order_id]` the provider set on the PaymentIntent. A value that is
/// not a UUID is treated as absent: the caller falls back to the payment id.
fn order_id(metadata: Option<&Value>) -> Option<Uuid> {
    metadata?.get("order_id")?.as_str()?.trim().parse().ok()
}

fn parse_event(body: &[u8]) -> Result<WebhookEvent, WebhookError> {
    let event: RawEvent = serde_json::from_slice(body).map_err(body_error("event"))?;
    if event.id.is_empty() {
        return Err(WebhookError::Body("empty event id".into()));
    }
    let kind = match event.event_type.as_str() {
        "payment_intent.succeeded" => {
            let intent: RawPaymentIntent =
                serde_json::from_value(event.data.object).map_err(body_error("payment intent"))?;
            let amount_minor = intent
                .amount_received
                .filter(|amount| *amount > 0)
                .or(intent.amount)
                .ok_or_else(|| WebhookError::Body("payment intent without an amount".into()))?;
            let currency = intent
                .currency
                .filter(|currency| !currency.is_empty())
                .ok_or_else(|| WebhookError::Body("payment intent without a currency".into()))?;
            WebhookKind::PaymentSucceeded {
                order_id: order_id(intent.metadata.as_ref()),
                payment_id: intent.id,
                amount: Money::new(amount_minor, currency.to_ascii_uppercase()),
            }
        }
        "payment_intent.payment_failed" | "payment_intent.canceled" => {
            let intent: RawPaymentIntent =
                serde_json::from_value(event.data.object).map_err(body_error("payment intent"))?;
            let default_reason =
                if event.event_type == "payment_intent.canceled" { "canceled" } else { "payment failed" };
            let reason = intent
                .last_payment_error
                .and_then(|error| error.message)
                .or(intent.cancellation_reason)
                .filter(|reason| !reason.is_empty())
                .unwrap_or_else(|| default_reason.to_owned());
            WebhookKind::PaymentFailed { order_id: order_id(intent.metadata.as_ref()), payment_id: intent.id, reason }
        }
        "charge.refunded" => {
            let charge: RawCharge = serde_json::from_value(event.data.object).map_err(body_error("charge"))?;
            let payment_id = charge.payment_intent.filter(|id| !id.is_empty()).ok_or_else(|| {
                WebhookError::Body(format!("charge {} is not attached to a payment intent", charge.id))
            })?;
            WebhookKind::Refunded { order_id: order_id(charge.metadata.as_ref()), payment_id }
        }
        _ => WebhookKind::Other { event_type: event.event_type },
    };
    Ok(WebhookEvent { id: event.id, created: event.created, kind })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    const SECRET: &str = "whsec_test_secret";
    const NOW: i64 = 1_800_000_000;
    const ORDER: &str = "0190f3a4-5b6c-7d8e-9f00-112233445566";

    fn now() -> DateTime<Utc> {
        Utc.timestamp_opt(NOW, 0).unwrap()
    }

    fn event(event_type: &str, object: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "id": "evt_123",
            "object": "event",
            "type": event_type,
            "created": NOW - 5,
            "livemode": false,
            "data": { "object": object },
        }))
        .unwrap()
    }

    fn intent_event(event_type: &str) -> Vec<u8> {
        event(
            event_type,
            json!({
                "id": "pi_123",
                "object": "payment_intent",
                "amount": 2599,
                "amount_received": 2599,
                "currency": "eur",
                "metadata": { "order_id": ORDER },
                "status": "succeeded",
            }),
        )
    }

    fn check(header: Option<&str>, body: &[u8]) -> Result<WebhookEvent, WebhookError> {
        verify_and_parse(header, body, SECRET, now(), DEFAULT_TOLERANCE_SECS)
    }

    fn signature_error(result: Result<WebhookEvent, WebhookError>) -> SignatureError {
        match result {
            Err(WebhookError::Signature(err)) => err,
            other => panic!("expected a signature error, got {other:?}"),
        }
    }

    fn hex_sig(body: &[u8], secret: &str, t: i64) -> String {
        sign(body, secret, t).split_once(",v1=").unwrap().1.to_owned()
    }

    #[test]
    fn a_valid_signature_is_accepted() {
        let body = intent_event("payment_intent.succeeded");
        let event = check(Some(&sign(&body, SECRET, NOW)), &body).unwrap();
        assert_eq!(event.id, "evt_123");
        assert_eq!(event.created, NOW - 5);
    }

    #[test]
    fn sign_matches_a_known_vector() {
        // HMAC-SHA256("secret", "1.{}") computed independently (Python's hmac module).
        assert_eq!(sign(b"{}", "secret", 1), "t=1,v1=1122767b193110cfec322b6f199b599edbf608ed087f2d27afb0b97d99523908");
    }

    #[test]
    fn an_altered_body_is_rejected() {
        let body = intent_event("payment_intent.succeeded");
        let header = sign(&body, SECRET, NOW);
        let mut altered = body.clone();
        let at = altered.iter().position(|b| *b == b'9').unwrap();
        altered[at] = b'1';
        assert_eq!(signature_error(check(Some(&header), &altered)), SignatureError::NoMatchingSignature);
    }

    #[test]
    fn a_wrong_secret_is_rejected() {
        let body = intent_event("payment_intent.succeeded");
        let header = sign(&body, "whsec_other", NOW);
        assert_eq!(signature_error(check(Some(&header), &body)), SignatureError::NoMatchingSignature);
    }

    #[test]
    fn an_empty_secret_never_verifies() {
        let body = intent_event("payment_intent.succeeded");
        let header = sign(&body, "", NOW);
        let result = verify_and_parse(Some(&header), &body, "", now(), DEFAULT_TOLERANCE_SECS);
        assert_eq!(signature_error(result), SignatureError::NoMatchingSignature);
    }

    #[test]
    fn a_missing_header_is_rejected() {
        let body = intent_event("payment_intent.succeeded");
        assert_eq!(signature_error(check(None, &body)), SignatureError::Missing);
    }

    #[test]
    fn malformed_headers_are_rejected() {
        let body = intent_event("payment_intent.succeeded");
        let good = hex_sig(&body, SECRET, NOW);
        let cases = [
            String::new(),
            "garbage".to_owned(),
            format!("v1={good}"),
            format!("t=,v1={good}"),
            format!("t=abc,v1={good}"),
            format!("t=-{NOW},v1={good}"),
            format!("t=99999999999999999999999,v1={good}"),
            format!("t={NOW},t={NOW},v1={good}"),
            format!("t={NOW}"),
            format!("t={NOW},v0={good}"),
            format!("t={NOW},v1="),
            format!("t={NOW},v1={}", &good[1..]),
            format!("t={NOW},v1={}zz", &good[2..]),
            format!("t={NOW},v1={}", &good[2..]),
            format!("t={NOW},v1={good},junk"),
            format!("t={NOW},v1={good},v0={}", "a".repeat(MAX_HEADER_BYTES)),
        ];
        for header in cases {
            assert_eq!(
                signature_error(check(Some(&header), &body)),
                SignatureError::Malformed,
                "{}",
                &header[..header.len().min(80)]
            );
        }
    }

    #[test]
    fn other_schemes_and_spaces_are_tolerated() {
        let body = intent_event("payment_intent.succeeded");
        let good = hex_sig(&body, SECRET, NOW);
        let header = format!("t={NOW}, v0=deadbeef, v1={good}, scheme9=x");
        assert!(check(Some(&header), &body).is_ok());
    }

    #[test]
    fn timestamps_outside_the_tolerance_are_rejected() {
        let body = intent_event("payment_intent.succeeded");
        for t in [NOW - DEFAULT_TOLERANCE_SECS - 1, NOW + DEFAULT_TOLERANCE_SECS + 1, 0] {
            let header = sign(&body, SECRET, t);
            assert_eq!(signature_error(check(Some(&header), &body)), SignatureError::TimestampOutOfTolerance, "{t}");
        }
        for t in [NOW - DEFAULT_TOLERANCE_SECS, NOW + DEFAULT_TOLERANCE_SECS] {
            assert!(check(Some(&sign(&body, SECRET, t)), &body).is_ok(), "{t}");
        }
    }

    #[test]
    fn a_negative_tolerance_means_exact_time_only() {
        let body = intent_event("payment_intent.succeeded");
        assert!(verify_and_parse(Some(&sign(&body, SECRET, NOW)), &body, SECRET, now(), -5).is_ok());
        let header = sign(&body, SECRET, NOW - 1);
        assert_eq!(
            signature_error(verify_and_parse(Some(&header), &body, SECRET, now(), -5)),
            SignatureError::TimestampOutOfTolerance
        );
    }

    #[test]
    fn a_rotated_secret_matches_the_second_v1() {
        let body = intent_event("payment_intent.succeeded");
        let old = hex_sig(&body, "whsec_old", NOW);
        let new = hex_sig(&body, SECRET, NOW);
        let header = format!("t={NOW},v1={old},v1={new}");
        assert!(check(Some(&header), &body).is_ok());
        let header = format!("t={NOW},v1={old},v1={old}");
        assert_eq!(signature_error(check(Some(&header), &body)), SignatureError::NoMatchingSignature);
    }

    #[test]
    fn an_oversized_body_is_rejected_before_hashing() {
        let body = vec![b' '; MAX_BODY_BYTES + 1];
        let header = sign(&body, SECRET, NOW);
        assert!(matches!(check(Some(&header), &body), Err(WebhookError::Body(_))));
    }

    fn parse(body: &[u8]) -> WebhookKind {
        check(Some(&sign(body, SECRET, NOW)), body).unwrap().kind
    }

    #[test]
    fn payment_succeeded_is_parsed() {
        let kind = parse(&intent_event("payment_intent.succeeded"));
        assert_eq!(
            kind,
            WebhookKind::PaymentSucceeded {
                payment_id: "pi_123".into(),
                order_id: Some(ORDER.parse().unwrap()),
                amount: Money::new(2599, "EUR"),
            }
        );
    }

    #[test]
    fn payment_succeeded_falls_back_to_amount_and_tolerates_missing_metadata() {
        let body = event(
            "payment_intent.succeeded",
            json!({ "id": "pi_9", "amount": 100, "currency": "usd", "metadata": { "order_id": "not-a-uuid" } }),
        );
        assert_eq!(
            parse(&body),
            WebhookKind::PaymentSucceeded { payment_id: "pi_9".into(), order_id: None, amount: Money::new(100, "USD") }
        );
        let body = event("payment_intent.succeeded", json!({ "id": "pi_9", "amount": 100, "currency": "usd" }));
        assert!(matches!(parse(&body), WebhookKind::PaymentSucceeded { order_id: None, .. }));
    }

    #[test]
    fn payment_failed_is_parsed_with_the_error_message() {
        let body = event(
            "payment_intent.payment_failed",
            json!({
                "id": "pi_123", "amount": 2599, "currency": "eur", "status": "requires_payment_method",
                "metadata": { "order_id": ORDER },
                "last_payment_error": { "code": "card_declined", "message": "Your card was declined." },
            }),
        );
        assert_eq!(
            parse(&body),
            WebhookKind::PaymentFailed {
                payment_id: "pi_123".into(),
                order_id: Some(ORDER.parse().unwrap()),
                reason: "Your card was declined.".into(),
            }
        );
    }

    #[test]
    fn payment_canceled_is_parsed_with_the_cancellation_reason() {
        let body = event(
            "payment_intent.canceled",
            json!({ "id": "pi_123", "status": "canceled", "cancellation_reason": "abandoned", "last_payment_error": null }),
        );
        assert_eq!(
            parse(&body),
            WebhookKind::PaymentFailed { payment_id: "pi_123".into(), order_id: None, reason: "abandoned".into() }
        );
        let body = event("payment_intent.canceled", json!({ "id": "pi_1", "cancellation_reason": null }));
        assert!(matches!(parse(&body), WebhookKind::PaymentFailed { reason, .. } if reason == "canceled"));
    }

    #[test]
    fn charge_refunded_is_parsed() {
        let body = event(
            "charge.refunded",
            json!({ "id": "ch_1", "object": "charge", "payment_intent": "pi_123", "refunded": true,
                    "metadata": { "order_id": ORDER } }),
        );
        assert_eq!(
            parse(&body),
            WebhookKind::Refunded { payment_id: "pi_123".into(), order_id: Some(ORDER.parse().unwrap()) }
        );
        let body = event("charge.refunded", json!({ "id": "ch_1", "payment_intent": null }));
        assert!(matches!(check(Some(&sign(&body, SECRET, NOW)), &body), Err(WebhookError::Body(_))));
    }

    #[test]
    fn other_events_are_acknowledged() {
        let body = event("customer.created", json!({ "id": "cus_1" }));
        assert_eq!(parse(&body), WebhookKind::Other { event_type: "customer.created".into() });
    }

    #[test]
    fn garbage_is_a_body_error() {
        for body in [
            b"not json".to_vec(),
            b"{}".to_vec(),
            br#"{"id":"evt_1","type":"payment_intent.succeeded","created":1}"#.to_vec(),
            event("payment_intent.succeeded", json!({ "id": "pi_1", "currency": "eur" })),
            event("payment_intent.succeeded", json!({ "id": "pi_1", "amount": 5 })),
            event("payment_intent.succeeded", json!("pi_1")),
        ] {
            let result = check(Some(&sign(&body, SECRET, NOW)), &body);
            assert!(matches!(result, Err(WebhookError::Body(_))), "{result:?}");
        }
    }

    #[test]
    fn the_signature_is_checked_before_the_body() {
        let body = b"not json";
        let header = sign(body, "whsec_other", NOW);
        assert_eq!(signature_error(check(Some(&header), body)), SignatureError::NoMatchingSignature);
    }
}
