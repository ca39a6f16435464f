DROP INDEX products_name_lower;
DROP INDEX products_name_search;
ALTER TABLE products DROP COLUMN name_vector;
