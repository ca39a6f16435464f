//! `StripeProvider` against the fake Stripe server: the wire format, status mapping, error policy,
//! idempotency, refunds, cancellation and signed webhooks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use shop_common::money::Money;
use shop_payments::fake_stripe::{FAKE_SECRET_KEY, FAKE_WEBHOOK_SECRET, FakeStripe, Fault, NextIntent};
use shop_payments::stripe::StripeProvider;
use shop_payments::webhook::{DEFAULT_TOLERANCE_SECS, WebhookKind, verify_and_parse};
use shop_payments::{PaymentOutcome, PaymentProvider, PaymentRequest, ProviderError, RefundRequest};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

fn payment(key: &str) -> PaymentRequest {
    PaymentRequest {
        order_id: Uuid::new_v4(),
        amount: Money::new(2599, "EUR"),
        idempotency_key: key.to_owned(),
        customer_email: Some("ada@example.com".into()),
    }
}

fn refund(payment_id: &str, order_id: Uuid, key: &str) -> RefundRequest {
    RefundRequest {
        order_id,
        payment_id: payment_id.to_owned(),
        amount: Money::new(2599, "EUR"),
        idempotency_key: key.to_owned(),
    }
}

fn succeeded_id(outcome: PaymentOutcome) -> String {
    match outcome {
        PaymentOutcome::Succeeded { payment_id } => payment_id,
        other => panic!("expected Succeeded, got {other:?}"),
    }
}

/// Polls `condition` until it holds (the slow-server tests wait for the fake to finish its work).
async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_payment_succeeds_and_sends_what_stripe_expects() {
    let fake = FakeStripe::start().await;
    let request = payment("order-key-1");
    let payment_id = succeeded_id(fake.provider().start_payment(&request).await.unwrap());

    assert!(payment_id.starts_with("pi_"));
    assert_eq!(fake.intents_created(), 1);
    let sent = &fake.requests()[0];
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/v1/payment_intents"));
    assert_eq!(sent.authorization.as_deref(), Some(format!("Bearer {FAKE_SECRET_KEY}").as_str()));
    assert_eq!(sent.idempotency_key.as_deref(), Some("order-key-1"));
    assert_eq!(sent.param("amount"), Some("2599"));
    assert_eq!(sent.param("currency"), Some("eur"));
    assert_eq!(sent.param("confirm"), Some("true"));
    assert_eq!(sent.param("payment_method"), Some("pm_card_visa"));
    assert_eq!(sent.param("automatic_payment_methods[enabled]"), Some("true"));
    assert_eq!(sent.param("automatic_payment_methods[allow_redirects]"), Some("never"));
    assert_eq!(sent.param("metadata[order_id]"), Some(request.order_id.to_string().as_str()));
    assert_eq!(sent.param("receipt_email"), Some("ada@example.com"));
    let intent = fake.intent(&payment_id).unwrap();
    assert_eq!(intent["metadata"]["order_id"], request.order_id.to_string());
}

#[tokio::test]
async fn a_pending_payment_later_reads_as_succeeded() {
    let fake = FakeStripe::start().await;
    let provider = fake.provider();
    fake.script_next_intent(NextIntent::RequiresAction);

    let outcome = provider.start_payment(&payment("k-pending")).await.unwrap();
    let PaymentOutcome::Pending { payment_id, client_secret } = outcome else {
        panic!("expected Pending: {outcome:?}")
    };
    assert!(client_secret.unwrap().starts_with(&format!("{payment_id}_secret_")));
    assert!(matches!(provider.payment_status(&payment_id).await.unwrap(), PaymentOutcome::Pending { .. }));

    fake.set_intent_status(&payment_id, "succeeded").unwrap();
    assert_eq!(provider.payment_status(&payment_id).await.unwrap(), PaymentOutcome::Succeeded { payment_id });
}

#[tokio::test]
async fn without_a_configured_payment_method_the_intent_waits_for_the_client() {
    let fake = FakeStripe::start().await;
    let mut settings = fake.settings();
    settings.payment_method = None;
    let provider = StripeProvider::new(settings).unwrap();

    let outcome = provider.start_payment(&payment("k-client")).await.unwrap();
    assert!(matches!(outcome, PaymentOutcome::Pending { client_secret: Some(_), .. }), "{outcome:?}");
    let sent = &fake.requests()[0];
    assert_eq!((sent.param("confirm"), sent.param("payment_method")), (None, None));
}

