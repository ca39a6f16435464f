//! A local HTTP server that answers like Stripe's API (PaymentIntents, refunds, idempotency keys)
//! and can deliver signed webhooks, for tests. Being written by the payments helper.
