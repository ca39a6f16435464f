DROP TABLE checkout_orders;
DROP TABLE cart_lines;
DROP TABLE carts;
DROP TABLE product_snapshots;
