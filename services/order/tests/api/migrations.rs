//! `migrations/orders` goes up, down (leaving no table behind) and up again.

use shop_order::DEFINITION;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_go_up_down_and_up_again() {
    let db = crate::helpers::test_db().await;
    let settings = db.settings();
    let tables = || async {
        let mut conn = db.connect().await;
        crate::helpers::count(
            &mut conn,
            "SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public' AND tablename <> '__diesel_schema_migrations'",
        )
        .await
    };
    assert_eq!(tables().await, 11, "outbox, inbox and the nine order tables");
    shop_common::db::revert_all(&settings, (DEFINITION.migrations)()).await.unwrap();
    assert_eq!(tables().await, 0, "down.sql leaves nothing behind");
    shop_common::db::migrate(&settings, (DEFINITION.migrations)()).await.unwrap();
    assert_eq!(tables().await, 11);
}
