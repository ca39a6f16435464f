-- Accounts, refresh-token families and the JWT signing keys of the auth service (docs/auth.md).

CREATE TABLE users (
    id            UUID PRIMARY KEY,
    -- Stored normalised (trimmed, lower-cased by the service) so the unique index is case-insensitive.
    email         TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- PHC string (argon2id); never the password itself.
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL DEFAULT 'customer' CHECK (role IN ('customer', 'admin')),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE INDEX users_created_at_idx ON users (created_at, id);

-- One row per issued refresh token; a family is one login session (the access token's `sid`).
CREATE TABLE refresh_tokens (
    id          UUID PRIMARY KEY,
    -- SHA-256 of the opaque token; the token itself is never stored.
    token_hash  BYTEA NOT NULL CHECK (length(token_hash) = 32),
    family_id   UUID NOT NULL,
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issued_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ,
    revoked_at  TIMESTAMPTZ
);
CREATE UNIQUE INDEX refresh_tokens_token_hash_key ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);

-- Ed25519 signing keys. Exactly one is active (retired_at IS NULL); retired ones stay published in
-- the JWKS until every token they signed has expired.
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    algorithm   TEXT NOT NULL CHECK (algorithm = 'EdDSA'),
    -- The 32-byte Ed25519 seed and the 32-byte public key.
    private_key BYTEA NOT NULL CHECK (length(private_key) = 32),
    public_key  BYTEA NOT NULL CHECK (length(public_key) = 32),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    retired_at  TIMESTAMPTZ
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;
