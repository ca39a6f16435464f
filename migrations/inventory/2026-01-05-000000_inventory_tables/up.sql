-- Stock per product, the reservation ledger and the adjustment audit trail.
-- Quantities are BIGINT so no sum of valid requests overflows; CHECKs make overselling impossible
-- whatever the application does.

CREATE TABLE stock (
    product_id          UUID PRIMARY KEY,
    on_hand             BIGINT NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
    reserved            BIGINT NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    available           BIGINT GENERATED ALWAYS AS (on_hand - reserved) STORED,
    sold                BIGINT NOT NULL DEFAULT 0 CHECK (sold >= 0),
    low_stock_threshold BIGINT NOT NULL DEFAULT 0 CHECK (low_stock_threshold >= 0),
    low_stock_alerted   BOOLEAN NOT NULL DEFAULT FALSE,
    active              BOOLEAN NOT NULL DEFAULT TRUE,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    version             BIGINT NOT NULL DEFAULT 1,
    CONSTRAINT stock_reserved_within_on_hand CHECK (reserved <= on_hand)
);

-- The low-stock listing and the metrics scrape read the lowest available first.
CREATE INDEX stock_available_idx ON stock (available, product_id);

CREATE TABLE stock_adjustments (
    id              BIGSERIAL PRIMARY KEY,
    product_id      UUID NOT NULL REFERENCES stock (product_id),
    mode            TEXT NOT NULL CHECK (mode IN ('set', 'adjust')),
    quantity        BIGINT NOT NULL,
    delta           BIGINT NOT NULL,
    reason          TEXT NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 200),
    actor_id        UUID,
    on_hand_before  BIGINT NOT NULL,
    on_hand_after   BIGINT NOT NULL,
    reserved        BIGINT NOT NULL,
    at              TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX stock_adjustments_product_idx ON stock_adjustments (product_id, at);

-- One row per order seen: its primary key makes a redelivered order.created a no-op.
CREATE TABLE reservation_orders (
    order_id    UUID PRIMARY KEY,
    state       TEXT NOT NULL CHECK (state IN ('reserved', 'rejected', 'released', 'committed')),
    outcome     TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE reservations (
    order_id    UUID NOT NULL REFERENCES reservation_orders (order_id),
    product_id  UUID NOT NULL REFERENCES stock (product_id),
    quantity    BIGINT NOT NULL CHECK (quantity > 0),
    state       TEXT NOT NULL CHECK (state IN ('reserved', 'released', 'committed')),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, product_id)
);
CREATE INDEX reservations_product_idx ON reservations (product_id);
