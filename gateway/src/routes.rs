//! The route table: for each method and public path, which service answers and who may call it
//! (ARCHITECTURE.md §5, docs/auth.md).
//!
//! A table rather than a chain of `if`s so the whole mapping, and the whole access policy, reads
//! at a glance and `GET /` can show it. Rows are tried in order and the first match wins, so a
//! specific row (`GET /inventory/low-stock`, admin) sits above a general one (`GET
//! /inventory/{id}`, public). Each prefix ends with catch-all rows, so a path the table does not
//! name still reaches its service, under the prefix's default access, which is never weaker than
//! the rows above it allow for writes.
//!
//! Patterns match whole segments: a literal, `{id}` (exactly one non-empty segment) or a final
//! `**` (one or more segments). `/products` and `/products/7` go to the catalog, `/productsX` goes
//! nowhere. Paths are matched in the form the services' router sees them (percent-escapes decoded
//! except `%25`, `%2F`, `%2B`, as actix-router does), so `/inventory/low%2Dstock` cannot slip past
//! the row for `/inventory/low-stock`.

use crate::upstream::Service;
use std::borrow::Cow;

/// Who may call a route. The gateway enforces it before forwarding; services check again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone. A token, if sent, is still verified (a bad one is a 401) and its identity forwarded.
    Public,
    /// Anyone: guests (cart token, order token) and signed-in users, who are served as themselves.
    Guest,
    /// A valid access token.
    Authenticated,
    /// A valid access token with the `admin` role (403 otherwise).
    Admin,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::Guest => "guest",
            Access::Authenticated => "authenticated",
            Access::Admin => "admin",
        }
    }
}

/// Methods a row applies to; empty means any. `HEAD` counts as `GET`.
pub type Methods = &'static [&'static str];

const ANY: Methods = &[];
const GET: Methods = &["GET"];
const POST: Methods = &["POST"];
const PUT: Methods = &["PUT"];
const GET_POST: Methods = &["GET", "POST"];
const GET_PUT: Methods = &["GET", "PUT"];

/// The logout route: the proxy records a successful logout's token in the deny-list replica.
pub const LOGOUT_PATH: &str = "/auth/logout";

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub methods: Methods,
    pub path: &'static str,
    pub service: Service,
    pub access: Access,
}

const fn route(methods: Methods, path: &'static str, service: Service, access: Access) -> Route {
    Route { methods, path, service, access }
}

use Access::{Admin, Authenticated, Guest, Public};
use Service::{Analytics, Auth, Cart, Catalog, Inventory, Order};

/// Every proxied route. `/health`, `/metrics` and `/` are the gateway's own (public) and not listed.
pub const TABLE: &[Route] = &[
    // auth
    route(POST, "/auth/login", Auth, Public),
    route(POST, "/auth/register", Auth, Public),
    route(POST, "/auth/refresh", Auth, Public),
    route(GET_POST, LOGOUT_PATH, Auth, Authenticated),
    route(GET_PUT, "/auth/profile", Auth, Authenticated),
    route(GET, "/auth/users", Auth, Admin),
    route(PUT, "/auth/users/{id}/role", Auth, Admin),
    route(ANY, "/auth/users", Auth, Admin),
    route(ANY, "/auth/users/**", Auth, Admin),
    route(ANY, "/auth", Auth, Authenticated),
    route(ANY, "/auth/**", Auth, Authenticated),
    route(GET, "/.well-known/jwks.json", Auth, Public),
    route(ANY, "/.well-known/jwks.json", Auth, Authenticated),
    // catalog: reading is public, every write is an admin's
    route(GET, "/products", Catalog, Public),
    route(GET, "/products/**", Catalog, Public),
    route(ANY, "/products", Catalog, Admin),
    route(ANY, "/products/**", Catalog, Admin),
    route(GET, "/categories", Catalog, Public),
    route(GET, "/categories/**", Catalog, Public),
    route(ANY, "/categories", Catalog, Admin),
    route(ANY, "/categories/**", Catalog, Admin),
    // cart: guests have carts too (X-Cart-Token)
    route(ANY, "/cart", Cart, Guest),
    route(ANY, "/cart/**", Cart, Guest),
    // orders: guests check out and follow an order with its order token
    route(POST, "/orders", Order, Guest),
    route(GET, "/orders", Order, Authenticated),
    route(GET, "/orders/{id}", Order, Guest),
    // guests cancel with their order token (X-Order-Token); the service checks ownership
    route(PUT, "/orders/{id}/cancel", Order, Guest),
    route(PUT, "/orders/{id}/ship", Order, Admin),
    route(ANY, "/orders", Order, Authenticated),
    route(ANY, "/orders/**", Order, Authenticated),
    // payments: the provider's webhook is signed, not authenticated with a token
    route(POST, "/payments/webhook", Order, Public),
    route(ANY, "/payments/**", Order, Authenticated),
    // inventory: one public read; low-stock must stay above {id}, which would match it
    route(GET, "/inventory/low-stock", Inventory, Admin),
    route(POST, "/inventory/update", Inventory, Admin),
    route(GET, "/inventory/{id}", Inventory, Public),
    route(ANY, "/inventory/**", Inventory, Admin),
    // analytics
    route(ANY, "/analytics/**", Analytics, Admin),
];

