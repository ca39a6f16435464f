//! The listing and search queries: fixed SQL whose filters are all bind parameters (a NULL
//! parameter switches its filter off) and whose ORDER BY is picked from a fixed list, so no user
//! text is ever part of the SQL.
//!
//! Searches do bounded work, whatever the query (docs/catalog.md, "Search"): a relevance search
//! ranks at most [`SEARCH_CAP`] candidates, and a search never counts past [`SEARCH_CAP`]
//! matches. Ranking every match of a broad term ("premium" matches 6,700 of 100,000 products)
//! took 90-170 ms, mostly `word_similarity` at ~6 µs a row; the capped query takes 2-5 ms.

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

/// The most matches a search ranks (relevance order) or counts (any order). Past it, `total` is
/// this number and `total_capped` is set. 500 keeps the slowest search at a few ms on 100,000
/// products (1,000 cost 10-15 ms) and is still five full pages of the largest page size.
pub const SEARCH_CAP: i64 = 500;

/// The category filter's sub-tree; `$1` is the category (NULL: no filter).
const CATS: &str = "
WITH RECURSIVE cats AS (
    SELECT slug FROM categories WHERE slug = $1
    UNION
    SELECT c.slug FROM categories c JOIN cats ON c.parent_slug = cats.slug
)";

/// The filters `$1`..`$5`, each switched off by a NULL.
const FILTERS: &str = "p.deleted_at IS NULL AND p.active
  AND ($1::text IS NULL OR p.category_slug IN (SELECT slug FROM cats))
  AND ($2::bigint IS NULL OR p.price_minor >= $2)
  AND ($3::bigint IS NULL OR p.price_minor <= $3)
  AND ($4::boolean IS NULL OR p.in_stock = $4)
  AND ($5::jsonb IS NULL OR p.attributes @> $5)";

/// The search condition: `$6` the tsquery (NULL: no search), `$7` the words for the
/// typo-tolerant name match, which `$8` switches on (a constant for the planner, so it drops the
/// branch when false).
const MATCHES: &str =
    "($6::text IS NULL OR p.search_vector @@ to_tsquery('english', $6) OR ($8::boolean AND $7 <% p.name))";

/// An exact name match first, then full-text rank (name weighs more than description) plus name
/// similarity, which ranks typo matches. `$9` is the whole query, lower-cased.
const RELEVANCE: &str = "(lower(p.name) = $9) DESC, \
     (ts_rank(p.search_vector, to_tsquery('english', $6)) + word_similarity($7, p.name)) DESC, p.id ASC";

fn order_by(sort: Sort) -> &'static str {
    match sort {
        Sort::PriceAsc => "p.price_minor ASC, p.id ASC",
        Sort::PriceDesc => "p.price_minor DESC, p.id ASC",
        Sort::Name => "p.name ASC, p.id ASC",
        Sort::Newest => "p.created_at DESC, p.id DESC",
        Sort::Relevance => RELEVANCE,
    }
}

/// The candidates a relevance search ranks, at most `$12` of them, in three disjoint groups taken
/// in this order: exact name matches, other name matches, description-only matches (every name
/// match is also a `search_vector` match). Each group comes from an index and the LIMIT stops the
/// scan as soon as the cap is reached, so a broad term costs the cap, not its match count; a
/// query with fewer matches than the cap gets all of them, ranked exactly as before.
fn full_text_candidates() -> String {
    format!(
        "(SELECT p.* FROM products p WHERE {FILTERS}
    AND lower(p.name) = $9 AND p.search_vector @@ to_tsquery('english', $6))
  UNION ALL
  (SELECT p.* FROM products p WHERE {FILTERS}
    AND p.name_vector @@ to_tsquery('english', $6) AND lower(p.name) IS DISTINCT FROM $9)
  UNION ALL
  (SELECT p.* FROM products p WHERE {FILTERS}
    AND p.search_vector @@ to_tsquery('english', $6) AND NOT p.name_vector @@ to_tsquery('english', $6)
    AND lower(p.name) IS DISTINCT FROM $9)"
    )
}