#[tokio::test]
async fn a_decline_is_a_failed_payment_not_an_error() {
    let fake = FakeStripe::start().await;
    fake.script_next_intent(NextIntent::Declined { message: "Your card was declined.".into() });

    let outcome = fake.provider().start_payment(&payment("k-decline")).await.unwrap();
    let PaymentOutcome::Failed { payment_id: Some(payment_id), reason } = outcome else {
        panic!("expected Failed with an id: {outcome:?}")
    };
    assert_eq!(reason, "Your card was declined.");
    // The declined intent reads as failed too (e.g. after a restart).
    let status = fake.provider().payment_status(&payment_id).await.unwrap();
    assert!(matches!(status, PaymentOutcome::Failed { .. }), "{status:?}");
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_unavailable_and_a_retry_charges_once() {
    let fake = FakeStripe::start().await;
    let provider = fake.provider();
    fake.fail_next(Fault::Status { status: 500, message: "An unknown error occurred".into() });
    fake.fail_next(Fault::Status { status: 429, message: "Too many requests".into() });

    for _ in 0..2 {
        let err = provider.start_payment(&payment("k-retry")).await.unwrap_err();
        assert!(matches!(err, ProviderError::Unavailable(_)) && err.is_retryable(), "{err}");
    }
    let request = payment("k-retry");
    succeeded_id(provider.start_payment(&request).await.unwrap());
    assert_eq!(fake.intents_created(), 1);
}

#[tokio::test]
async fn a_timeout_is_unavailable_and_the_retry_returns_the_same_intent() {
    let fake = FakeStripe::start().await;
    let mut settings = fake.settings();
    settings.timeout = Duration::from_millis(200);
    let provider = StripeProvider::new(settings).unwrap();
    // Slow Stripe: the call times out but Stripe still creates the intent.
    fake.fail_next(Fault::Delay(Duration::from_millis(800)));

    let request = payment("k-slow");
    let err = provider.start_payment(&request).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable(ref message) if message.contains("timed out")), "{err}");

    eventually("the slow request to finish", || fake.intents_created() == 1).await;
    // The retry with a normal timeout, so a loaded test machine cannot make it flaky.
    let payment_id = succeeded_id(fake.provider().start_payment(&request).await.unwrap());
    assert_eq!(fake.intents_created(), 1);
    assert_eq!(fake.intent_ids(), vec![payment_id]);
}

#[tokio::test]
async fn client_errors_are_rejected_with_stripes_message() {
    let fake = FakeStripe::start().await;
    let provider = fake.provider();
    fake.fail_next(Fault::Status { status: 400, message: "Invalid currency: xyz".into() });

    let err = provider.start_payment(&payment("k-400")).await.unwrap_err();
    assert!(matches!(err, ProviderError::Rejected(ref message) if message.contains("Invalid currency: xyz")), "{err}");
    assert!(!err.is_retryable());

    let err = provider.payment_status("pi_unknown").await.unwrap_err();
    assert!(matches!(err, ProviderError::Rejected(ref message) if message.contains("No such payment_intent")), "{err}");
}

#[tokio::test]
async fn a_wrong_secret_key_is_rejected_and_never_echoed() {
    let fake = FakeStripe::start().await;
    let mut settings = fake.settings();
    settings.secret_key = shop_common::settings::Secret::new("sk_test_wrong_key");
    let provider = StripeProvider::new(settings).unwrap();

    let err = provider.start_payment(&payment("k-key")).await.unwrap_err();
    assert!(matches!(err, ProviderError::Rejected(_)), "{err}");
    assert!(!err.to_string().contains("sk_test_wrong_key"), "{err}");
    assert_eq!(fake.requests()[0].authorization.as_deref(), Some("Bearer sk_test_wrong_key"));
    assert_eq!(fake.intents_created(), 0);
}

#[tokio::test]
async fn the_same_idempotency_key_creates_one_intent() {
    let fake = FakeStripe::start().await;
    let provider = fake.provider();
    let request = payment("k-same");

    let first = provider.start_payment(&request).await.unwrap();
    let second = provider.start_payment(&request).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(fake.intents_created(), 1);
    assert_eq!(fake.requests().len(), 2);

    // Same key, different parameters: Stripe refuses rather than charging another amount.
    let changed = PaymentRequest { amount: Money::new(1, "EUR"), ..request };
    let err = provider.start_payment(&changed).await.unwrap_err();
    assert!(matches!(err, ProviderError::Rejected(ref message) if message.contains("same parameters")), "{err}");
    assert_eq!(fake.intents_created(), 1);
}

#[tokio::test]
async fn concurrent_calls_with_one_key_create_one_intent() {
    let fake = FakeStripe::start().await;
    let provider = fake.provider();
    let request = payment("k-concurrent");
    let results =
        futures_join(provider.clone(), request.clone(), 5).await.into_iter().filter_map(Result::ok).collect::<Vec<_>>();
    // Calls that overlapped got 409 (Unavailable, retryable); every one that answered agrees.
    assert!(!results.is_empty());
    assert!(results.windows(2).all(|pair| pair[0] == pair[1]), "{results:?}");
    assert_eq!(fake.intents_created(), 1);
}

async fn futures_join(
    provider: Arc<dyn PaymentProvider>,
    request: PaymentRequest,
    n: usize,
) -> Vec<Result<PaymentOutcome, ProviderError>> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (provider, request) = (provider.clone(), request.clone());
            tokio::spawn(async move { provider.start_payment(&request).await })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

