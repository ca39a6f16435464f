//! `migrations/catalog` goes up, down (leaving no table behind) and up again.

use shop_catalog::DEFINITION;
use shop_testkit::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_go_up_down_and_up_again() {
    let db = TestDb::create("catalog", DEFINITION.migrations).await.unwrap();
    let settings = db.settings();
    let tables = || async {
        use diesel_async::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = db.connect().await;
        let sql = "SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public' \
                   AND tablename <> '__diesel_schema_migrations'";
        diesel::sql_query(sql).get_result::<Count>(&mut conn).await.unwrap().n
    };
    assert_eq!(tables().await, 4, "outbox, inbox, categories, products");
    shop_common::db::revert_all(&settings, (DEFINITION.migrations)()).await.unwrap();
    assert_eq!(tables().await, 0, "down.sql leaves nothing behind");
    shop_common::db::migrate(&settings, (DEFINITION.migrations)()).await.unwrap();
    assert_eq!(tables().await, 4);
}
