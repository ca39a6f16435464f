//! diesel models and queries for the auth database. Functions take `&mut AsyncPgConnection` so
//! callers decide the transaction.

pub mod refresh_tokens;
pub mod schema;
pub mod signing_keys;
pub mod users;
