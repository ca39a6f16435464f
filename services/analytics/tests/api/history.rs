//! A scripted month of shop activity, as the other services would publish it (docs/events.md).
//! `figures.rs` holds the numbers it must produce, computed by hand. Ids are fixed small numbers
//! so rankings that tie break by product id are predictable; every test uses its own database and
//! topic prefix, so fixed ids never collide.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use shop_common::events::Envelope;
use uuid::Uuid;

/// What the consumer must do with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Applied (recorded in the inbox), possibly with no figure depending on it.
    Applied,
    /// The same envelope again: a no-op.
    Duplicate,
    /// An unknown type: skipped, not in the inbox.
    Ignored,
    /// Unknown version or malformed payload: `<topic>.dlq`.
    DeadLetter,
}

#[derive(Debug, Clone)]
pub struct Scripted {
    pub topic: &'static str,
    pub key: String,
    pub envelope: Envelope,
    pub outcome: Outcome,
}

impl Scripted {
    pub fn describe(&self) -> String {
        format!("{} ({} on {})", self.envelope.event_type, self.key, self.topic)
    }
}

pub const P1: Uuid = Uuid::from_u128(0x01);
pub const P2: Uuid = Uuid::from_u128(0x02);
pub const P3: Uuid = Uuid::from_u128(0x03);
const U1: Uuid = Uuid::from_u128(0x101);
const U2: Uuid = Uuid::from_u128(0x102);
const U3: Uuid = Uuid::from_u128(0x103);
const C1: Uuid = Uuid::from_u128(0x201);
const C2: Uuid = Uuid::from_u128(0x202);
const C3: Uuid = Uuid::from_u128(0x203);
const G1: Uuid = Uuid::from_u128(0x2a1);
const G2: Uuid = Uuid::from_u128(0x2a2);
const G3: Uuid = Uuid::from_u128(0x2a3);
const O1: Uuid = Uuid::from_u128(0x301);
const O2: Uuid = Uuid::from_u128(0x302);
const O3: Uuid = Uuid::from_u128(0x303);
const O4: Uuid = Uuid::from_u128(0x304);
const O5: Uuid = Uuid::from_u128(0x305);
const O6: Uuid = Uuid::from_u128(0x306);
const O7: Uuid = Uuid::from_u128(0x307);
const O8: Uuid = Uuid::from_u128(0x308);

pub fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn money(amount_minor: i64, currency: &str) -> Value {
    json!({"amount_minor": amount_minor, "currency": currency})
}

struct Script {
    events: Vec<Scripted>,
}

impl Script {
    fn push(&mut self, topic: &'static str, kind: &str, key: Uuid, time: &str, data: Value) -> &mut Self {
        self.push_as(topic, kind, 1, key, time, data, Outcome::Applied)
    }

    #[allow(clippy::too_many_arguments)]
    fn push_as(
        &mut self,
        topic: &'static str,
        kind: &str,
        version: u32,
        key: Uuid,
        time: &str,
        data: Value,
        outcome: Outcome,
    ) -> &mut Self {
        let source = topic.trim_end_matches("_events");
        let mut envelope = Envelope::new(kind, version, source, key.to_string(), data);
        envelope.occurred_at = at(time);
        self.events.push(Scripted { topic, key: key.to_string(), envelope, outcome });
        self
    }

    /// The last event delivered once more, unchanged.
    fn again(&mut self) -> &mut Self {
        let mut last = self.events.last().unwrap().clone();
        last.outcome = Outcome::Duplicate;
        self.events.push(last);
        self
    }

    fn product(&mut self, kind: &str, id: Uuid, sku: &str, name: &str, category: &str, time: &str) -> &mut Self {
        let time_field = if kind == "product.created" { "created_at" } else { "updated_at" };
        self.push(
            "product_events",
            kind,
            id,
            time,
            json!({"product_id": id, "sku": sku, "name": name, "description": "", "price": money(100, "EUR"),
                   "category_slug": category, "attributes": {}, "image_urls": [], "active": true,
                   "initial_stock": 100, "low_stock_threshold": 5, time_field: time}),
        )
    }

    fn cart_add(&mut self, cart: Uuid, user: Option<Uuid>, product: Uuid, time: &str) -> &mut Self {
        self.push(
            "cart_events",
            "cart.item_added",
            cart,
            time,
            json!({"cart_id": cart, "user_id": user, "product_id": product, "quantity": 1, "line_quantity": 1,
                   "unit_price": money(100, "EUR"), "at": time}),
        )
    }