impl Route {
    fn matches(&self, method: &str, segments: &[&str]) -> bool {
        let method = if method == "HEAD" { "GET" } else { method };
        (self.methods.is_empty() || self.methods.contains(&method)) && pattern_matches(self.path, segments)
    }

    /// The methods as `GET /` shows them.
    pub fn methods_label(&self) -> String {
        if self.methods.is_empty() { "*".to_owned() } else { self.methods.join("|") }
    }
}

fn pattern_matches(pattern: &str, segments: &[&str]) -> bool {
    let mut wanted = pattern.split('/').skip(1);
    let mut given = segments.iter();
    loop {
        match (wanted.next(), given.next()) {
            (Some("**"), Some(_)) => return true,
            (Some("{id}"), Some(segment)) if !segment.is_empty() => {}
            (Some(literal), Some(segment)) if literal == *segment => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// The route for a request, or `None` (a 404).
///
/// Paths with `.` or `..` segments (also percent-encoded) are refused: an upstream that normalised
/// them could be steered outside the prefix the gateway matched, e.g. `/products/../auth/x`.
pub fn resolve(method: &str, raw_path: &str) -> Option<&'static Route> {
    let path = as_routed(raw_path);
    let rest = path.strip_prefix('/')?;
    let segments: Vec<&str> = rest.split('/').collect();
    if segments.iter().any(|s| *s == "." || *s == "..") {
        return None;
    }
    TABLE.iter().find(|route| route.matches(method, &segments))
}

/// The path as actix-router matches it: percent-escapes decoded, except those of `%`, `/` and `+`.
fn as_routed(raw: &str) -> Cow<'_, str> {
    if !raw.contains('%') {
        return Cow::Borrowed(raw);
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(high), Some(low)) = (bytes.get(i + 1).and_then(hex), bytes.get(i + 2).and_then(hex))
        {
            let decoded = high * 16 + low;
            if !matches!(decoded, b'%' | b'/' | b'+') {
                out.push(decoded);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex(byte: &u8) -> Option<u8> {
    (*byte as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(method: &str, path: &str) -> Option<(Service, Access)> {
        resolve(method, path).map(|route| (route.service, route.access))
    }

    #[test]
    fn every_documented_path_reaches_its_service() {
        let cases = [
            ("POST", "/auth/login", Auth),
            ("GET", "/auth", Auth),
            ("GET", "/auth/profile", Auth),
            ("GET", "/.well-known/jwks.json", Auth),
            ("GET", "/products", Catalog),
            ("GET", "/products/0195", Catalog),
            ("GET", "/products/search", Catalog),
            ("GET", "/products/category/books", Catalog),
            ("GET", "/categories", Catalog),
            ("GET", "/categories/7", Catalog),
            ("GET", "/cart", Cart),
            ("PUT", "/cart/items/3", Cart),
            ("GET", "/orders", Order),
            ("PUT", "/orders/9/cancel", Order),
            ("PUT", "/orders/9/ship", Order),
            ("POST", "/payments/webhook", Order),
            ("GET", "/inventory/low-stock", Inventory),
            ("POST", "/inventory/update", Inventory),
            ("GET", "/analytics/top-selling", Analytics),
            ("GET", "/analytics/users", Analytics),
        ];
        for (method, path, service) in cases {
            assert_eq!(resolve(method, path).map(|r| r.service), Some(service), "{method} {path}");
        }
    }

    #[test]
    fn the_access_column_follows_docs_auth_md() {
        let cases = [
            // public
            ("POST", "/auth/login", Public),
            ("POST", "/auth/register", Public),
            ("POST", "/auth/refresh", Public),
            ("GET", "/.well-known/jwks.json", Public),
            ("GET", "/products", Public),
            ("HEAD", "/products/7", Public),
            ("GET", "/products/search", Public),
            ("GET", "/categories/7/products", Public),
            ("GET", "/inventory/0195f2a4", Public),
            ("POST", "/payments/webhook", Public),
            // guest-capable
            ("GET", "/cart", Guest),
            ("DELETE", "/cart/items/3", Guest),
            ("POST", "/orders", Guest),
            ("GET", "/orders/0195f2a4", Guest),
            ("PUT", "/orders/9/cancel", Guest),
            // authenticated
            ("GET", "/auth/logout", Authenticated),
            ("POST", "/auth/logout", Authenticated),
            ("GET", "/auth/profile", Authenticated),
            ("PUT", "/auth/profile", Authenticated),
            ("GET", "/orders", Authenticated),
            // admin
            ("GET", "/auth/users", Admin),
            ("PUT", "/auth/users/7/role", Admin),
            ("POST", "/products", Admin),
            ("PUT", "/products/7", Admin),
            ("DELETE", "/products/7", Admin),
            ("PATCH", "/products/7", Admin),
            ("POST", "/categories", Admin),
            ("DELETE", "/categories/7", Admin),
            ("POST", "/inventory/update", Admin),
            ("GET", "/inventory/low-stock", Admin),
            ("GET", "/analytics/revenue", Admin),
            ("PUT", "/orders/9/ship", Admin),
        ];
        for (method, path, access) in cases {
            assert_eq!(resolve(method, path).map(|r| r.access), Some(access), "{method} {path}");
        }
    }

    #[test]
    fn paths_the_table_does_not_name_get_their_prefix_default() {
        assert_eq!(found("GET", "/auth/sessions"), Some((Auth, Authenticated)));
        assert_eq!(found("DELETE", "/auth/users/7"), Some((Auth, Admin)));
        assert_eq!(found("POST", "/.well-known/jwks.json"), Some((Auth, Authenticated)));
        assert_eq!(found("GET", "/orders/9/history"), Some((Order, Authenticated)));
        assert_eq!(found("DELETE", "/orders/9"), Some((Order, Authenticated)));
        assert_eq!(found("GET", "/payments/intents"), Some((Order, Authenticated)));
        assert_eq!(found("PUT", "/inventory/7"), Some((Inventory, Admin)));
        assert_eq!(found("GET", "/inventory/7/reservations"), Some((Inventory, Admin)));
        // An empty `{id}` is not an id.
        assert_eq!(found("GET", "/orders/"), Some((Order, Authenticated)));
    }

    #[test]
    fn encoded_paths_cannot_dodge_a_stricter_row() {
        assert_eq!(found("GET", "/inventory/low%2Dstock"), Some((Inventory, Admin)));
        assert_eq!(found("GET", "/inventory/%6c%6f%77-stock"), Some((Inventory, Admin)));
        assert_eq!(found("GET", "/auth/user%73"), Some((Auth, Admin)));
        assert_eq!(found("PUT", "/orders/9/%73hip"), Some((Order, Admin)));
        // `%2F` stays encoded for actix too: one segment, not two.
        assert_eq!(found("GET", "/inventory/low%2Fstock"), Some((Inventory, Public)));
        assert_eq!(found("GET", "/inventory/%zz"), Some((Inventory, Public)));
    }

    #[test]
    fn matching_is_by_segment_not_substring() {
        for path in ["/productsX", "/products-old/1", "/cartography", "/authx", "/orders2"] {
            assert_eq!(resolve("GET", path).map(|r| r.path), None, "{path}");
        }
    }

    #[test]
    fn subtree_only_routes_refuse_their_bare_prefix() {
        for path in ["/inventory", "/analytics", "/payments", "/.well-known/jwks.json/x"] {
            assert!(resolve("GET", path).is_none(), "{path}");
        }
    }

    #[test]
    fn unknown_and_dot_segment_paths_resolve_to_nothing() {
        for path in ["/", "/admin", "/products/../auth/x", "/cart/./items", "/orders/%2E%2e/x", "", "products"] {
            assert!(resolve("GET", path).is_none(), "{path}");
        }
    }

    #[test]
    fn every_prefix_ends_with_a_catch_all_row() {
        // A path under a known prefix must never fall off the table because a method is missing.
        for path in ["/auth", "/auth/x", "/products", "/products/x", "/categories/x", "/cart/x", "/orders/x/y"] {
            for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
                assert!(resolve(method, path).is_some(), "{method} {path}");
            }
        }
    }
}
