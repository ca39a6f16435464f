-- The catalogue: a category tree and products with full-text and typo-tolerant search.

-- Trigram similarity for typo-tolerant name search. pg_trgm is a trusted extension, so the
-- database owner (the service's own role) may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE categories (
    slug        TEXT PRIMARY KEY CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 64),
    name        TEXT        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- Deleting a parent that still has children is refused by the service (409); RESTRICT backs it.
    parent_slug TEXT REFERENCES categories (slug) ON DELETE RESTRICT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (parent_slug IS NULL OR parent_slug <> slug)
);
CREATE INDEX categories_parent ON categories (parent_slug);

CREATE TABLE products (
    id                  UUID PRIMARY KEY,
    sku                 TEXT        NOT NULL,
    name                TEXT        NOT NULL,
    description         TEXT        NOT NULL DEFAULT '',
    price_minor         BIGINT      NOT NULL CHECK (price_minor >= 0),
    currency            TEXT        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- Soft-deleted products keep their row; their category may go away (SET NULL) while live
    -- products block a category delete (checked by the service under a row lock).
    category_slug       TEXT REFERENCES categories (slug) ON DELETE SET NULL,
    attributes          JSONB       NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(attributes) = 'object'),
    image_urls          TEXT[]      NOT NULL DEFAULT '{}',
    active              BOOLEAN     NOT NULL DEFAULT TRUE,
    low_stock_threshold INTEGER     NOT NULL DEFAULT 5 CHECK (low_stock_threshold >= 0),
    -- Optimistic concurrency: bumped by every admin write, served as the ETag.
    version             BIGINT      NOT NULL DEFAULT 1,
    -- Stock as last reported by inventory events (eventually consistent).
    available           INTEGER     NOT NULL DEFAULT 0,
    in_stock            BOOLEAN     NOT NULL DEFAULT FALSE,
    -- Bumped by every stock change, so the product cache never keeps an older stock view.
    stock_seq           BIGINT      NOT NULL DEFAULT 0,
    stock_as_of         TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at          TIMESTAMPTZ,
    -- Weighted document: name (A) ranks above description (B).
    search_vector       TSVECTOR GENERATED ALWAYS AS (
        setweight(to_tsvector('english', name), 'A') || setweight(to_tsvector('english', description), 'B')
    ) STORED
);

-- SKUs stay unique among all rows, deleted ones included: order history refers to them.
CREATE UNIQUE INDEX products_sku ON products (sku);
CREATE INDEX products_search ON products USING GIN (search_vector);
CREATE INDEX products_name_trgm ON products USING GIN (name gin_trgm_ops);
CREATE INDEX products_attributes ON products USING GIN (attributes jsonb_path_ops);
CREATE INDEX products_category ON products (category_slug, id) WHERE deleted_at IS NULL;
CREATE INDEX products_price ON products (price_minor, id) WHERE deleted_at IS NULL;
CREATE INDEX products_created ON products (created_at DESC, id DESC) WHERE deleted_at IS NULL;
