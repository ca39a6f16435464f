//! The listing and search queries: fixed SQL whose filters are all bind parameters (a NULL
//! parameter switches its filter off) and whose ORDER BY is picked from a fixed list, so no user
//! text is ever part of the SQL.

use super::products::ProductRow;
use crate::domain::{ListQuery, Sort};
use diesel::sql_types::{BigInt, Bool, Jsonb, Nullable, Text};
use diesel::{QueryResult, QueryableByName};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

/// Word similarity (0..1) a name needs to count as a typo-tolerant match. pg_trgm's default (0.6)
/// misses one wrong letter in short words ("labtop" vs "Gaming Laptop" scores 0.4). Lower values
/// add loose matches, which rank below real ones; a swapped pair of letters in a five-letter word
/// ("mosue", 0.33) is still missed.
const WORD_SIMILARITY_THRESHOLD: &str = "0.4";

/// The matching rows; `$1`..`$7` are the filters, each switched off by a NULL; `$8` switches the
/// typo-tolerant name match on (a constant for the planner, so it drops the branch when false).
const FILTERED: &str = "
WITH RECURSIVE cats AS (
    SELECT slug FROM categories WHERE slug = $1
    UNION
    SELECT c.slug FROM categories c JOIN cats ON c.parent_slug = cats.slug
)
SELECT {columns}
FROM products p
WHERE p.deleted_at IS NULL AND p.active
  AND ($1::text IS NULL OR p.category_slug IN (SELECT slug FROM cats))
  AND ($2::bigint IS NULL OR p.price_minor >= $2)
  AND ($3::bigint IS NULL OR p.price_minor <= $3)
  AND ($4::boolean IS NULL OR p.in_stock = $4)
  AND ($5::jsonb IS NULL OR p.attributes @> $5)
  AND ($6::text IS NULL OR p.search_vector @@ to_tsquery('english', $6) OR ($8::boolean AND $7 <% p.name))";

fn order_by(sort: Sort) -> &'static str {
    match sort {
        Sort::PriceAsc => "p.price_minor ASC, p.id ASC",
        Sort::PriceDesc => "p.price_minor DESC, p.id ASC",
        Sort::Name => "p.name ASC, p.id ASC",
        Sort::Newest => "p.created_at DESC, p.id DESC",
        // An exact name match first, then full-text rank (name weighs more than description)
        // plus name similarity, which ranks typo matches.
        Sort::Relevance => {
            "(lower(p.name) = $9) DESC, \
             (ts_rank(p.search_vector, to_tsquery('english', $6)) + word_similarity($7, p.name)) DESC, p.id ASC"
        }
    }
}

#[derive(QueryableByName)]
struct Total {
    #[diesel(sql_type = BigInt)]
    total: i64,
}

/// `diesel::sql_query(sql)` with the filter parameters `$1`..`$8` bound.
macro_rules! with_filters {
    ($sql:expr, $query:expr, $fuzzy:expr) => {{
        let query: &ListQuery = $query;
        let search = query.search.as_ref();
        diesel::sql_query($sql)
            .bind::<Nullable<Text>, _>(query.category.clone())
            .bind::<Nullable<BigInt>, _>(query.min_price)
            .bind::<Nullable<BigInt>, _>(query.max_price)
            .bind::<Nullable<Bool>, _>(query.in_stock)
            .bind::<Nullable<Jsonb>, _>(
                (!query.attributes.is_empty()).then(|| serde_json::Value::Object(query.attributes.clone())),
            )
            .bind::<Nullable<Text>, _>(search.map(|s| s.tsquery.clone()))
            .bind::<Nullable<Text>, _>(search.map(|s| s.text.clone()))
            .bind::<Bool, _>($fuzzy)
    }};
}

/// One page of products matching `query`, and the total number of matches.
///
/// The page and the count are two statements on purpose: a `count(*) OVER ()` column would make
/// PostgreSQL read every match before returning the first page (180 ms for an unfiltered list of
/// 100,000 products, against a few ms for an index scan of one page).
///
/// `known_total` (a cached count for the same filters) saves the count statement; it is ignored
/// for searches, whose count also decides whether typo-tolerant matching is needed.
pub async fn list(
    conn: &mut AsyncPgConnection,
    query: &ListQuery,
    known_total: Option<i64>,
) -> QueryResult<(Vec<ProductRow>, i64)> {
    if query.unmatchable {
        return Ok((Vec::new(), 0));
    }
    if query.search.is_none() {
        return page_and_total(conn, query, false, known_total).await;
    }
    // Full-text search (words, the last one as a prefix) first. Only when it finds nothing does
    // the typo-tolerant name match join in, "did you mean" style: results stay precise ("lamp"
    // does not bring "Laptop Sleeve"), and the common case skips the costlier trigram scan.
    // The decision depends on the query only, never on the page, so paging stays consistent.
    let exact = page_and_total(conn, query, false, None).await?;
    if exact.1 > 0 {
        return Ok(exact);
    }
    // The similarity threshold is a session setting; SET LOCAL keeps it inside this transaction
    // so pooled connections are left as they were.
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        diesel::sql_query(format!("SET LOCAL pg_trgm.word_similarity_threshold = {WORD_SIMILARITY_THRESHOLD}"))
            .execute(conn)
            .await?;
        page_and_total(conn, query, true, None).await
    })
    .await
}

async fn page_and_total(
    conn: &mut AsyncPgConnection,
    query: &ListQuery,
    fuzzy: bool,
    known_total: Option<i64>,
) -> QueryResult<(Vec<ProductRow>, i64)> {
    let page_sql =
        format!("{} ORDER BY {} LIMIT $10 OFFSET $11", FILTERED.replace("{columns}", "p.*"), order_by(query.sort));
    let rows: Vec<ProductRow> = with_filters!(page_sql, query, fuzzy)
        .bind::<Nullable<Text>, _>(query.search.as_ref().map(|s| s.exact.clone()))
        .bind::<BigInt, _>(query.page.limit())
        .bind::<BigInt, _>(query.page.offset())
        .load(conn)
        .await?;
    let len = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    // A short page (with rows, or the first page) already tells the total.
    if len < query.page.limit() && (len > 0 || query.page.offset() == 0) {
        return Ok((rows, query.page.offset() + len));
    }
    if let Some(total) = known_total {
        return Ok((rows, total));
    }
    let count_sql = FILTERED.replace("{columns}", "count(*) AS total");
    let total: Total = with_filters!(count_sql, query, fuzzy).get_result(conn).await?;
    Ok((rows, total.total))
}
