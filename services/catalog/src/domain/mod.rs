//! The catalogue's types and rules, free of I/O: product validation, category slugs, listing
//! queries and search-term sanitising.

pub mod category;
pub mod listing;
pub mod product;
pub mod search;

pub use category::{Category, CategoryInput};
pub use listing::{ListQuery, Sort};
pub use product::{Money, Product, ProductId, ProductInput, ValidProduct};
pub use search::SearchTerms;
