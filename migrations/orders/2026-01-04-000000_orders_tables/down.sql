DROP TABLE notifications;
DROP TABLE webhook_events;
DROP TABLE idempotency_keys;
DROP TABLE payments;
DROP TABLE order_status_history;
DROP TABLE order_lines;
DROP TABLE orders;
DROP TABLE products;
