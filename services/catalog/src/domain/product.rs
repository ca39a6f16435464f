//! Products as clients see them, and the validation of admin writes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shop_common::error::FieldError;
use std::fmt;
use uuid::Uuid;

/// A product's id (UUID v7, assigned by the service).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct ProductId(pub Uuid);

impl ProductId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for ProductId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for ProductId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// ISO 4217 codes the shop sells in. A fixed list: a typo such as `EUO` must be a 400, not a
/// product nobody can pay for.
pub const CURRENCIES: &[&str] =
    &["EUR", "USD", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "JPY", "CAD", "AUD", "NZD"];

pub const MAX_SKU_CHARS: usize = 64;
pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 20_000;
pub const MAX_IMAGE_URLS: usize = 20;
pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_ATTRIBUTES: usize = 50;
pub const MAX_ATTRIBUTES_BYTES: usize = 8 * 1024;
/// A sanity bound (10 billion major units) so sums over many lines never overflow an i64.
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000;
pub const MAX_STOCK: i32 = 1_000_000_000;
pub const DEFAULT_LOW_STOCK_THRESHOLD: i32 = 5;

/// Money in integer minor units (docs/events.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: String,
}

/// A product as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub id: ProductId,
    pub sku: String,
    pub name: String,
    pub description: String,
    pub price: Money,
    pub category: Option<String>,
    pub attributes: serde_json::Value,
    pub image_urls: Vec<String>,
    pub active: bool,
    pub low_stock_threshold: i32,
    pub in_stock: bool,
    pub available: i32,
    /// The optimistic-concurrency version, also sent as the `ETag`.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The body of `POST /products` and `PUT /products/{id}`. Every field is optional here so that
/// all missing and invalid fields are reported together; unknown fields (`id`, `created_at`,
/// `version`, `in_stock`...) are ignored, so clients cannot set server-owned values.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ProductInput {
    pub sku: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub price: Option<Money>,
    #[serde(alias = "category_slug")]
    pub category: Option<String>,
    pub attributes: Option<serde_json::Value>,
    pub image_urls: Option<Vec<String>>,
    pub active: Option<bool>,
    pub low_stock_threshold: Option<i32>,
    /// Create only: the stock inventory starts with (carried by `product.created`).
    pub initial_stock: Option<i32>,
}

/// A complete, valid product state ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidProduct {
    pub sku: String,
    pub name: String,
    pub description: String,
    pub price: Money,
    pub category: Option<String>,
    pub attributes: serde_json::Value,
    pub image_urls: Vec<String>,
    pub active: bool,
    pub low_stock_threshold: i32,
    pub initial_stock: i32,
}

impl ProductInput {
    /// Validates a create request: `sku`, `name` and `price` are required.
    pub fn validate_new(self) -> Result<ValidProduct, Vec<FieldError>> {
        self.validate_over(None)
    }

    /// Validates an update: absent fields keep `current`'s values. `initial_stock` is ignored
    /// (stock belongs to inventory after the create).
    pub fn validate_update(self, current: &Product) -> Result<ValidProduct, Vec<FieldError>> {
        self.validate_over(Some(current))
    }

