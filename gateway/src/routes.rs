//! The route table: which service answers which public path (ARCHITECTURE.md §5).
//!
//! A table rather than a chain of `if`s so the whole mapping reads at a glance and `GET /` can show
//! it. Matching is by whole path segments: `/products` and `/products/7` go to the catalog,
//! `/productsX` goes nowhere.

use crate::upstream::Service;

/// Which paths under a prefix a route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Only the prefix itself (`/cart`).
    Exact,
    /// Only paths below the prefix (`/inventory/**`), not the prefix itself.
    Below,
    /// The prefix and everything below it.
    ExactAndBelow,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub prefix: &'static str,
    pub reach: Reach,
    pub service: Service,
}

const fn route(prefix: &'static str, reach: Reach, service: Service) -> Route {
    Route { prefix, reach, service }
}

/// Every proxied path. `/health`, `/metrics` and `/` are the gateway's own and not listed.
pub const TABLE: &[Route] = &[
    route("/auth", Reach::ExactAndBelow, Service::Auth),
    route("/.well-known/jwks.json", Reach::Exact, Service::Auth),
    route("/products", Reach::ExactAndBelow, Service::Catalog),
    route("/categories", Reach::ExactAndBelow, Service::Catalog),
    route("/cart", Reach::ExactAndBelow, Service::Cart),
    route("/orders", Reach::ExactAndBelow, Service::Order),
    route("/payments", Reach::Below, Service::Order),
    route("/inventory", Reach::Below, Service::Inventory),
    route("/analytics", Reach::Below, Service::Analytics),
];

impl Route {
    fn matches(&self, path: &str) -> bool {
        let Some(rest) = path.strip_prefix(self.prefix) else { return false };
        // The prefix must end at a segment boundary: "/products" must not take "/productsX".
        let exact = rest.is_empty();
        let below = rest.starts_with('/');
        match self.reach {
            Reach::Exact => exact,
            Reach::Below => below,
            Reach::ExactAndBelow => exact || below,
        }
    }

    /// How the route reads in `GET /`: `/products`, `/products/**`, or both.
    pub fn pattern(&self) -> String {
        match self.reach {
            Reach::Exact => self.prefix.to_owned(),
            Reach::Below => format!("{}/**", self.prefix),
            Reach::ExactAndBelow => format!("{}, {}/**", self.prefix, self.prefix),
        }
    }
}

/// The service for a raw request path, or `None` (a 404).
///
/// Paths with `.` or `..` segments (also percent-encoded) are refused: an upstream that normalised
/// them could be steered outside the prefix the gateway matched, e.g. `/products/../auth/x`.
pub fn resolve(path: &str) -> Option<Service> {
    if path.split('/').any(is_dot_segment) {
        return None;
    }
    TABLE.iter().find(|route| route.matches(path)).map(|route| route.service)
}

fn is_dot_segment(segment: &str) -> bool {
    let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
    decoded == "." || decoded == ".."
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_path_reaches_its_service() {
        let cases = [
            ("/auth/login", Service::Auth),
            ("/auth", Service::Auth),
            ("/auth/profile", Service::Auth),
            ("/.well-known/jwks.json", Service::Auth),
            ("/products", Service::Catalog),
            ("/products/0195", Service::Catalog),
            ("/products/search", Service::Catalog),
            ("/products/category/books", Service::Catalog),
            ("/categories", Service::Catalog),
            ("/categories/7", Service::Catalog),
            ("/cart", Service::Cart),
            ("/cart/items/3", Service::Cart),
            ("/orders", Service::Order),
            ("/orders/9/cancel", Service::Order),
            ("/orders/9/ship", Service::Order),
            ("/payments/webhook", Service::Order),
            ("/inventory/low-stock", Service::Inventory),
            ("/inventory/update", Service::Inventory),
            ("/analytics/top-selling", Service::Analytics),
            ("/analytics/users", Service::Analytics),
        ];
        for (path, service) in cases {
            assert_eq!(resolve(path), Some(service), "{path}");
        }
    }

    #[test]
    fn matching_is_by_segment_not_substring() {
        for path in ["/productsX", "/products-old/1", "/cartography", "/authx", "/orders2"] {
            assert_eq!(resolve(path), None, "{path}");
        }
    }

    #[test]
    fn subtree_only_routes_refuse_their_bare_prefix() {
        assert_eq!(resolve("/inventory"), None);
        assert_eq!(resolve("/analytics"), None);
        assert_eq!(resolve("/payments"), None);
        assert_eq!(resolve("/.well-known/jwks.json/x"), None);
    }

    #[test]
    fn unknown_and_dot_segment_paths_resolve_to_nothing() {
        for path in ["/", "/admin", "/products/../auth/x", "/cart/./items", "/orders/%2E%2e/x", ""] {
            assert_eq!(resolve(path), None, "{path}");
        }
    }

    #[test]
    fn patterns_read_like_the_spec() {
        let patterns: Vec<String> = TABLE.iter().map(Route::pattern).collect();
        assert!(patterns.contains(&"/inventory/**".to_owned()));
        assert!(patterns.contains(&"/cart, /cart/**".to_owned()));
    }
}