/// Typo-tolerant candidates (only asked for when full-text finds nothing): the first `$12` names
/// the trigram index finds. A GiST index ordered by similarity (`<<->`) would pick the closest
/// ones but took 25-80 ms against 5-10 ms here; the ranking then orders what was found.
fn typo_candidates() -> String {
    format!("SELECT p.* FROM products p WHERE {FILTERS} AND $7 <% p.name")
}

#[derive(QueryableByName)]
struct Total {
    #[diesel(sql_type = BigInt)]
    total: i64,
}

#[derive(QueryableByName)]
struct RankedRow {
    #[diesel(embed)]
    product: ProductRow,
    #[diesel(sql_type = BigInt)]
    total: i64,
}

/// One page of a listing and what is known about the number of matches.
#[derive(Debug, Default)]
pub struct Listed {
    pub rows: Vec<ProductRow>,
    /// All matches of a listing; for a search, at most [`SEARCH_CAP`].
    pub total: i64,
    /// A search reached [`SEARCH_CAP`]: there are at least `total` matches, and a relevance
    /// search serves only the `total` it ranked.
    pub total_capped: bool,
}

impl Listed {
    fn new(rows: Vec<ProductRow>, total: i64, searching: bool) -> Self {
        let total_capped = searching && total >= SEARCH_CAP;
        Self { rows, total: if total_capped { SEARCH_CAP } else { total }, total_capped }
    }
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

/// One page of products matching `query`, and the number of matches.
///
/// For plain listings the page and the count are two statements on purpose: a `count(*) OVER ()`
/// column would make PostgreSQL read every match before returning the first page (180 ms for an
/// unfiltered list of 100,000 products, against a few ms for an index scan of one page).
///
/// `known_total` (a cached count for the same filters) saves the count statement; it is ignored
/// for searches, whose count also decides whether typo-tolerant matching is needed.
pub async fn list(conn: &mut AsyncPgConnection, query: &ListQuery, known_total: Option<i64>) -> QueryResult<Listed> {
    if query.unmatchable {
        return Ok(Listed::default());
    }
    if query.search.is_none() {
        return page_and_total(conn, query, false, known_total).await;
    }
    // Full-text search (words, the last one as a prefix) first. Only when it finds nothing does
    // the typo-tolerant name match join in, "did you mean" style: results stay precise ("lamp"
    // does not bring "Laptop Sleeve"), and the common case skips the costlier trigram scan.
    // The decision depends on the query only, never on the page, so paging stays consistent.
    let exact = search_page(conn, query, false).await?;
    if exact.total > 0 {
        return Ok(exact);
    }
    // The similarity threshold is a session setting; SET LOCAL keeps it inside this transaction
    // so pooled connections are left as they were. Sequential scans are off for the same span:
    // for a short word ("ste": 11,000 loose matches) the planner expects a capped table scan to
    // stop early, but every row it reads costs a similarity computation (40-80 ms against
    // 10-20 ms through the trigram index, which only rechecks candidate rows).
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        diesel::sql_query(format!("SET LOCAL pg_trgm.word_similarity_threshold = {WORD_SIMILARITY_THRESHOLD}"))
            .execute(conn)
            .await?;
        diesel::sql_query("SET LOCAL enable_seqscan = off").execute(conn).await?;
        search_page(conn, query, true).await
    })
    .await
}

async fn search_page(conn: &mut AsyncPgConnection, query: &ListQuery, fuzzy: bool) -> QueryResult<Listed> {
    match query.sort {
        Sort::Relevance => ranked_page(conn, query, fuzzy).await,
        // An explicit order applies to every match (the cheapest lamp is the cheapest of all
        // lamps); only the count is capped.
        _ => page_and_total(conn, query, fuzzy, None).await,
    }
}