#[tokio::test]
async fn a_refund_works_once_per_key() {
    let fake = FakeStripe::start().await;
    let provider = fake.provider();
    let request = payment("k-refund");
    let payment_id = succeeded_id(provider.start_payment(&request).await.unwrap());

    let refund_request = refund(&payment_id, request.order_id, "k-refund");
    let first = provider.refund(&refund_request).await.unwrap();
    assert!(first.refund_id.starts_with("re_"));
    assert_eq!(first.status, "succeeded");
    assert_eq!(provider.refund(&refund_request).await.unwrap(), first);
    assert_eq!(fake.refunds(), 1);

    let sent = fake.requests().into_iter().find(|r| r.path == "/v1/refunds").unwrap();
    assert_eq!(sent.idempotency_key.as_deref(), Some("refund-k-refund"));
    assert_eq!(sent.param("payment_intent"), Some(payment_id.as_str()));
    assert_eq!(sent.param("amount"), Some("2599"));
    assert_eq!(sent.param("metadata[order_id]"), Some(request.order_id.to_string().as_str()));

    // A second refund under a new key: Stripe says the charge is already refunded.
    let err = provider.refund(&refund(&payment_id, request.order_id, "k-refund-2")).await.unwrap_err();
    assert!(matches!(err, ProviderError::Rejected(ref message) if message.contains("already been refunded")), "{err}");
    assert_eq!(fake.refunds(), 1);
}

#[tokio::test]
async fn cancel_fails_a_pending_payment_but_reports_one_that_won_the_race() {
    let fake = FakeStripe::start().await;
    let provider = fake.provider();
    fake.script_next_intent(NextIntent::RequiresAction);
    let PaymentOutcome::Pending { payment_id, .. } = provider.start_payment(&payment("k-cancel")).await.unwrap() else {
        panic!("expected Pending")
    };
    let cancelled = provider.cancel_payment(&payment_id).await.unwrap();
    assert_eq!(cancelled, PaymentOutcome::Failed { payment_id: Some(payment_id.clone()), reason: "abandoned".into() });
    // Twice is fine: still failed.
    assert_eq!(provider.cancel_payment(&payment_id).await.unwrap(), cancelled);

    let paid = succeeded_id(provider.start_payment(&payment("k-paid")).await.unwrap());
    assert_eq!(provider.cancel_payment(&paid).await.unwrap(), PaymentOutcome::Succeeded { payment_id: paid });
}

#[tokio::test]
async fn fake_webhooks_verify_and_parse() {
    let fake = FakeStripe::start().await;
    // The order service's path: settings → provider, settings → webhook secret.
    let settings = fake.payment_settings();
    assert_eq!(settings.webhook_secret().unwrap().expose(), FAKE_WEBHOOK_SECRET);
    let request = payment("k-webhook");
    let payment_id = succeeded_id(settings.build_provider().unwrap().start_payment(&request).await.unwrap());
    let intent = fake.intent(&payment_id).unwrap();

    let (body, header) = fake.webhook("payment_intent.succeeded", &intent);
    let event = verify_and_parse(Some(&header), &body, FAKE_WEBHOOK_SECRET, chrono::Utc::now(), DEFAULT_TOLERANCE_SECS)
        .unwrap();
    assert!(event.id.starts_with("evt_"));
    assert_eq!(
        event.kind,
        WebhookKind::PaymentSucceeded {
            payment_id: payment_id.clone(),
            order_id: Some(request.order_id),
            amount: Money::new(2599, "EUR"),
        }
    );
    let (other_body, _) = fake.webhook("payment_intent.succeeded", &intent);
    assert_ne!(body, other_body, "each webhook has its own event id");

    let (body, header) = fake.webhook("charge.refunded", &intent);
    let event = verify_and_parse(Some(&header), &body, FAKE_WEBHOOK_SECRET, chrono::Utc::now(), DEFAULT_TOLERANCE_SECS)
        .unwrap();
    assert_eq!(event.kind, WebhookKind::Refunded { payment_id, order_id: Some(request.order_id) });
}

#[tokio::test]
async fn deliver_posts_a_signed_webhook() {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

    async fn receive(req: HttpRequest, body: web::Bytes) -> HttpResponse {
        let header = req.headers().get("Stripe-Signature").and_then(|v| v.to_str().ok());
        match verify_and_parse(header, &body, FAKE_WEBHOOK_SECRET, chrono::Utc::now(), DEFAULT_TOLERANCE_SECS) {
            Ok(_) => HttpResponse::Ok().finish(),
            Err(_) => HttpResponse::BadRequest().finish(),
        }
    }

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/webhooks/stripe", listener.local_addr().unwrap());
    let server = HttpServer::new(|| App::new().route("/webhooks/stripe", web::post().to(receive)))
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
    let handle = server.handle();
    tokio::spawn(server);

    let fake = FakeStripe::start().await;
    let payment_id = succeeded_id(fake.provider().start_payment(&payment("k-deliver")).await.unwrap());
    let intent = fake.intent(&payment_id).unwrap();
    let (status, body, header) = fake.deliver(&url, "payment_intent.succeeded", &intent).await.unwrap();
    assert_eq!(status.as_u16(), 200);
    let tampered = String::from_utf8(body).unwrap().replace("2599", "1");
    assert_eq!(fake.deliver_signed(&url, tampered.as_bytes(), &header).await.unwrap().as_u16(), 400);
    handle.stop(false).await;
}
