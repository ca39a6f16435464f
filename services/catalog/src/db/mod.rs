//! diesel models and queries for the catalog database. Functions take `&mut AsyncPgConnection`
//! so the service layer decides the transaction.

pub mod categories;
pub mod listing;
pub mod products;
pub mod schema;
pub mod stock;
