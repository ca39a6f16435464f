-- Bounded search (services/catalog/src/db/listing.rs, docs/catalog.md): a relevance search ranks
-- a capped candidate set, taking name matches before description-only ones, so it needs the
-- name's own document and index; the exact-name boost looks its rows up by lower(name).
ALTER TABLE products
    ADD COLUMN name_vector TSVECTOR GENERATED ALWAYS AS (to_tsvector('english', name)) STORED;
CREATE INDEX products_name_search ON products USING GIN (name_vector);
CREATE INDEX products_name_lower ON products (lower(name));
