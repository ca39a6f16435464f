-- The provider's client secret of a payment waiting for the customer (Stripe 3-D Secure): the
-- storefront needs it to finish the payment. Shown only to the order's owner while it is pending.
ALTER TABLE payments ADD COLUMN client_secret TEXT;
