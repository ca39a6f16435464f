-- Plumbing tables every service database carries (ARCHITECTURE.md §3).

-- Events waiting to be published: written in the same transaction as the state change they
-- describe, claimed by the relay with FOR UPDATE SKIP LOCKED, marked once the broker acknowledged.
CREATE TABLE outbox (
    id           BIGSERIAL PRIMARY KEY,
    event_id     UUID        NOT NULL UNIQUE,
    topic        TEXT        NOT NULL,
    record_key   TEXT        NOT NULL,
    payload      JSONB       NOT NULL,
    headers      JSONB       NOT NULL DEFAULT '{}'::jsonb,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at TIMESTAMPTZ
);
-- The relay only ever scans unpublished rows in id order.
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- Events already applied by a consumer of this database: the dedupe key that makes redelivery a no-op.
CREATE TABLE inbox (
    consumer   TEXT        NOT NULL,
    event_id   UUID        NOT NULL,
    event_type TEXT        NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
