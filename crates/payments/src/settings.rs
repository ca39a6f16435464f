//! Which provider to use, from the environment.
//!
//! `PAYMENT_PROVIDER` = `instant` (default) or `stripe`. Stripe needs `STRIPE_SECRET_KEY` and
//! `STRIPE_WEBHOOK_SECRET`; `STRIPE_API_BASE` (default `https://api.stripe.com`) points it at a
//! test double; `STRIPE_TIMEOUT_MS` (default 10000) bounds each call; `STRIPE_PAYMENT_METHOD`
//! (optional, e.g. `pm_card_visa` in Stripe test mode) is attached to every PaymentIntent.

use crate::PaymentProvider;
use crate::instant::InstantProvider;
use crate::stripe::StripeProvider;
use shop_common::settings::{Env, Secret, SettingsError};
use std::sync::Arc;
use std::time::Duration;

pub const DEFAULT_STRIPE_API_BASE: &str = "https://api.stripe.com";
pub const DEFAULT_STRIPE_TIMEOUT: Duration = Duration::from_millis(10_000);

#[derive(Debug, Clone)]
pub struct StripeSettings {
    /// `STRIPE_API_BASE`, without a trailing slash.
    pub api_base: String,
    pub secret_key: Secret,
    pub webhook_secret: Secret,
    /// `STRIPE_TIMEOUT_MS`: the whole request, connect included.
    pub timeout: Duration,
    /// `STRIPE_PAYMENT_METHOD`: a payment method id sent with every intent (test mode:
    /// `pm_card_visa`). Without it Stripe waits for the client to attach one (`Pending`).
    pub payment_method: Option<String>,
}

impl StripeSettings {
    /// Settings with the defaults for everything but the endpoint and the two secrets (tests, fakes).
    pub fn new(api_base: impl Into<String>, secret_key: Secret, webhook_secret: Secret) -> Self {
        Self {
            api_base: trim_base(api_base.into()),
            secret_key,
            webhook_secret,
            timeout: DEFAULT_STRIPE_TIMEOUT,
            payment_method: None,
        }
    }

    fn from_env(env: &Env) -> Result<Self, SettingsError> {
        let api_base = env.string_or("STRIPE_API_BASE", DEFAULT_STRIPE_API_BASE);
        if !(api_base.starts_with("https://") || api_base.starts_with("http://")) {
            return Err(SettingsError::Invalid {
                name: "STRIPE_API_BASE".into(),
                value: api_base,
                reason: "must start with https:// or http://".into(),
            });
        }
        let timeout = env.millis_or("STRIPE_TIMEOUT_MS", DEFAULT_STRIPE_TIMEOUT)?;
        if timeout.is_zero() {
            return Err(SettingsError::Invalid {
                name: "STRIPE_TIMEOUT_MS".into(),
                value: "0".into(),
                reason: "must be greater than zero".into(),
            });
        }
        Ok(Self {
            api_base: trim_base(api_base),
            secret_key: Secret::new(env.required("STRIPE_SECRET_KEY")?),
            webhook_secret: Secret::new(env.required("STRIPE_WEBHOOK_SECRET")?),
            timeout,
            payment_method: env.get("STRIPE_PAYMENT_METHOD").map(|value| value.trim().to_owned()),
        })
    }
}

fn trim_base(base: String) -> String {
    base.trim().trim_end_matches('/').to_owned()
}

#[derive(Debug, Clone)]
pub enum PaymentSettings {
    Instant,
    Stripe(StripeSettings),
}