    /// order.created then order.confirmed a minute later (`confirmed` = its time, if any).
    #[allow(clippy::too_many_arguments)]
    fn order(
        &mut self,
        id: Uuid,
        user: Option<Uuid>,
        cart: Option<Uuid>,
        lines: &[(Uuid, i64, i64)],
        currency: &str,
        created: &str,
        confirmed: Option<&str>,
    ) -> &mut Self {
        let total: i64 = lines.iter().map(|(_, quantity, price)| quantity * price).sum();
        let created_lines: Vec<Value> = lines
            .iter()
            .map(|(product, quantity, price)| {
                json!({"product_id": product, "sku": "SKU", "name": "Line name", "quantity": quantity,
                       "unit_price": money(*price, currency)})
            })
            .collect();
        self.push(
            "order_events",
            "order.created",
            id,
            created,
            json!({"order_id": id, "user_id": user, "cart_id": cart, "lines": created_lines,
                   "total": money(total, currency), "created_at": created}),
        );
        if let Some(time) = confirmed {
            let confirmed_lines: Vec<Value> = lines
                .iter()
                .map(|(product, quantity, price)| {
                    json!({"product_id": product, "quantity": quantity, "unit_price": money(*price, currency)})
                })
                .collect();
            self.push(
                "payment_events",
                "payment.succeeded",
                id,
                time,
                json!({"order_id": id, "payment_id": format!("pay_{id}"), "provider": "instant",
                       "amount": money(total, currency), "at": time}),
            );
            self.push(
                "order_events",
                "order.confirmed",
                id,
                time,
                json!({"order_id": id, "user_id": user, "cart_id": cart, "lines": confirmed_lines,
                       "total": money(total, currency), "at": time}),
            );
        }
        self
    }

    fn step(&mut self, kind: &str, id: Uuid, time: &str) -> &mut Self {
        self.push("order_events", kind, id, time, json!({"order_id": id, "reason": "test", "at": time}))
    }

    fn refund(&mut self, id: Uuid, amount: i64, currency: &str, time: &str) -> &mut Self {
        self.push(
            "payment_events",
            "payment.refunded",
            id,
            time,
            json!({"order_id": id, "payment_id": format!("pay_{id}"), "provider": "instant",
                   "amount": money(amount, currency), "at": time}),
        )
    }

    fn login(&mut self, user: Uuid, time: &str) -> &mut Self {
        self.push("user_events", "user.logged_in", user, time, json!({"user_id": user, "logged_in_at": time}))
    }

    fn register(&mut self, user: Uuid, email: &str, time: &str) -> &mut Self {
        self.push(
            "user_events",
            "user.registered",
            user,
            time,
            json!({"user_id": user, "email": email, "name": email, "registered_at": time}),
        )
    }
}

