DROP TABLE products;
DROP TABLE categories;
-- pg_trgm stays: other objects in the database may use it, and dropping an extension is not ours to do.
