//! The body of `POST /orders` and its validation.
//!
//! Users may send an empty body (or just a shipping address); guests must say where to ship and
//! where to write. Values are trimmed before validation and before the idempotency hash, so the
//! same order typed twice hashes the same.

use serde::{Deserialize, Serialize};
use shop_common::error::FieldError;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOrder {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub shipping_address: Option<ShippingAddress>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShippingAddress {
    pub name: String,
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, upper case after normalisation.
    pub country: String,
}

const MAX_EMAIL: usize = 254;

fn check_text(errors: &mut Vec<FieldError>, field: &str, value: &str, max: usize) {
    if value.is_empty() {
        errors.push(FieldError::new(field, "must not be empty"));
    } else if value.chars().count() > max {
        errors.push(FieldError::new(field, format!("must be at most {max} characters")));
    } else if value.chars().any(char::is_control) {
        errors.push(FieldError::new(field, "must not contain control characters"));
    }
}

fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl CreateOrder {
    /// Trims every value; an empty optional value becomes `None`.
    pub fn normalized(mut self) -> Self {
        self.email = self.email.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty());
        if let Some(address) = &mut self.shipping_address {
            for value in [
                &mut address.name,
                &mut address.line1,
                &mut address.city,
                &mut address.postal_code,
                &mut address.country,
            ] {
                *value = value.trim().to_owned();
            }
            address.country = address.country.to_ascii_uppercase();
            address.line2 = address.line2.take().map(|l| l.trim().to_owned()).filter(|l| !l.is_empty());
        }
        self
    }

    /// Checks the fields; a guest (`is_guest`) must give an e-mail and a shipping address.
    pub fn validate(&self, is_guest: bool) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        match &self.email {
            None if is_guest => errors.push(FieldError::new("email", "required for guest checkout")),
            None => {}
            Some(email) if email.len() > MAX_EMAIL || !valid_email(email) => {
                errors.push(FieldError::new("email", "must be a valid e-mail address"));
            }
            Some(_) => {}
        }
        match &self.shipping_address {
            None if is_guest => {
                errors.push(FieldError::new("shipping_address", "required for guest checkout"));
            }
            None => {}
            Some(address) => {
                check_text(&mut errors, "shipping_address.name", &address.name, 200);
                check_text(&mut errors, "shipping_address.line1", &address.line1, 200);
                if let Some(line2) = &address.line2 {
                    check_text(&mut errors, "shipping_address.line2", line2, 200);
                }
                check_text(&mut errors, "shipping_address.city", &address.city, 100);
                check_text(&mut errors, "shipping_address.postal_code", &address.postal_code, 20);
                if address.country.len() != 2 || !address.country.bytes().all(|b| b.is_ascii_uppercase()) {
                    errors.push(FieldError::new(
                        "shipping_address.country",
                        "must be a two-letter ISO 3166-1 country code",
                    ));
                }
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address() -> ShippingAddress {
        ShippingAddress {
            name: " Ada Lovelace ".into(),
            line1: "1 Analytical Way".into(),
            line2: Some("  ".into()),
            city: "London".into(),
            postal_code: "N1 7AA".into(),
            country: "gb".into(),
        }
    }

    #[test]
    fn guests_need_email_and_address() {
        let errors = CreateOrder::default().validate(true).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["email", "shipping_address"]);
        assert!(CreateOrder::default().validate(false).is_ok());
    }

    #[test]
    fn normalises_then_validates() {
        let order =
            CreateOrder { email: Some(" ada@example.com ".into()), shipping_address: Some(address()) }.normalized();
        assert_eq!(order.email.as_deref(), Some("ada@example.com"));
        let address = order.shipping_address.as_ref().unwrap();
        assert_eq!(
            (address.name.as_str(), address.country.as_str(), address.line2.as_ref()),
            ("Ada Lovelace", "GB", None)
        );
        assert!(order.validate(true).is_ok());
    }

    #[test]
    fn reports_each_bad_field() {
        let mut bad = address();
        bad.country = "GBR".into();
        bad.city = String::new();
        let order = CreateOrder { email: Some("not-an-email".into()), shipping_address: Some(bad) }.normalized();
        let errors = order.validate(false).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["email", "shipping_address.city", "shipping_address.country"]);
    }
}
