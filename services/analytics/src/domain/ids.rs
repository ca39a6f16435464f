//! Newtype ids, so a cart id cannot be stored where a product id is meant. They are transparent in
//! JSON (a plain UUID) and bind as SQL `uuid`.

use diesel::pg::Pg;
use diesel::serialize::{Output, ToSql};
use diesel::sql_types::Uuid as SqlUuid;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[derive(diesel::expression::AsExpression, schemars::JsonSchema)]
        #[diesel(sql_type = SqlUuid)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl ToSql<SqlUuid, Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> diesel::serialize::Result {
                <Uuid as ToSql<SqlUuid, Pg>>::to_sql(&self.0, out)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id!(
    /// A catalogue product.
    ProductId
);
id!(
    /// A registered user (guests have none).
    UserId
);
id!(
    /// A cart, a user's or a guest's.
    CartId
);
id!(
    /// An order.
    OrderId
);
