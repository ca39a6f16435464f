//! Hashes and secrets: the guest's order token, the idempotency scope and key, request hashes.
//!
//! Tokens are stored only as SHA-256 hashes. A guest's order token is derived from their cart
//! token and the order id (`sha256("shop-order-token" ‖ cart token ‖ order id)`): only the cart
//! token's holder can compute it, and an idempotent replay can return the same token without the
//! database ever holding it in clear.

use super::OrderId;
use sha2::{Digest, Sha256};

pub const MAX_IDEMPOTENCY_KEY: usize = 255;
/// Stripe's limit on its own `Idempotency-Key`.
const MAX_PAYMENT_KEY: usize = 255;

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The order token a guest receives for `order_id`, derived from their cart token.
pub fn guest_order_token(cart_token: &str, order_id: OrderId) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"shop-order-token\0");
    hasher.update(cart_token.as_bytes());
    hasher.update(b"\0");
    hasher.update(order_id.0.as_bytes());
    hex::encode(hasher.finalize())
}

/// Who an `Idempotency-Key` belongs to: a user, or the holder of a guest cart token.
pub fn user_scope(user_id: uuid::Uuid) -> String {
    format!("user:{user_id}")
}

pub fn guest_scope(cart_token: &str) -> String {
    format!("cart:{}", sha256_hex(cart_token.as_bytes()))
}

/// 1–255 visible ASCII characters (RFC 9110 token-ish, as Stripe accepts).
pub fn valid_idempotency_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= MAX_IDEMPOTENCY_KEY && key.bytes().all(|b| b.is_ascii_graphic())
}

/// The key the payment provider sees: the order id (unique across callers, so two customers who
/// happen to pick the same `Idempotency-Key` never share a payment), followed by the client's key
/// for tracing. Truncation cannot collide: the order id alone is already unique.
pub fn payment_key(order_id: OrderId, idempotency_key: Option<&str>) -> String {
    let mut key = order_id.to_string();
    if let Some(client) = idempotency_key {
        key.push(':');
        key.push_str(client);
        key.truncate(MAX_PAYMENT_KEY);
    }
    key
}

/// Timing-safe equality for token hashes.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn idempotency_keys_are_visible_ascii_up_to_255() {
        assert!(valid_idempotency_key("a"));
        assert!(valid_idempotency_key(&"k".repeat(255)));
        assert!(!valid_idempotency_key(""));
        assert!(!valid_idempotency_key(&"k".repeat(256)));
        assert!(!valid_idempotency_key("has space"));
        assert!(!valid_idempotency_key("ümlaut"));
    }

    #[test]
    fn payment_keys_are_unique_per_order_and_bounded() {
        let a = OrderId(Uuid::now_v7());
        let b = OrderId(Uuid::now_v7());
        assert_ne!(payment_key(a, Some("k")), payment_key(b, Some("k")));
        assert_eq!(payment_key(a, None), a.to_string());
        assert_eq!(payment_key(a, Some(&"x".repeat(255))).len(), 255);
    }

    #[test]
    fn guest_tokens_depend_on_cart_token_and_order() {
        let order = OrderId(Uuid::now_v7());
        assert_eq!(guest_order_token("t", order), guest_order_token("t", order));
        assert_ne!(guest_order_token("t", order), guest_order_token("u", order));
        assert_ne!(guest_order_token("t", order), guest_order_token("t", OrderId(Uuid::now_v7())));
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert_ne!(guest_scope("t"), user_scope(Uuid::nil()));
    }
}
