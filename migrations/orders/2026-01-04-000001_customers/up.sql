-- Registered customers' e-mail addresses as announced on user_events (user.registered), so a
-- user's order carries an address for the shipping notice without asking for it at checkout.
CREATE TABLE customers (
    user_id    UUID PRIMARY KEY,
    email      TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
