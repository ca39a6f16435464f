//! Tokens this gateway has already verified, so a client's next requests with the same token skip
//! the signature check (an Ed25519 verification is ~60 µs, a third of a proxied request's cost).
//!
//! Reusing a result is exactly as strict as verifying again: the same bytes under the same keys
//! give the same answer, except for what changes with time or keys, and both are rechecked:
//! - `exp` (with the leeway) is compared on every hit; `nbf` only ever becomes more true;
//! - every entry records the key-set generation it was verified under; after any JWKS swap the
//!   entry no longer matches, so a withdrawn key stops verifying its tokens at once.
//!
//! The deny-list is *not* cached: it is asked on every request. Only successes are stored (a
//! failure is cheap to find again and must not let garbage fill memory), and the map is bounded.

use reqwest::header::{HeaderName, HeaderValue};
use shop_common::auth::Identity;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A verified caller, with the identity headers the proxy forwards rendered once per token rather
/// than once per request.
#[derive(Debug)]
pub struct Caller {
    pub identity: Identity,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl Caller {
    pub fn new(identity: Identity) -> Self {
        let headers = identity
            .to_headers()
            .into_iter()
            // Every value comes from verified, validated claims (UUIDs, role names, numbers, short
            // ids); one that cannot be a header value is left out rather than failing the request.
            .filter_map(|(name, value)| Some((HeaderName::from_static(name), HeaderValue::from_str(&value).ok()?)))
            .collect();
        Self { identity, headers }
    }
}

/// Entries kept at most; at ~1 kB each (token + identity) a few MB.
pub const CAPACITY: usize = 10_000;

struct Entry {
    caller: Arc<Caller>,
    /// Unix seconds after which the token is expired even with the leeway (`exp + leeway`).
    valid_until: i64,
    generation: u64,
}

/// The verified-token cache, shared by all workers.
pub struct VerifiedTokens {
    entries: Mutex<HashMap<String, Entry>>,
    capacity: usize,
}

impl VerifiedTokens {
    pub fn new(capacity: usize) -> Self {
        Self { entries: Mutex::new(HashMap::new()), capacity }
    }

    /// The identity `token` was verified as, if that is still valid at `now` under `generation`.
    pub fn get(&self, token: &str, now: i64, generation: u64) -> Option<Arc<Caller>> {
        let entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = entries.get(token)?;
        (entry.generation == generation && now <= entry.valid_until).then(|| entry.caller.clone())
    }

    /// Remembers a successful verification made under `generation` (read *before* verifying, so
    /// a key-set swap during the verification can only make the entry miss, never outlive it).
    pub fn insert(&self, token: &str, caller: Arc<Caller>, valid_until: i64, now: i64, generation: u64) {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= self.capacity && !entries.contains_key(token) {
            entries.retain(|_, entry| entry.valid_until >= now && entry.generation == generation);
            if entries.len() >= self.capacity {
                // Still full of live tokens: start over rather than track recency on every hit.
                entries.clear();
            }
        }
        entries.insert(token.to_owned(), Entry { caller, valid_until, generation });
    }

    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shop_common::auth::Role;

    fn identity() -> Arc<Caller> {
        Arc::new(Caller::new(Identity {
            user_id: uuid::Uuid::new_v4(),
            roles: vec![Role::Customer],
            token_id: Some("j".into()),
            token_expires_at: Some(1_000),
            session_id: None,
        }))
    }

    #[test]
    fn a_hit_needs_the_same_token_generation_and_an_unexpired_token() {
        let cache = VerifiedTokens::new(10);
        let who = identity();
        cache.insert("t1", who.clone(), 1_030, 900, 7);
        assert!(cache.get("t1", 1_030, 7).is_some_and(|hit| Arc::ptr_eq(&hit, &who)));
        assert!(cache.get("t1", 1_031, 7).is_none(), "expired past the leeway");
        assert!(cache.get("t1", 1_000, 8).is_none(), "the key set changed since");
        assert!(cache.get("t2", 1_000, 7).is_none());
    }

    #[test]
    fn a_caller_carries_its_identity_headers_rendered() {
        let caller = identity();
        let rendered: Vec<(String, String)> = caller
            .headers
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap().to_owned()))
            .collect();
        let expected: Vec<(String, String)> =
            caller.identity.to_headers().into_iter().map(|(name, value)| (name.to_owned(), value)).collect();
        assert_eq!(rendered, expected);
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = VerifiedTokens::new(3);
        for (i, valid_until) in [(0, 100), (1, 5_000), (2, 5_000)] {
            cache.insert(&format!("t{i}"), identity(), valid_until, 0, 1);
        }
        // Full: the expired entry makes room.
        cache.insert("t3", identity(), 5_000, 200, 1);
        assert_eq!(cache.len(), 3);
        assert!(cache.get("t0", 50, 1).is_none() && cache.get("t1", 200, 1).is_some());
        // Full of live entries: cleared, then the new one stored.
        cache.insert("t4", identity(), 5_000, 200, 1);
        assert_eq!(cache.len(), 1);
        assert!(cache.get("t4", 200, 1).is_some());
    }
}
