//! PostgreSQL access: carts and lines (`carts`), the product snapshot (`products`).
//!
//! Raw SQL through diesel's `sql_query`, like inventory: the important statements are upserts and
//! row locks whose exact form is the concurrency argument. Every function takes a connection the
//! caller's transaction owns; the transactions live in [`crate::service`].

pub mod carts;
pub mod products;

use diesel::QueryableByName;
use diesel::sql_types::BigInt;

#[derive(QueryableByName)]
pub(crate) struct Count {
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}
