ALTER TABLE payments DROP COLUMN client_secret;
