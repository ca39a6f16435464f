//! The fake's HTTP side: one handler that routes like Stripe, checks the key, applies the
//! idempotency rules and scripted faults, then runs the operation on the in-memory state.

use super::{Fault, NextIntent, RecordedRequest};
use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Map, Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

type Shared = Arc<Mutex<State>>;

/// What Stripe remembers about an idempotency key.
enum Remembered {
    /// A request with this key is still running (a second one gets 409, as at Stripe).
    InFlight {
        fingerprint: String,
    },
    Done {
        fingerprint: String,
        status: u16,
        body: Value,
    },
}

pub(super) struct State {
    secret_key: String,
    pub(super) intents: HashMap<String, Value>,
    pub(super) intent_order: Vec<String>,
    refunded: HashMap<String, i64>,
    idempotency: HashMap<String, Remembered>,
    pub(super) script: VecDeque<NextIntent>,
    pub(super) faults: VecDeque<Fault>,
    pub(super) intents_created: usize,
    pub(super) refunds_created: usize,
    pub(super) requests: Vec<RecordedRequest>,
}

enum Op {
    CreateIntent,
    GetIntent(String),
    CancelIntent(String),
    CreateRefund,
}

type Answer = (u16, Value);

pub(super) fn random_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..24].to_owned()
}

fn error(status: u16, kind: &str, code: Option<&str>, message: &str) -> Answer {
    (status, json!({ "error": { "type": kind, "code": code, "message": message } }))
}

fn respond((status, body): Answer, replayed: bool) -> HttpResponse {
    let mut response = HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    response.insert_header(("Request-Id", format!("req_{}", random_suffix())));
    if replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    response.json(body)
}

pub(super) fn run(listener: std::net::TcpListener, state: Shared) -> std::io::Result<Server> {
    let data = web::Data::from(state);
    Ok(HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(dispatch)))
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0)
        .listen(listener)?
        .run())
}

/// Releases an in-flight idempotency key if the request ends without an answer to store (fault,
/// or the handler dropped because the client went away), so a retry executes it, as at Stripe.
struct Reservation {
    state: Shared,
    key: Option<String>,
}

impl Reservation {
    fn complete(mut self, answer: &Answer) {
        if let Some(key) = self.key.take() {
            let mut state = lock(&self.state);
            if let Some(Remembered::InFlight { fingerprint }) = state.idempotency.remove(&key) {
                let done = Remembered::Done { fingerprint, status: answer.0, body: answer.1.clone() };
                state.idempotency.insert(key, done);
            }
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let mut state = lock(&self.state);
            if matches!(state.idempotency.get(&key), Some(Remembered::InFlight { .. })) {
                state.idempotency.remove(&key);
            }
        }
    }
}

