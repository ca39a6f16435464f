-- Carts of users and guests, their lines, and the product snapshot that prices them.
-- Quantities are BIGINT like everywhere else; the CHECKs hold the cart rules (1..=99 per line, one
-- line per product, exactly one owner) even if the application got one wrong.

-- Names, prices and availability as the catalog last said (product_events). Rows are never deleted:
-- a deleted product stays as a tombstone so cart lines can show it as unavailable.
CREATE TABLE product_snapshots (
    product_id        UUID PRIMARY KEY,
    sku               TEXT NOT NULL,
    name              TEXT NOT NULL,
    price_minor       BIGINT NOT NULL CHECK (price_minor >= 0),
    currency          TEXT NOT NULL,
    active            BOOLEAN NOT NULL,
    deleted           BOOLEAN NOT NULL DEFAULT FALSE,
    -- The catalog's own timestamp of the state held here (created_at / updated_at / deleted_at):
    -- an event older than it is not applied, so out-of-order delivery cannot roll a price back.
    source_updated_at TIMESTAMPTZ NOT NULL,
    synced_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One cart per user (user_id) or per guest token (SHA-256 of the token; the token itself is never
-- stored). `currency` is the currency of the cart's lines, fixed by the first line added.
CREATE TABLE carts (
    id          UUID PRIMARY KEY,
    user_id     UUID UNIQUE,
    token_hash  BYTEA UNIQUE,
    currency    TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT carts_one_owner CHECK ((user_id IS NULL) <> (token_hash IS NULL)),
    CONSTRAINT carts_token_hash_is_sha256 CHECK (token_hash IS NULL OR octet_length(token_hash) = 32)
);
-- For sweeping abandoned guest carts by age.
CREATE INDEX carts_guest_updated_idx ON carts (updated_at) WHERE user_id IS NULL;

CREATE TABLE cart_lines (
    id          UUID PRIMARY KEY,
    cart_id     UUID NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    product_id  UUID NOT NULL,
    quantity    BIGINT NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    added_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT cart_lines_one_per_product UNIQUE (cart_id, product_id)
);

-- Orders whose confirmation was applied to a cart: `order.confirmed` takes lines out once per
-- order, even if the event is replayed under a new event id (the inbox only dedupes by event id).
CREATE TABLE checkout_orders (
    order_id    UUID PRIMARY KEY,
    cart_id     UUID NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
