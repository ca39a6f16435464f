//! The demo catalogue loads once: a second run adds nothing.

use crate::helpers::TestApp;
use shop_catalog::demo;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_catalogue_loads_once() {
    let app = TestApp::spawn().await;
    let pool = shop_common::db::build_pool(&app.db.settings(), "demo-test").unwrap();
    let first = demo::load(&pool, demo::PRODUCT_COUNT).await.unwrap();
    assert!(first.products_created >= 1000, "{first:?}");
    assert!(first.categories_created >= 10, "{first:?}");
    let second = demo::load(&pool, demo::PRODUCT_COUNT).await.unwrap();
    assert_eq!((second.products_created, second.categories_created), (0, 0));

    assert_eq!(app.sql_i64("SELECT count(*) AS value FROM products").await, first.products_created as i64);
    let created_events =
        app.sql_i64("SELECT count(*) AS value FROM outbox WHERE payload->>'type' = 'product.created'").await;
    assert_eq!(created_events, first.products_created as i64, "one product.created per product, none twice");
    let nested = app
        .sql_i64("SELECT count(*) AS value FROM categories c JOIN categories p ON c.parent_slug = p.slug WHERE p.parent_slug IS NOT NULL")
        .await;
    assert!(nested > 0, "three levels deep");
    let page = app.page("/products/category/electronics?page_size=5").await;
    assert!(page.total >= 100, "sub-categories count: {}", page.total);
    assert!(app.page("/products/search?q=headphones").await.total > 0);
    app.stop().await;
}