fn lock(state: &Shared) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn dispatch(data: web::Data<Mutex<State>>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let shared: Shared = data.into_inner();
    let params: Vec<(String, String)> = match serde_urlencoded::from_bytes(&body) {
        Ok(params) => params,
        Err(err) => {
            return respond(error(400, "invalid_request_error", None, &format!("invalid form body: {err}")), false);
        }
    };
    let segments: Vec<&str> = req.path().trim_matches('/').split('/').collect();
    let op = match (req.method().as_str(), segments.as_slice()) {
        ("POST", ["v1", "payment_intents"]) => Op::CreateIntent,
        ("GET", ["v1", "payment_intents", id]) => Op::GetIntent((*id).to_owned()),
        ("POST", ["v1", "payment_intents", id, "cancel"]) => Op::CancelIntent((*id).to_owned()),
        ("POST", ["v1", "refunds"]) => Op::CreateRefund,
        _ => {
            let message = format!("Unrecognized request URL ({} {}).", req.method(), req.path());
            return respond(error(404, "invalid_request_error", Some("resource_missing"), &message), false);
        }
    };
    let header = |name: &str| req.headers().get(name).and_then(|value| value.to_str().ok()).map(str::to_owned);
    let idempotency_key = if req.method() == actix_web::http::Method::POST { header("Idempotency-Key") } else { None };
    let authorization = header("Authorization");

    let (reservation, fault) = {
        let mut state = lock(&shared);
        state.requests.push(RecordedRequest {
            method: req.method().to_string(),
            path: req.path().to_owned(),
            authorization: authorization.clone(),
            idempotency_key: idempotency_key.clone(),
            params: params.clone(),
        });
        if authorization.as_deref() != Some(format!("Bearer {}", state.secret_key).as_str()) {
            let message = "Invalid API Key provided.";
            return respond(error(401, "invalid_request_error", Some("api_key_invalid"), message), false);
        }
        let reserved = match idempotency_key {
            None => None,
            Some(key) => match state.remember(key, req.path(), &params) {
                Ok(key) => Some(key),
                Err((answer, replayed)) => return respond(answer, replayed),
            },
        };
        (Reservation { state: shared.clone(), key: reserved }, state.faults.pop_front())
    };

    match fault {
        // Nothing executed, nothing stored: the reservation is released on drop.
        Some(Fault::Status { status, message }) => {
            let kind = if status >= 500 { "api_error" } else { "invalid_request_error" };
            let code = (status == 429).then_some("rate_limit");
            return respond(error(status, kind, code, &message), false);
        }
        Some(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
        None => {}
    }

    let answer = {
        let mut state = lock(&shared);
        match op {
            Op::CreateIntent => state.create_intent(&params),
            Op::GetIntent(id) => state.get_intent(&id),
            Op::CancelIntent(id) => state.cancel_intent(&id, &params),
            Op::CreateRefund => state.create_refund(&params),
        }
    };
    reservation.complete(&answer);
    respond(answer, false)
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
}

fn missing(name: &str) -> Answer {
    error(400, "invalid_request_error", Some("parameter_missing"), &format!("Missing required param: {name}."))
}

fn no_such(kind: &str, id: &str) -> Answer {
    error(404, "invalid_request_error", Some("resource_missing"), &format!("No such {kind}: '{id}'"))
}

/// `metadata[key]=value` parameters as Stripe's metadata object.
fn metadata(params: &[(String, String)]) -> Value {
    let map: Map<String, Value> = params
        .iter()
        .filter_map(|(key, value)| {
            let name = key.strip_prefix("metadata[")?.strip_suffix(']')?;
            Some((name.to_owned(), Value::String(value.clone())))
        })
        .collect();
    Value::Object(map)
}

fn positive_amount(params: &[(String, String)]) -> Result<Option<i64>, Answer> {
    match param(params, "amount") {
        None => Ok(None),
        Some(raw) => match raw.parse::<i64>() {
            Ok(amount) if amount > 0 => Ok(Some(amount)),
            _ => Err(error(400, "invalid_request_error", Some("parameter_invalid_integer"), "Invalid amount.")),
        },
    }
}

impl State {
    pub(super) fn new(secret_key: &str) -> Self {
        Self {
            secret_key: secret_key.to_owned(),
            intents: HashMap::new(),
            intent_order: Vec::new(),
            refunded: HashMap::new(),
            idempotency: HashMap::new(),
            script: VecDeque::new(),
            faults: VecDeque::new(),
            intents_created: 0,
            refunds_created: 0,
            requests: Vec::new(),
        }
    }

    /// Stripe's idempotency rules: the stored answer for the same request, 400 for different
    /// parameters under the same key, 409 while the first is still running; else reserve the key.
    fn remember(&mut self, key: String, path: &str, params: &[(String, String)]) -> Result<String, (Answer, bool)> {
        let mut sorted = params.to_vec();
        sorted.sort();
        let fingerprint = format!("{path} {sorted:?}");
        match self.idempotency.get(&key) {
            None => {
                self.idempotency.insert(key.clone(), Remembered::InFlight { fingerprint });
                Ok(key)
            }
            Some(Remembered::Done { fingerprint: seen, status, body }) if *seen == fingerprint => {
                Err(((*status, body.clone()), true))
            }
            Some(Remembered::InFlight { fingerprint: seen }) if *seen == fingerprint => {
                let message = "There is currently another in-progress request using this Idempotent Key (that \
                               probably means you submitted twice, and the other request is still going through). \
                               Please try again later.";
                Err((error(409, "idempotency_error", None, message), false))
            }
            Some(_) => {
                let message = format!(
                    "Keys for idempotent requests can only be used with the same parameters they were first used \
                     with. Try using a key other than '{key}' if you meant to execute a different request."
                );
                Err((error(400, "idempotency_error", None, &message), false))
            }
        }
    }

    fn create_intent(&mut self, params: &[(String, String)]) -> Answer {
        let amount = match positive_amount(params) {
            Ok(Some(amount)) => amount,
            Ok(None) => return missing("amount"),
            Err(answer) => return answer,
        };
        let Some(currency) = param(params, "currency") else { return missing("currency") };
        let payment_method = param(params, "payment_method");
        let confirm = param(params, "confirm") == Some("true");
        if confirm && payment_method.is_none() {
            let message = "You cannot confirm this PaymentIntent because it's missing a payment method. You can \
                           either update the PaymentIntent with a payment method and then confirm it again, or \
                           confirm it again directly with a payment method.";
            return error(400, "invalid_request_error", Some("payment_intent_unexpected_state"), message);
        }
        let id = format!("pi_{}", random_suffix());
        let mut intent = json!({
            "id": id,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": 0,
            "currency": currency.to_ascii_lowercase(),
            "status": "requires_payment_method",
            "client_secret": format!("{id}_secret_{}", random_suffix()),
            "metadata": metadata(params),
            "payment_method": payment_method,
            "receipt_email": param(params, "receipt_email"),
            "created": chrono::Utc::now().timestamp(),
            "livemode": false,
            "last_payment_error": null,
            "cancellation_reason": null,
        });
        let mut declined = None;
        if confirm {
            match self.script.pop_front().unwrap_or(NextIntent::Succeeded) {
                NextIntent::Succeeded => {
                    intent["status"] = json!("succeeded");
                    intent["amount_received"] = json!(amount);
                }
                NextIntent::RequiresAction => intent["status"] = json!("requires_action"),
                NextIntent::Processing => intent["status"] = json!("processing"),
                NextIntent::Declined { message } => {
                    intent["last_payment_error"] = json!({
                        "type": "card_error", "code": "card_declined", "decline_code": "generic_decline",
                        "message": message,
                    });
                    declined = Some(message);
                }
            }
        }
        self.intents.insert(id.clone(), intent.clone());
        self.intent_order.push(id);
        self.intents_created += 1;
        match declined {
            Some(message) => (
                402,
                json!({ "error": {
                    "type": "card_error", "code": "card_declined", "decline_code": "generic_decline",
                    "message": message, "payment_intent": intent,
                }}),
            ),
            None => (200, intent),
        }
    }

    fn get_intent(&self, id: &str) -> Answer {
        match self.intents.get(id) {
            Some(intent) => (200, intent.clone()),
            None => no_such("payment_intent", id),
        }
    }

    fn cancel_intent(&mut self, id: &str, params: &[(String, String)]) -> Answer {
        let Some(intent) = self.intents.get_mut(id) else { return no_such("payment_intent", id) };
        let status = intent["status"].as_str().unwrap_or_default().to_owned();
        if status == "succeeded" || status == "canceled" {
            let message = format!(
                "You cannot cancel this PaymentIntent because it has a status of {status}. Only a PaymentIntent \
                 with one of the following statuses may be canceled: requires_payment_method, requires_capture, \
                 requires_confirmation, requires_action, processing."
            );
            return error(400, "invalid_request_error", Some("payment_intent_unexpected_state"), &message);
        }
        intent["status"] = json!("canceled");
        intent["cancellation_reason"] = json!(param(params, "cancellation_reason").unwrap_or("requested_by_customer"));
        (200, intent.clone())
    }

    fn create_refund(&mut self, params: &[(String, String)]) -> Answer {
        let Some(payment_id) = param(params, "payment_intent") else { return missing("payment_intent") };
        let Some(intent) = self.intents.get(payment_id) else {
            return error(
                400,
                "invalid_request_error",
                Some("resource_missing"),
                &format!("No such payment_intent: '{payment_id}'"),
            );
        };
        if intent["status"] != "succeeded" {
            let message = format!("This PaymentIntent ({payment_id}) does not have a successful charge to refund.");
            return error(400, "invalid_request_error", Some("charge_not_refundable"), &message);
        }
        let received = intent["amount_received"].as_i64().unwrap_or_default();
        let already = self.refunded.get(payment_id).copied().unwrap_or_default();
        let amount = match positive_amount(params) {
            Ok(amount) => amount.unwrap_or(received - already),
            Err(answer) => return answer,
        };
        if already >= received {
            let message = format!("Charge for PaymentIntent {payment_id} has already been refunded.");
            return error(400, "invalid_request_error", Some("charge_already_refunded"), &message);
        }
        if amount > received - already {
            let message = format!(
                "Refund amount ({amount}) is greater than unrefunded amount on charge ({}).",
                received - already
            );
            return error(400, "invalid_request_error", Some("amount_too_large"), &message);
        }
        let refund = json!({
            "id": format!("re_{}", random_suffix()),
            "object": "refund",
            "amount": amount,
            "currency": intent["currency"].clone(),
            "payment_intent": payment_id,
            "metadata": metadata(params),
            "status": "succeeded",
            "created": chrono::Utc::now().timestamp(),
        });
        self.refunded.insert(payment_id.to_owned(), already + amount);
        self.refunds_created += 1;
        (200, refund)
    }

    pub(super) fn set_status(&mut self, id: &str, status: &str) -> Option<Value> {
        let intent = self.intents.get_mut(id)?;
        intent["status"] = json!(status);
        if status == "succeeded" {
            intent["amount_received"] = intent["amount"].clone();
        }
        Some(intent.clone())
    }
}
