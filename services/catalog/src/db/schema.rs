//! diesel definitions of `migrations/catalog`. Written to match the migration (the diesel CLI is
//! not installed here); `search_vector` is left out because diesel has no `tsvector` type and only
//! the raw search SQL in [`super::listing`] reads it.

diesel::table! {
    categories (slug) {
        slug -> Text,
        name -> Text,
        parent_slug -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    products (id) {
        id -> Uuid,
        sku -> Text,
        name -> Text,
        description -> Text,
        price_minor -> Int8,
        currency -> Text,
        category_slug -> Nullable<Text>,
        attributes -> Jsonb,
        image_urls -> Array<Text>,
        active -> Bool,
        low_stock_threshold -> Int4,
        version -> Int8,
        available -> Int4,
        in_stock -> Bool,
        stock_seq -> Int8,
        stock_as_of -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(products -> categories (category_slug));
diesel::allow_tables_to_appear_in_same_query!(categories, products);
