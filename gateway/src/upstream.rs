//! The services behind the gateway: their names, the variables that locate them and their base URLs.
//!
//! One enum instead of strings so the route table, the proxy, `/health` and `/metrics` cannot
//! disagree about which services exist.

use shop_common::settings::{Env, SettingsError};
use std::fmt;

/// One upstream service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    Auth,
    Catalog,
    Cart,
    Order,
    Inventory,
    Analytics,
}

impl Service {
    pub const ALL: [Service; 6] =
        [Service::Auth, Service::Catalog, Service::Cart, Service::Order, Service::Inventory, Service::Analytics];

    /// The service id: the key in `/health`, the `service` label in metrics.
    pub fn name(self) -> &'static str {
        match self {
            Service::Auth => "auth",
            Service::Catalog => "catalog",
            Service::Cart => "cart",
            Service::Order => "order",
            Service::Inventory => "inventory",
            Service::Analytics => "analytics",
        }
    }

    /// The environment variable holding the service's base URL.
    pub fn url_variable(self) -> &'static str {
        match self {
            Service::Auth => "AUTH_SERVICE_URL",
            Service::Catalog => "CATALOG_SERVICE_URL",
            Service::Cart => "CART_SERVICE_URL",
            Service::Order => "ORDER_SERVICE_URL",
            Service::Inventory => "INVENTORY_SERVICE_URL",
            Service::Analytics => "ANALYTICS_SERVICE_URL",
        }
    }

    /// Where the service listens by default (ARCHITECTURE.md §1).
    pub fn default_url(self) -> String {
        let port = match self {
            Service::Auth => 5101,
            Service::Catalog => 5102,
            Service::Cart => 5103,
            Service::Order => 5104,
            Service::Inventory => 5105,
            Service::Analytics => 5106,
        };
        format!("http://127.0.0.1:{port}")
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The base URL of every service, without a trailing slash, so `base + raw path` is the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstreams {
    bases: [String; 6],
}

impl Upstreams {
    /// Reads `<NAME>_SERVICE_URL` for every service; a value that is not an `http(s)://` URL with a
    /// host is an error naming the variable.
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        let mut bases: [String; 6] = Default::default();
        for service in Service::ALL {
            let raw = env.string_or(service.url_variable(), &service.default_url());
            bases[service.index()] = parse_base_url(service.url_variable(), &raw)?;
        }
        Ok(Self { bases })
    }

    pub fn base(&self, service: Service) -> &str {
        &self.bases[service.index()]
    }

    /// `base + path_and_query`; the path is forwarded raw (still percent-encoded) on purpose, so the
    /// upstream sees exactly what the client sent.
    pub fn url(&self, service: Service, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base(service))
    }
}

fn parse_base_url(variable: &str, raw: &str) -> Result<String, SettingsError> {
    let invalid = |reason: String| SettingsError::Invalid { name: variable.to_owned(), value: raw.to_owned(), reason };
    let url = reqwest::Url::parse(raw.trim()).map_err(|err| invalid(err.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid("must be an http:// or https:// URL with a host".into()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must not have a query or fragment".into()));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ports() {
        let upstreams = Upstreams::from_env(&Env::from_pairs([])).unwrap();
        assert_eq!(upstreams.base(Service::Auth), "http://127.0.0.1:5101");
        assert_eq!(upstreams.base(Service::Analytics), "http://127.0.0.1:5106");
        assert_eq!(upstreams.url(Service::Cart, "/cart/items?x=1"), "http://127.0.0.1:5103/cart/items?x=1");
    }

    #[test]
    fn trailing_slash_and_path_prefix_are_kept_sane() {
        let env = Env::from_pairs([("CATALOG_SERVICE_URL", "http://catalog:8080/api/")]);
        let upstreams = Upstreams::from_env(&env).unwrap();
        assert_eq!(upstreams.url(Service::Catalog, "/products"), "http://catalog:8080/api/products");
    }

    #[test]
    fn malformed_url_names_the_variable() {
        for bad in ["not a url", "ftp://x", "http://host/?q=1"] {
            let env = Env::from_pairs([("ORDER_SERVICE_URL", bad)]);
            let err = Upstreams::from_env(&env).unwrap_err();
            assert!(matches!(&err, SettingsError::Invalid { name, .. } if name == "ORDER_SERVICE_URL"), "{bad}: {err}");
        }
    }
}
