-- The order service's tables: the product snapshot it prices from, orders with their lines and
-- status history, payments, idempotency keys, processed webhook events and notifications.
-- Amounts are BIGINT minor units; every status column has a CHECK so a bad write fails loudly.

-- Prices and names as last seen on product_events (newer source_updated_at wins).
CREATE TABLE products (
    product_id        UUID PRIMARY KEY,
    sku               TEXT NOT NULL,
    name              TEXT NOT NULL,
    price_minor       BIGINT NOT NULL CHECK (price_minor >= 0),
    currency          TEXT NOT NULL CHECK (char_length(currency) = 3),
    active            BOOLEAN NOT NULL DEFAULT TRUE,
    deleted           BOOLEAN NOT NULL DEFAULT FALSE,
    source_updated_at TIMESTAMPTZ NOT NULL,
    synced_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE orders (
    id                UUID PRIMARY KEY,
    user_id           UUID,
    -- sha256 (hex) of the guest's order token; NULL for users' orders.
    guest_token_hash  TEXT,
    -- sha256 (hex) of the cart token a guest ordered with (the idempotency scope).
    cart_token_hash   TEXT,
    cart_id           UUID,
    email             TEXT,
    status            TEXT NOT NULL CHECK (status IN
                        ('PENDING', 'AWAITING_PAYMENT', 'CONFIRMED', 'FAILED', 'CANCELLED', 'SHIPPED')),
    currency          TEXT NOT NULL CHECK (char_length(currency) = 3),
    total_minor       BIGINT NOT NULL CHECK (total_minor >= 0),
    shipping_address  JSONB,
    -- Sent to the payment provider as its idempotency key: the Idempotency-Key or the order id.
    payment_key       TEXT NOT NULL,
    failure_reason    TEXT,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT orders_owner CHECK (user_id IS NOT NULL OR guest_token_hash IS NOT NULL)
);
CREATE INDEX orders_user_idx ON orders (user_id, created_at DESC, id DESC);
CREATE INDEX orders_created_idx ON orders (created_at DESC, id DESC);
-- The payment-timeout sweeper scans only open orders.
CREATE INDEX orders_open_idx ON orders (created_at) WHERE status IN ('PENDING', 'AWAITING_PAYMENT');

CREATE TABLE order_lines (
    order_id         UUID NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no          INT NOT NULL,
    product_id       UUID NOT NULL,
    sku              TEXT NOT NULL,
    name             TEXT NOT NULL,
    quantity         BIGINT NOT NULL CHECK (quantity > 0),
    unit_price_minor BIGINT NOT NULL CHECK (unit_price_minor >= 0),
    line_total_minor BIGINT NOT NULL CHECK (line_total_minor >= 0),
    PRIMARY KEY (order_id, line_no)
);

CREATE TABLE order_status_history (
    id          BIGSERIAL PRIMARY KEY,
    order_id    UUID NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    reason      TEXT,
    at          TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX order_status_history_order_idx ON order_status_history (order_id, id);

-- One payment per order. refund_required is the durable "owe the customer money" flag the
-- refunder task works off, so a refund survives a provider outage or a crash.
CREATE TABLE payments (
    order_id        UUID PRIMARY KEY REFERENCES orders (id) ON DELETE CASCADE,
    provider        TEXT NOT NULL,
    payment_id      TEXT,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'refunded')),
    amount_minor    BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    failure_reason  TEXT,
    refund_required BOOLEAN NOT NULL DEFAULT FALSE,
    refund_id       TEXT,
    refund_attempts INT NOT NULL DEFAULT 0,
    refunded_at     TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX payments_payment_id_idx ON payments (payment_id);
CREATE INDEX payments_refund_due_idx ON payments (order_id) WHERE refund_required AND refunded_at IS NULL;

-- Idempotency-Key per caller scope; the row is written in the order's transaction together with the
-- response it produced, so a concurrent duplicate waits on the primary key and then replays it.
CREATE TABLE idempotency_keys (
    scope           TEXT NOT NULL,
    idem_key        TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    order_id        UUID,
    response_status INT,
    response_body   JSONB,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- Stripe event ids already applied: a replayed webhook is acknowledged and changes nothing.
CREATE TABLE webhook_events (
    event_id    TEXT PRIMARY KEY,
    event_type  TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Customer notifications (the shipping notice). Always recorded; e-mailed by a background sender
-- when SMTP is configured.
CREATE TABLE notifications (
    id              BIGSERIAL PRIMARY KEY,
    order_id        UUID NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    channel         TEXT NOT NULL,
    recipient       TEXT,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
    attempts        INT NOT NULL DEFAULT 0,
    last_error      TEXT,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at         TIMESTAMPTZ
);
CREATE INDEX notifications_order_idx ON notifications (order_id, id);
CREATE INDEX notifications_due_idx ON notifications (next_attempt_at) WHERE status = 'pending';
