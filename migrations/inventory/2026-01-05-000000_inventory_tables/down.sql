DROP TABLE IF EXISTS reservations;
DROP TABLE IF EXISTS reservation_orders;
DROP TABLE IF EXISTS stock_adjustments;
DROP TABLE IF EXISTS stock;
