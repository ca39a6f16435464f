//! diesel definitions of the plumbing tables in `migrations/common`.

diesel::table! {
    outbox (id) {
        id -> Int8,
        event_id -> Uuid,
        topic -> Text,
        record_key -> Text,
        payload -> Jsonb,
        headers -> Jsonb,
        created_at -> Timestamptz,
        published_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    inbox (consumer, event_id) {
        consumer -> Text,
        event_id -> Uuid,
        event_type -> Text,
        applied_at -> Timestamptz,
    }
}