/// January 2026 (5 Jan is a Monday), in the order the events are published. Highlights:
/// O3 and O8 are confirmed then cancelled and refunded (O8's refund arrives before the order
/// exists), O4 fails, O6 is in USD, O7 stays pending, P3 moves from `textiles` to `furniture` on
/// 10 Jan, guest cart G2 is merged into C2, some events arrive twice, three are dead letters.
pub fn january() -> Vec<Scripted> {
    let mut s = Script { events: Vec::new() };
    s.refund(O8, 1501, "EUR", "2026-01-21T11:01:00Z")
        .product("product.created", P1, "LAMP-1", "Desk Lamp", "lighting", "2026-01-01T00:00:00Z")
        .product("product.created", P2, "CHAIR-1", "Oak Chair", "furniture", "2026-01-01T00:00:00Z")
        .product("product.created", P3, "RUG-1", "Wool Rug", "textiles", "2026-01-01T00:00:00Z")
        .product("product.updated", P3, "RUG-1", "Wool Rug", "furniture", "2026-01-10T00:00:00Z")
        .push(
            "inventory_events",
            "inventory.adjusted",
            P1,
            "2026-01-01T00:00:01Z",
            json!({"product_id": P1, "on_hand": 100, "reserved": 0, "available": 100, "delta": 100,
                   "reason": "initial", "adjusted_at": "2026-01-01T00:00:01Z"}),
        )
        .register(U1, "ada@example.com", "2026-01-02T09:00:00Z")
        .register(U2, "bob@example.com", "2026-01-03T10:00:00Z")
        .register(U3, "cy@example.com", "2026-01-12T08:00:00Z")
        .login(U1, "2026-01-05T08:00:00Z")
        .again()
        .login(U1, "2026-01-05T18:00:00Z")
        .login(U2, "2026-01-06T09:00:00Z")
        .login(U1, "2026-01-06T20:00:00Z")
        .login(U3, "2026-01-12T08:05:00Z")
        .login(U1, "2026-02-02T10:00:00Z")
        .push_as(
            "user_events",
            "user.logged_in",
            2,
            U2,
            "2026-01-07T00:00:00Z",
            json!({"user_id": U2, "logged_in_at": "2026-01-07T00:00:00Z"}),
            Outcome::DeadLetter,
        )
        .cart_add(C1, Some(U1), P1, "2026-01-05T08:10:00Z")
        .cart_add(C1, Some(U1), P2, "2026-01-05T08:12:00Z")
        .again()
        .cart_add(C2, Some(U2), P3, "2026-01-06T09:05:00Z")
        .cart_add(G1, None, P1, "2026-01-07T12:00:00Z")
        .cart_add(G2, None, P1, "2026-01-08T10:00:00Z")
        .push(
            "cart_events",
            "cart.merged",
            G2,
            "2026-01-08T10:30:00Z",
            json!({"from_cart_id": G2, "into_cart_id": C2, "user_id": U2, "at": "2026-01-08T10:30:00Z"}),
        )
        .cart_add(G3, None, P2, "2026-01-09T09:00:00Z")
        .push(
            "cart_events",
            "cart.item_removed",
            G3,
            "2026-01-09T09:01:00Z",
            json!({"cart_id": G3, "user_id": null, "product_id": P2, "at": "2026-01-09T09:01:00Z"}),
        )
        .cart_add(C3, Some(U3), P2, "2026-01-12T08:10:00Z")
        // O1: 2 lamps + 1 chair, shipped later.
        .order(
            O1,
            Some(U1),
            Some(C1),
            &[(P1, 2, 1500), (P2, 1, 12000)],
            "EUR",
            "2026-01-05T08:20:00Z",
            Some("2026-01-05T08:21:00Z"),
        )
        .again()
        .push(
            "inventory_events",
            "inventory.reserved",
            O1,
            "2026-01-05T08:20:01Z",
            json!({"order_id": O1, "lines": [{"product_id": P1, "quantity": 2}, {"product_id": P2, "quantity": 1}],
                   "reserved_at": "2026-01-05T08:20:01Z"}),
        )
        .step("order.shipped", O1, "2026-01-07T10:00:00Z")
        // O2: one rug while rugs were textiles.
        .order(O2, Some(U2), Some(C2), &[(P3, 1, 8000)], "EUR", "2026-01-06T09:10:00Z", Some("2026-01-06T09:11:00Z"))
        // O3: a guest's order, cancelled and refunded the next day.
        .order(O3, None, Some(G1), &[(P1, 3, 1500)], "EUR", "2026-01-07T12:05:00Z", Some("2026-01-07T12:06:00Z"))
        .step("order.cancelled", O3, "2026-01-08T09:00:00Z")
        .refund(O3, 4500, "EUR", "2026-01-08T09:01:00Z")
        // O4: payment fails.
        .order(O4, Some(U3), Some(C3), &[(P2, 2, 12000)], "EUR", "2026-01-12T08:15:00Z", None)
        .push(
            "payment_events",
            "payment.failed",
            O4,
            "2026-01-12T08:16:00Z",
            json!({"order_id": O4, "payment_id": null, "provider": "instant", "reason": "declined",
                   "at": "2026-01-12T08:16:00Z"}),
        )
        .step("order.failed", O4, "2026-01-12T08:16:00Z")
        // O5's key: a malformed payload and an unknown version first, then the real order.
        .push_as(
            "order_events",
            "order.created",
            1,
            O5,
            "2026-01-13T09:59:00Z",
            json!({"order_id": O5, "lines": "oops"}),
            Outcome::DeadLetter,
        )
        .push_as(
            "order_events",
            "order.confirmed",
            2,
            O5,
            "2026-01-13T09:59:30Z",
            json!({"order_id": O5}),
            Outcome::DeadLetter,
        )
        .push_as("order_events", "order.paid", 1, O5, "2026-01-13T09:59:40Z", json!({}), Outcome::Ignored)
        .order(
            O5,
            Some(U2),
            Some(C2),
            &[(P3, 2, 8000), (P1, 1, 1500)],
            "EUR",
            "2026-01-13T10:00:00Z",
            Some("2026-01-13T10:01:00Z"),
        )
        // O6: USD, no cart id (converts U3's cart through the user).
        .order(O6, Some(U3), None, &[(P2, 1, 13000)], "USD", "2026-01-14T15:00:00Z", Some("2026-01-14T15:01:00Z"))
        // O7: never confirmed.
        .order(O7, Some(U1), Some(C1), &[(P1, 10, 1500)], "EUR", "2026-01-15T09:00:00Z", None)
        // O8: confirmed, cancelled, refunded (the refund was published first of all).
        .order(O8, Some(U2), None, &[(P1, 1, 1501)], "EUR", "2026-01-20T10:00:00Z", Some("2026-01-20T10:01:00Z"))
        .step("order.cancelled", O8, "2026-01-21T11:00:00Z")
        .push(
            "product_events",
            "product.deleted",
            P3,
            "2026-02-01T00:00:00Z",
            json!({"product_id": P3, "sku": "RUG-1", "deleted_at": "2026-02-01T00:00:00Z"}),
        );
    s.events
}

/// How many events end up in the inbox.
pub fn applied(events: &[Scripted]) -> usize {
    events.iter().filter(|e| e.outcome == Outcome::Applied).count()
}

/// How many events of `topic` are dead letters.
pub fn dead_letters(events: &[Scripted], topic: &str) -> usize {
    events.iter().filter(|e| e.outcome == Outcome::DeadLetter && e.topic == topic).count()
}

/// How many events are scripted as second deliveries.
pub fn duplicates(events: &[Scripted]) -> usize {
    events.iter().filter(|e| e.outcome == Outcome::Duplicate).count()
}