    fn validate_over(self, current: Option<&Product>) -> Result<ValidProduct, Vec<FieldError>> {
        let mut errors = Vec::new();
        let required = |errors: &mut Vec<FieldError>, field: &str| errors.push(FieldError::new(field, "is required"));

        let sku = match self.sku.or_else(|| current.map(|c| c.sku.clone())) {
            Some(sku) => check_sku(sku.trim(), &mut errors),
            None => {
                required(&mut errors, "sku");
                String::new()
            }
        };
        let name = match self.name.or_else(|| current.map(|c| c.name.clone())) {
            Some(name) => check_name(name.trim(), &mut errors),
            None => {
                required(&mut errors, "name");
                String::new()
            }
        };
        let description = self.description.or_else(|| current.map(|c| c.description.clone())).unwrap_or_default();
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            errors.push(FieldError::new("description", format!("must be at most {MAX_DESCRIPTION_CHARS} characters")));
        }
        let price = match self.price.or_else(|| current.map(|c| c.price.clone())) {
            Some(price) => check_price(price, &mut errors),
            None => {
                required(&mut errors, "price");
                Money { amount_minor: 0, currency: String::new() }
            }
        };
        let category = self.category.map(|c| c.trim().to_owned()).or_else(|| current.and_then(|c| c.category.clone()));
        if let Some(slug) = &category
            && let Err(message) = super::category::check_slug(slug)
        {
            errors.push(FieldError::new("category", message));
        }
        let attributes = self
            .attributes
            .or_else(|| current.map(|c| c.attributes.clone()))
            .unwrap_or_else(|| serde_json::Value::Object(Default::default()));
        check_attributes(&attributes, &mut errors);
        let image_urls = self.image_urls.or_else(|| current.map(|c| c.image_urls.clone())).unwrap_or_default();
        check_image_urls(&image_urls, &mut errors);
        let low_stock_threshold = self
            .low_stock_threshold
            .or_else(|| current.map(|c| c.low_stock_threshold))
            .unwrap_or(DEFAULT_LOW_STOCK_THRESHOLD);
        if !(0..=MAX_STOCK).contains(&low_stock_threshold) {
            errors.push(FieldError::new("low_stock_threshold", format!("must be between 0 and {MAX_STOCK}")));
        }
        let initial_stock = if current.is_some() { 0 } else { self.initial_stock.unwrap_or(0) };
        if !(0..=MAX_STOCK).contains(&initial_stock) {
            errors.push(FieldError::new("initial_stock", format!("must be between 0 and {MAX_STOCK}")));
        }
        let active = self.active.or_else(|| current.map(|c| c.active)).unwrap_or(true);

        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ValidProduct {
            sku,
            name,
            description,
            price,
            category,
            attributes,
            image_urls,
            active,
            low_stock_threshold,
            initial_stock,
        })
    }
}

fn check_sku(sku: &str, errors: &mut Vec<FieldError>) -> String {
    if sku.is_empty() || sku.chars().count() > MAX_SKU_CHARS {
        errors.push(FieldError::new("sku", format!("must be 1 to {MAX_SKU_CHARS} characters")));
    } else if !sku.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        errors.push(FieldError::new("sku", "may contain only letters, digits, '-', '_' and '.'"));
    }
    sku.to_owned()
}

fn check_name(name: &str, errors: &mut Vec<FieldError>) -> String {
    if name.is_empty() {
        errors.push(FieldError::new("name", "must not be empty"));
    } else if name.chars().count() > MAX_NAME_CHARS {
        errors.push(FieldError::new("name", format!("must be at most {MAX_NAME_CHARS} characters")));
    } else if name.chars().any(char::is_control) {
        errors.push(FieldError::new("name", "must not contain control characters"));
    }
    name.to_owned()
}

fn check_price(price: Money, errors: &mut Vec<FieldError>) -> Money {
    if price.amount_minor < 0 {
        errors.push(FieldError::new("price.amount_minor", "must not be negative"));
    } else if price.amount_minor > MAX_AMOUNT_MINOR {
        errors.push(FieldError::new("price.amount_minor", format!("must be at most {MAX_AMOUNT_MINOR}")));
    }
    let currency = price.currency.trim().to_ascii_uppercase();
    if !CURRENCIES.contains(&currency.as_str()) {
        errors.push(FieldError::new("price.currency", format!("must be one of {}", CURRENCIES.join(", "))));
    }
    Money { amount_minor: price.amount_minor, currency }
}

fn check_attributes(attributes: &serde_json::Value, errors: &mut Vec<FieldError>) {
    let Some(map) = attributes.as_object() else {
        errors.push(FieldError::new("attributes", "must be a JSON object"));
        return;
    };
    if map.len() > MAX_ATTRIBUTES {
        errors.push(FieldError::new("attributes", format!("must have at most {MAX_ATTRIBUTES} keys")));
    }
    if map.keys().any(|k| k.is_empty() || k.chars().count() > 64) {
        errors.push(FieldError::new("attributes", "keys must be 1 to 64 characters"));
    }
    if attributes.to_string().len() > MAX_ATTRIBUTES_BYTES {
        errors.push(FieldError::new("attributes", format!("must be at most {MAX_ATTRIBUTES_BYTES} bytes as JSON")));
    }
}

