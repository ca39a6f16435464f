DROP TABLE refunds;
DROP TABLE cart_merges;
DROP TABLE cart_adds;
DROP TABLE logins;
DROP TABLE user_registrations;
DROP TABLE order_lines;
DROP TABLE orders;
DROP TABLE product_versions;