impl PaymentSettings {
    /// Reads `PAYMENT_PROVIDER` and, for `stripe`, the `STRIPE_*` variables. A missing or malformed
    /// variable is an error naming it.
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        let provider = env.string_or("PAYMENT_PROVIDER", "instant");
        match provider.trim().to_ascii_lowercase().as_str() {
            "instant" => Ok(PaymentSettings::Instant),
            "stripe" => Ok(PaymentSettings::Stripe(StripeSettings::from_env(env)?)),
            _ => Err(SettingsError::Invalid {
                name: "PAYMENT_PROVIDER".into(),
                value: provider,
                reason: "expected `instant` or `stripe`".into(),
            }),
        }
    }

    /// The webhook signing secret, when a provider with webhooks is configured.
    pub fn webhook_secret(&self) -> Option<&Secret> {
        match self {
            PaymentSettings::Instant => None,
            PaymentSettings::Stripe(stripe) => Some(&stripe.webhook_secret),
        }
    }

    pub fn build_provider(&self) -> Result<Arc<dyn PaymentProvider>, crate::ProviderError> {
        Ok(match self {
            PaymentSettings::Instant => Arc::new(InstantProvider),
            PaymentSettings::Stripe(stripe) => Arc::new(StripeProvider::new(stripe.clone())?),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn stripe(pairs: &[(&'static str, &'static str)]) -> Result<StripeSettings, SettingsError> {
        let mut all = vec![
            ("PAYMENT_PROVIDER", "stripe"),
            ("STRIPE_SECRET_KEY", "sk_test_123"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_abc"),
        ];
        all.extend_from_slice(pairs);
        match PaymentSettings::from_env(&Env::from_pairs(all))? {
            PaymentSettings::Stripe(settings) => Ok(settings),
            PaymentSettings::Instant => panic!("expected stripe settings"),
        }
    }

    #[test]
    fn instant_is_the_default() {
        let settings = PaymentSettings::from_env(&Env::from_pairs([])).unwrap();
        assert!(matches!(settings, PaymentSettings::Instant));
        assert!(settings.webhook_secret().is_none());
        assert_eq!(settings.build_provider().unwrap().name(), "instant");
    }

    #[test]
    fn instant_can_be_named_explicitly() {
        let settings = PaymentSettings::from_env(&Env::from_pairs([("PAYMENT_PROVIDER", "Instant")])).unwrap();
        assert!(matches!(settings, PaymentSettings::Instant));
    }

    #[test]
    fn stripe_defaults() {
        let settings = stripe(&[]).unwrap();
        assert_eq!(settings.api_base, "https://api.stripe.com");
        assert_eq!(settings.timeout, Duration::from_millis(10_000));
        assert_eq!(settings.secret_key.expose(), "sk_test_123");
        assert_eq!(settings.webhook_secret.expose(), "whsec_abc");
        assert_eq!(settings.payment_method, None);
    }

    #[test]
    fn stripe_overrides() {
        let settings = stripe(&[
            ("STRIPE_API_BASE", "http://127.0.0.1:12111/"),
            ("STRIPE_TIMEOUT_MS", "250"),
            ("STRIPE_PAYMENT_METHOD", "pm_card_visa"),
        ])
        .unwrap();
        assert_eq!(settings.api_base, "http://127.0.0.1:12111");
        assert_eq!(settings.timeout, Duration::from_millis(250));
        assert_eq!(settings.payment_method.as_deref(), Some("pm_card_visa"));
    }

    #[test]
    fn stripe_settings_expose_the_webhook_secret_and_build_a_stripe_provider() {
        // http: this build has no TLS (see `stripe` module docs).
        let settings = PaymentSettings::Stripe(stripe(&[("STRIPE_API_BASE", "http://127.0.0.1:12111")]).unwrap());
        assert_eq!(settings.webhook_secret().unwrap().expose(), "whsec_abc");
        assert_eq!(settings.build_provider().unwrap().name(), "stripe");
    }

    #[test]
    fn missing_stripe_secrets_are_named() {
        for missing in ["STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"] {
            let pairs: Vec<_> = [
                ("PAYMENT_PROVIDER", "stripe"),
                ("STRIPE_SECRET_KEY", "sk_test_123"),
                ("STRIPE_WEBHOOK_SECRET", "whsec_abc"),
            ]
            .into_iter()
            .filter(|(name, _)| *name != missing)
            .collect();
            let err = PaymentSettings::from_env(&Env::from_pairs(pairs)).unwrap_err();
            assert_eq!(err, SettingsError::Missing(missing.into()));
            assert!(err.to_string().contains(missing), "{err}");
        }
    }

    #[test]
    fn unknown_provider_is_named() {
        let err = PaymentSettings::from_env(&Env::from_pairs([("PAYMENT_PROVIDER", "paypal")])).unwrap_err();
        assert!(
            matches!(&err, SettingsError::Invalid { name, value, .. } if name == "PAYMENT_PROVIDER" && value == "paypal")
        );
        assert!(err.to_string().contains("PAYMENT_PROVIDER"), "{err}");
    }

    #[test]
    fn malformed_stripe_variables_are_named() {
        for (name, value) in [("STRIPE_TIMEOUT_MS", "soon"), ("STRIPE_TIMEOUT_MS", "0"), ("STRIPE_API_BASE", "ftp://x")]
        {
            let err = stripe(&[(name, value)]).unwrap_err();
            assert!(matches!(&err, SettingsError::Invalid { name: n, .. } if n == name), "{err}");
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn secrets_do_not_print() {
        let settings = stripe(&[]).unwrap();
        let debug = format!("{settings:?}");
        assert!(!debug.contains("sk_test_123") && !debug.contains("whsec_abc"), "{debug}");
    }
}