fn check_image_urls(urls: &[String], errors: &mut Vec<FieldError>) {
    if urls.len() > MAX_IMAGE_URLS {
        errors.push(FieldError::new("image_urls", format!("must have at most {MAX_IMAGE_URLS} entries")));
    }
    for (index, url) in urls.iter().enumerate() {
        if !is_http_url(url) {
            errors.push(FieldError::new(format!("image_urls[{index}]"), "must be an http(s) URL"));
        }
    }
}

/// A plain check rather than a URL parser: scheme, a non-empty host, no whitespace or controls.
fn is_http_url(url: &str) -> bool {
    if url.len() > MAX_URL_CHARS || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    rest.and_then(|r| r.split(['/', '?', '#']).next()).is_some_and(|host| !host.is_empty() && !host.starts_with(':'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(value: serde_json::Value) -> ProductInput {
        serde_json::from_value(value).unwrap()
    }

    fn fields(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_minimal_product_is_valid_with_defaults() {
        let valid = input(json!({"sku": "A-1", "name": " Lamp ", "price": {"amount_minor": 0, "currency": "eur"}}))
            .validate_new()
            .unwrap();
        assert_eq!(valid.name, "Lamp");
        assert_eq!(valid.price.currency, "EUR");
        assert!(valid.active);
        assert_eq!(valid.low_stock_threshold, DEFAULT_LOW_STOCK_THRESHOLD);
        assert_eq!(valid.attributes, json!({}));
    }

    #[test]
    fn every_bad_field_is_reported() {
        let errors = input(json!({
            "sku": "bad sku!", "name": "  ", "description": "x".repeat(MAX_DESCRIPTION_CHARS + 1),
            "price": {"amount_minor": -1, "currency": "XXX"}, "category": "Not A Slug",
            "attributes": [1], "image_urls": ["ftp://x", "https://ok.example/a.png", "https:///nohost"],
            "low_stock_threshold": -2, "initial_stock": -3
        }))
        .validate_new()
        .unwrap_err();
        let fields = fields(errors);
        for field in [
            "sku",
            "name",
            "description",
            "price.amount_minor",
            "price.currency",
            "category",
            "attributes",
            "image_urls[0]",
            "image_urls[2]",
            "low_stock_threshold",
            "initial_stock",
        ] {
            assert!(fields.contains(&field.to_owned()), "{field} missing from {fields:?}");
        }
        assert!(!fields.contains(&"image_urls[1]".to_owned()));
    }

    #[test]
    fn required_fields_are_named() {
        let fields = fields(input(json!({})).validate_new().unwrap_err());
        assert_eq!(fields, ["sku", "name", "price"]);
    }

    #[test]
    fn too_many_images_and_big_attributes_are_refused() {
        let urls: Vec<String> = (0..21).map(|i| format!("https://img.example/{i}.jpg")).collect();
        let big: serde_json::Map<String, serde_json::Value> =
            (0..51).map(|i| (format!("k{i}"), json!("v".repeat(200)))).collect();
        let errors = input(json!({"sku": "A", "name": "B", "price": {"amount_minor": 1, "currency": "EUR"},
            "image_urls": urls, "attributes": big}))
        .validate_new()
        .unwrap_err();
        let fields = fields(errors);
        assert!(fields.contains(&"image_urls".to_owned()));
        assert!(fields.iter().filter(|f| *f == "attributes").count() >= 2);
    }

    #[test]
    fn an_update_keeps_absent_fields() {
        let current = Product {
            id: ProductId::new(),
            sku: "S".into(),
            name: "Old".into(),
            description: "d".into(),
            price: Money { amount_minor: 100, currency: "EUR".into() },
            category: Some("lamps".into()),
            attributes: json!({"color": "red"}),
            image_urls: vec![],
            active: true,
            low_stock_threshold: 3,
            in_stock: true,
            available: 4,
            version: 2,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let valid = input(json!({"name": "New", "initial_stock": 50})).validate_update(&current).unwrap();
        assert_eq!(valid.name, "New");
        assert_eq!(valid.category.as_deref(), Some("lamps"));
        assert_eq!(valid.price.amount_minor, 100);
        assert_eq!(valid.initial_stock, 0, "stock is not the catalogue's to change after create");
    }
}
