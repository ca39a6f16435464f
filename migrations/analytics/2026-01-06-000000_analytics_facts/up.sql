-- Analytics read models, built only from events (docs/analytics.md). Every time column comes from
-- an event's payload (or its `occurred_at`), never from the clock of the consumer, so replaying all
-- topics into an empty database reproduces the same rows. Every write is an idempotent upsert keyed
-- by a natural key or the event id, so arrival order across topics does not matter.

-- Product snapshots over time: one row per product.created/product.updated. An order line's
-- category is the snapshot valid at the order's time, found at query time (order-tolerant).
CREATE TABLE product_versions (
    product_id    UUID        NOT NULL,
    valid_from    TIMESTAMPTZ NOT NULL,
    event_id      UUID        NOT NULL,
    sku           TEXT        NOT NULL,
    name          TEXT        NOT NULL,
    category_slug TEXT,
    PRIMARY KEY (product_id, valid_from)
);

CREATE TABLE orders (
    order_id     UUID PRIMARY KEY,
    user_id      UUID,
    cart_id      UUID,
    currency     TEXT,
    total_minor  BIGINT,
    created_at   TIMESTAMPTZ,
    confirmed_at TIMESTAMPTZ,
    shipped_at   TIMESTAMPTZ,
    cancelled_at TIMESTAMPTZ,
    failed_at    TIMESTAMPTZ,
    -- Derived from the timestamps, not from the order in which events arrived.
    status       TEXT GENERATED ALWAYS AS (
        CASE
            WHEN failed_at IS NOT NULL THEN 'failed'
            WHEN cancelled_at IS NOT NULL THEN 'cancelled'
            WHEN shipped_at IS NOT NULL THEN 'shipped'
            WHEN confirmed_at IS NOT NULL THEN 'confirmed'
            ELSE 'pending'
        END
    ) STORED
);
CREATE INDEX orders_confirmed_idx ON orders (confirmed_at) WHERE confirmed_at IS NOT NULL;
CREATE INDEX orders_cart_idx ON orders (cart_id) WHERE cart_id IS NOT NULL;
CREATE INDEX orders_user_idx ON orders (user_id, created_at) WHERE user_id IS NOT NULL;

-- Lines as sold: order.confirmed's lines replace order.created's (they are what was paid for).
CREATE TABLE order_lines (
    order_id         UUID   NOT NULL,
    line_no          INT    NOT NULL,
    product_id       UUID   NOT NULL,
    sku              TEXT,
    name             TEXT,
    quantity         BIGINT NOT NULL,
    unit_price_minor BIGINT NOT NULL,
    currency         TEXT   NOT NULL,
    revenue_minor    BIGINT NOT NULL,
    from_confirmed   BOOLEAN NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX order_lines_product_idx ON order_lines (product_id);

CREATE TABLE user_registrations (
    user_id       UUID PRIMARY KEY,
    registered_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX user_registrations_at_idx ON user_registrations (registered_at);

-- One row per login. Keyed by what the login is (user, instant) rather than the event id, so even a
-- producer replay under a new event id cannot count it twice.
CREATE TABLE logins (
    user_id UUID        NOT NULL,
    at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, at)
);
CREATE INDEX logins_at_idx ON logins (at, user_id);

-- One row per cart.item_added (natural key, like logins).
CREATE TABLE cart_adds (
    cart_id    UUID        NOT NULL,
    product_id UUID        NOT NULL,
    at         TIMESTAMPTZ NOT NULL,
    user_id    UUID,
    PRIMARY KEY (cart_id, product_id, at)
);
CREATE INDEX cart_adds_at_idx ON cart_adds (at, cart_id);

-- Guest carts folded into a user's cart at sign-in: the guest cart converts with the user's order.
CREATE TABLE cart_merges (
    from_cart_id UUID PRIMARY KEY,
    into_cart_id UUID        NOT NULL,
    at           TIMESTAMPTZ NOT NULL
);

-- payment.refunded, possibly before the order is known: no foreign key on purpose.
CREATE TABLE refunds (
    order_id     UUID        NOT NULL,
    payment_id   TEXT        NOT NULL,
    at           TIMESTAMPTZ NOT NULL,
    amount_minor BIGINT      NOT NULL,
    currency     TEXT        NOT NULL,
    PRIMARY KEY (order_id, payment_id, at)
);
CREATE INDEX refunds_at_idx ON refunds (at);
