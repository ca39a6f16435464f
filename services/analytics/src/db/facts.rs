//! Applies one [`Fact`] to the read models. Every statement is an upsert whose result does not
//! depend on the order in which facts arrive (earliest time wins, a later product snapshot never
//! replaces an earlier one's row), so a replay or a cross-topic reordering builds the same rows.

use crate::domain::ids::{OrderId, ProductId};
use crate::events::decode::{Fact, Line, Order};
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel::{QueryResult, QueryableByName};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

pub async fn apply(conn: &mut AsyncPgConnection, event_id: Uuid, fact: &Fact) -> QueryResult<()> {
    match fact {
        Fact::ProductVersion { product_id, valid_from, sku, name, category } => {
            diesel::sql_query(
                "INSERT INTO product_versions (product_id, valid_from, event_id, sku, name, category_slug) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (product_id, valid_from) DO UPDATE \
                 SET event_id = excluded.event_id, sku = excluded.sku, name = excluded.name, \
                     category_slug = excluded.category_slug \
                 WHERE excluded.event_id > product_versions.event_id",
            )
            .bind::<SqlUuid, _>(product_id)
            .bind::<Timestamptz, _>(valid_from)
            .bind::<SqlUuid, _>(event_id)
            .bind::<Text, _>(sku)
            .bind::<Text, _>(name)
            .bind::<Nullable<Text>, _>(category)
            .execute(conn)
            .await?;
        }
        Fact::Registered { user_id, at } => {
            diesel::sql_query(
                "INSERT INTO user_registrations (user_id, registered_at) VALUES ($1, $2) \
                 ON CONFLICT (user_id) DO UPDATE SET registered_at = LEAST(user_registrations.registered_at, excluded.registered_at)",
            )
            .bind::<SqlUuid, _>(user_id)
            .bind::<Timestamptz, _>(at)
            .execute(conn)
            .await?;
        }
        Fact::LoggedIn { user_id, at } => {
            diesel::sql_query("INSERT INTO logins (user_id, at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind::<SqlUuid, _>(user_id)
                .bind::<Timestamptz, _>(at)
                .execute(conn)
                .await?;
        }
        Fact::CartAdd { cart_id, product_id, user_id, at } => {
            diesel::sql_query(
                "INSERT INTO cart_adds (cart_id, product_id, at, user_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind::<SqlUuid, _>(cart_id)
            .bind::<SqlUuid, _>(product_id)
            .bind::<Timestamptz, _>(at)
            .bind::<Nullable<SqlUuid>, _>(user_id)
            .execute(conn)
            .await?;
        }
        Fact::CartMerged { from_cart_id, into_cart_id, at } => {
            diesel::sql_query(
                "INSERT INTO cart_merges (from_cart_id, into_cart_id, at) VALUES ($1, $2, $3) \
                 ON CONFLICT (from_cart_id) DO UPDATE SET into_cart_id = excluded.into_cart_id, at = excluded.at \
                 WHERE (excluded.at, excluded.into_cart_id) < (cart_merges.at, cart_merges.into_cart_id)",
            )
            .bind::<SqlUuid, _>(from_cart_id)
            .bind::<SqlUuid, _>(into_cart_id)
            .bind::<Timestamptz, _>(at)
            .execute(conn)
            .await?;
        }
        Fact::OrderCreated(order) => {
            upsert_order(conn, order, "created_at", false).await?;
            // order.confirmed's lines are what was paid for; created lines only fill a gap.
            if !has_confirmed_lines(conn, order.order_id).await? {
                replace_lines(conn, order.order_id, &order.lines, false).await?;
            }
        }
        Fact::OrderConfirmed(order) => {
            upsert_order(conn, order, "confirmed_at", true).await?;
            replace_lines(conn, order.order_id, &order.lines, true).await?;
        }
        Fact::OrderMilestone { order_id, milestone, at } => {
            let column = milestone.column();
            diesel::sql_query(format!(
                "INSERT INTO orders (order_id, {column}) VALUES ($1, $2) \
                 ON CONFLICT (order_id) DO UPDATE SET {column} = LEAST(orders.{column}, excluded.{column})"
            ))
            .bind::<SqlUuid, _>(order_id)
            .bind::<Timestamptz, _>(at)
            .execute(conn)
            .await?;
        }
        Fact::Refund { order_id, payment_id, amount, at } => {
            diesel::sql_query(
                "INSERT INTO refunds (order_id, payment_id, at, amount_minor, currency) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT DO NOTHING",
            )
            .bind::<SqlUuid, _>(order_id)
            .bind::<Text, _>(payment_id)
            .bind::<Timestamptz, _>(at)
            .bind::<BigInt, _>(amount.amount_minor)
            .bind::<Text, _>(&amount.currency)
            .execute(conn)
            .await?;
        }
        Fact::Noted => {}
    }
    Ok(())
}

/// Inserts or completes the order row. `authoritative` (order.confirmed) overwrites the total;
/// order.created only fills what is missing. `time_column` takes the earliest time seen.
async fn upsert_order(
    conn: &mut AsyncPgConnection,
    order: &Order,
    time_column: &str,
    authoritative: bool,
) -> QueryResult<()> {
    let money = if authoritative {
        "currency = excluded.currency, total_minor = excluded.total_minor"
    } else {
        "currency = COALESCE(orders.currency, excluded.currency), \
         total_minor = COALESCE(orders.total_minor, excluded.total_minor)"
    };
    diesel::sql_query(format!(
        "INSERT INTO orders (order_id, user_id, cart_id, currency, total_minor, {time_column}) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (order_id) DO UPDATE SET \
           user_id = COALESCE(orders.user_id, excluded.user_id), \
           cart_id = COALESCE(orders.cart_id, excluded.cart_id), \
           {money}, \
           {time_column} = LEAST(orders.{time_column}, excluded.{time_column})"
    ))
    .bind::<SqlUuid, _>(order.order_id)
    .bind::<Nullable<SqlUuid>, _>(order.user_id)
    .bind::<Nullable<SqlUuid>, _>(order.cart_id)
    .bind::<Text, _>(&order.total.currency)
    .bind::<BigInt, _>(order.total.amount_minor)
    .bind::<Timestamptz, _>(order.at)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    flag: bool,
}

async fn has_confirmed_lines(conn: &mut AsyncPgConnection, order_id: OrderId) -> QueryResult<bool> {
    let row: Flag =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM order_lines WHERE order_id = $1 AND from_confirmed) AS flag")
            .bind::<SqlUuid, _>(order_id)
            .get_result(conn)
            .await?;
    Ok(row.flag)
}

#[derive(QueryableByName)]
struct LineName {
    #[diesel(sql_type = SqlUuid)]
    product_id: Uuid,
    #[diesel(sql_type = Nullable<Text>)]
    sku: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    name: Option<String>,
}

/// Replaces the order's lines, keeping the sku/name order.created gave a product when the new
/// lines (order.confirmed's) do not carry them.
async fn replace_lines(
    conn: &mut AsyncPgConnection,
    order_id: OrderId,
    lines: &[Line],
    from_confirmed: bool,
) -> QueryResult<()> {
    let previous: Vec<LineName> =
        diesel::sql_query("SELECT product_id, sku, name FROM order_lines WHERE order_id = $1 ORDER BY line_no")
            .bind::<SqlUuid, _>(order_id)
            .load(conn)
            .await?;
    let known = |product_id: ProductId| previous.iter().find(|p| p.product_id == product_id.0);
    diesel::sql_query("DELETE FROM order_lines WHERE order_id = $1").bind::<SqlUuid, _>(order_id).execute(conn).await?;
    for (line_no, line) in lines.iter().enumerate() {
        let sku = line.sku.clone().or_else(|| known(line.product_id).and_then(|p| p.sku.clone()));
        let name = line.name.clone().or_else(|| known(line.product_id).and_then(|p| p.name.clone()));
        diesel::sql_query(
            "INSERT INTO order_lines (order_id, line_no, product_id, sku, name, quantity, unit_price_minor, currency, \
                                      revenue_minor, from_confirmed) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind::<SqlUuid, _>(order_id)
        .bind::<Integer, _>(i32::try_from(line_no).unwrap_or(i32::MAX))
        .bind::<SqlUuid, _>(line.product_id)
        .bind::<Nullable<Text>, _>(sku)
        .bind::<Nullable<Text>, _>(name)
        .bind::<BigInt, _>(line.quantity)
        .bind::<BigInt, _>(line.unit_price_minor)
        .bind::<Text, _>(&line.currency)
        .bind::<BigInt, _>(line.revenue_minor)
        .bind::<Bool, _>(from_confirmed)
        .execute(conn)
        .await?;
    }
    Ok(())
}
