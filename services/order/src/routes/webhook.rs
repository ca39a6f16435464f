//! `POST /payments/webhook`: the payment provider's signed notifications (Stripe).
//!
//! The raw body is verified against `Stripe-Signature` with the webhook secret before anything is
//! parsed or changed; a bad or stale signature is a 400 and changes nothing. The event id is
//! recorded in the transaction that applies it, so a replay is acknowledged (200) without effect.
//! Out-of-order deliveries resolve on the locked order: a success after the order failed or was
//! cancelled is refunded, a failure after it was confirmed is ignored.

use crate::db::{OrderError, orders, payments, webhooks};
use crate::domain::OrderId;
use crate::saga;
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use diesel_async::AsyncConnection;
use shop_common::error::{ApiError, ApiResult};
use shop_payments::PaymentOutcome;
use shop_payments::webhook::{DEFAULT_TOLERANCE_SECS, WebhookError, WebhookKind, verify_and_parse};

pub const SIGNATURE_HEADER: &str = "stripe-signature";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Applied,
    Duplicate,
    Ignored,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Duplicate => "duplicate",
            Outcome::Ignored => "ignored",
        }
    }
}

fn kind_name(kind: &WebhookKind) -> &str {
    match kind {
        WebhookKind::PaymentSucceeded { .. } => "payment_intent.succeeded",
        WebhookKind::PaymentFailed { .. } => "payment_intent.payment_failed",
        WebhookKind::Refunded { .. } => "charge.refunded",
        WebhookKind::Other { event_type } => event_type,
    }
}

#[tracing::instrument(skip_all, fields(webhook.event_id))]
pub async fn payment_webhook(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let Some(secret) = &state.webhook_secret else {
        return Err(ApiError::not_found("no payment provider with webhooks is configured"));
    };
    let header = req.headers().get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    let event = verify_and_parse(header, &body, secret.expose(), chrono::Utc::now(), DEFAULT_TOLERANCE_SECS).map_err(
        |err| match err {
            WebhookError::Signature(sig) => ApiError::bad_request(format!("webhook rejected: {sig}")),
            WebhookError::Body(_) => ApiError::bad_request("webhook rejected: the body is not a provider event"),
        },
    )?;
    tracing::Span::current().record("webhook.event_id", event.id.as_str());

    let (payment_id, order_hint, outcome) = match &event.kind {
        WebhookKind::PaymentSucceeded { payment_id, order_id, .. } => {
            (payment_id.clone(), *order_id, Some(PaymentOutcome::Succeeded { payment_id: payment_id.clone() }))
        }
        WebhookKind::PaymentFailed { payment_id, order_id, reason } => (
            payment_id.clone(),
            *order_id,
            Some(PaymentOutcome::Failed { payment_id: Some(payment_id.clone()), reason: reason.clone() }),
        ),
        WebhookKind::Refunded { payment_id, order_id } => (payment_id.clone(), *order_id, None),
        WebhookKind::Other { .. } => (String::new(), None, None),
    };
    let provider = state.core.provider.name();
    let event_type = kind_name(&event.kind).to_owned();
    let mut conn = state.conn().await?;
    let (result, applied) = conn
        .transaction::<(Outcome, saga::Applied), OrderError, _>(async |conn| {
            if !webhooks::claim(conn, &event.id, &event_type).await? {
                return Ok((Outcome::Duplicate, saga::Applied::default()));
            }
            let Some(outcome) = &outcome else { return Ok((Outcome::Ignored, saga::Applied::default())) };
            let order_id = match order_hint {
                Some(id) => Some(OrderId(id)),
                None => payments::order_of_payment(conn, &payment_id).await?,
            };
            let Some(order) = (match order_id {
                Some(id) => orders::lock(conn, id).await?,
                None => None,
            }) else {
                tracing::warn!(payment.id = %payment_id, "webhook for an unknown order ignored");
                return Ok((Outcome::Ignored, saga::Applied::default()));
            };
            if let WebhookKind::PaymentSucceeded { amount, .. } = &event.kind
                && *amount != order.total()
            {
                // Confirmed anyway (the provider took this payment for this order), but worth a look.
                tracing::warn!(
                    order.id = %order.id,
                    order.total_minor = order.total_minor,
                    payment.amount_minor = amount.amount_minor,
                    payment.currency = %amount.currency,
                    "the paid amount differs from the order total"
                );
            }
            let applied = saga::apply_payment(conn, &order, provider, outcome).await?;
            Ok((Outcome::Applied, applied))
        })
        .await?;
    state.core.relay.wake();
    if applied.refund_due {
        state.core.refunds.notify_one();
    }
    tracing::info!(webhook.type = %event_type, webhook.outcome = result.as_str(), "webhook handled");
    Ok(HttpResponse::Ok().json(serde_json::json!({"received": true, "outcome": result.as_str()})))
}
