-- One database per service (ARCHITECTURE.md §1), owned by the application role.
CREATE ROLE appuser LOGIN PASSWORD 'apppass' CREATEDB;
CREATE DATABASE shop_auth OWNER appuser;
CREATE DATABASE shop_catalog OWNER appuser;
CREATE DATABASE shop_cart OWNER appuser;
CREATE DATABASE shop_orders OWNER appuser;
CREATE DATABASE shop_inventory OWNER appuser;
CREATE DATABASE shop_analytics OWNER appuser;
-- Keycloak's own database (docker-compose.yml: KC_DB_URL).
CREATE DATABASE keycloak OWNER appuser;