/// A relevance-ordered page: the candidates are collected once (bounded, see
/// [`full_text_candidates`]), ranked, and counted in the same statement.
async fn ranked_page(conn: &mut AsyncPgConnection, query: &ListQuery, fuzzy: bool) -> QueryResult<Listed> {
    let candidates = if fuzzy { typo_candidates() } else { full_text_candidates() };
    let with = format!("{CATS},\ncandidates AS MATERIALIZED (\n  {candidates}\n  LIMIT $12\n)");
    let page_sql = format!(
        "{with}\nSELECT p.*, (SELECT count(*) FROM candidates) AS total FROM candidates p \
         ORDER BY {RELEVANCE} LIMIT $10 OFFSET $11"
    );
    let exact = query.search.as_ref().map(|s| s.exact.clone());
    let rows: Vec<RankedRow> = with_filters!(page_sql, query, fuzzy)
        .bind::<Nullable<Text>, _>(exact.clone())
        .bind::<BigInt, _>(query.page.limit())
        .bind::<BigInt, _>(query.page.offset())
        .bind::<BigInt, _>(SEARCH_CAP)
        .load(conn)
        .await?;
    // `rows.first()` would be diesel's `RunQueryDsl::first`, hence the iterator.
    if let Some(total) = rows.iter().map(|r| r.total).next() {
        return Ok(Listed::new(rows.into_iter().map(|r| r.product).collect(), total, true));
    }
    if query.page.offset() == 0 {
        return Ok(Listed::default());
    }
    // A page past the end: only the count is wanted (the same candidates, so the same number).
    let count_sql = format!("{with}\nSELECT count(*) AS total FROM candidates");
    let total: Total = with_filters!(count_sql, query, fuzzy)
        .bind::<Nullable<Text>, _>(exact)
        .bind::<BigInt, _>(query.page.limit())
        .bind::<BigInt, _>(query.page.offset())
        .bind::<BigInt, _>(SEARCH_CAP)
        .get_result(conn)
        .await?;
    Ok(Listed::new(Vec::new(), total.total, true))
}

async fn page_and_total(
    conn: &mut AsyncPgConnection,
    query: &ListQuery,
    fuzzy: bool,
    known_total: Option<i64>,
) -> QueryResult<Listed> {
    let searching = query.search.is_some();
    let page_sql = format!(
        "{CATS}\nSELECT p.* FROM products p WHERE {FILTERS} AND {MATCHES} ORDER BY {} LIMIT $10 OFFSET $11",
        order_by(query.sort)
    );
    let rows: Vec<ProductRow> = with_filters!(page_sql, query, fuzzy)
        .bind::<Nullable<Text>, _>(query.search.as_ref().map(|s| s.exact.clone()))
        .bind::<BigInt, _>(query.page.limit())
        .bind::<BigInt, _>(query.page.offset())
        .load(conn)
        .await?;
    let len = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    // A short page (with rows, or the first page) already tells the total.
    if len < query.page.limit() && (len > 0 || query.page.offset() == 0) {
        let total = query.page.offset() + len;
        return Ok(Listed { rows, total, total_capped: false });
    }
    if let Some(total) = known_total {
        return Ok(Listed { rows, total, total_capped: false });
    }
    // A search counts at most SEARCH_CAP matches (a LIMIT inside the count); a plain listing
    // counts all of them (cached per listing generation by the caller).
    let count_sql = if searching {
        format!(
            "{CATS}\nSELECT count(*) AS total FROM (SELECT 1 FROM products p WHERE {FILTERS} AND {MATCHES} LIMIT $9) m"
        )
    } else {
        format!("{CATS}\nSELECT count(*) AS total FROM products p WHERE {FILTERS} AND {MATCHES}")
    };
    let count = with_filters!(count_sql, query, fuzzy);
    let total: Total = if searching {
        count.bind::<BigInt, _>(SEARCH_CAP).get_result(conn).await?
    } else {
        count.get_result(conn).await?
    };
    Ok(Listed::new(rows, total.total, searching))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_total_is_capped_and_says_so() {
        let capped = Listed::new(Vec::new(), SEARCH_CAP, true);
        assert_eq!((capped.total, capped.total_capped), (SEARCH_CAP, true), "reaching the cap counts as capped");
        let capped = Listed::new(Vec::new(), SEARCH_CAP + 405, true);
        assert_eq!((capped.total, capped.total_capped), (SEARCH_CAP, true));
        let exact = Listed::new(Vec::new(), SEARCH_CAP - 1, true);
        assert_eq!((exact.total, exact.total_capped), (SEARCH_CAP - 1, false));
        let listing = Listed::new(Vec::new(), 100_000, false);
        assert_eq!((listing.total, listing.total_capped), (100_000, false), "plain listings count everything");
    }
}
