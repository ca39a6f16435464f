//! The service layer on a real database, without HTTP: concurrency, the line cap, merge rules,
//! checkout and the snapshot's ordering rule.

use crate::helpers::{count, outbox_count, pool, seed_product, test_db};
use chrono::{Duration as ChronoDuration, Utc};
use shop_cart::db::products::{self, ProductState};
use shop_cart::domain::{CartId, OrderId, ProductId, UserId};
use shop_cart::error::CartError;
use shop_cart::service::{self, Caller, CheckoutOutcome};
use uuid::Uuid;

fn user_caller() -> Caller {
    Caller { user: Some(UserId(Uuid::new_v4())), token: None }
}

fn order() -> OrderId {
    OrderId(Uuid::now_v7())
}

fn quantity_of(view: &shop_cart::domain::view::CartView, product: ProductId) -> i64 {
    view.lines.iter().find(|l| l.product_id == product).map_or(0, |l| l.quantity)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_adds_of_one_product_sum_correctly() {
    let db = test_db().await;
    let pool = pool(&db, 8);
    let mut conn = db.connect().await;
    let product = seed_product(&mut conn, 250, "EUR", true).await;
    let caller = user_caller();

    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let pool = pool.clone();
            let caller = caller.clone();
            tokio::spawn(async move {
                let mut conn = pool.get().await.unwrap();
                service::add_item(&mut conn, &caller, product, 3).await.unwrap();
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let mut conn2 = pool.get().await.unwrap();
    let view = service::view(&mut conn2, &caller).await.unwrap();
    assert_eq!(view.lines.len(), 1, "one line per product, one cart per user");
    assert_eq!(quantity_of(&view, product), 48);
    assert_eq!(view.subtotal.as_ref().unwrap().amount_minor, 48 * 250);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM carts").await, 1);
    assert_eq!(outbox_count(&mut conn, "cart.item_added").await, 16);

    // Past 99 the line is capped, and the event says how much was really added.
    for _ in 0..20 {
        service::add_item(&mut conn2, &caller, product, 5).await.unwrap();
    }
    let view = service::view(&mut conn2, &caller).await.unwrap();
    assert_eq!(quantity_of(&view, product), 99);
    let added: i64 = count(
        &mut conn,
        "SELECT COALESCE(sum((payload->'data'->>'quantity')::bigint), 0)::bigint AS n FROM outbox \
         WHERE headers->>'event_type' = 'cart.item_added'",
    )
    .await;
    assert_eq!(added, 99, "the events add up to the line");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_line_cap_holds_under_concurrency() {
    let db = test_db().await;
    let pool = pool(&db, 8);
    let mut conn = db.connect().await;
    let caller = user_caller();
    for _ in 0..95 {
        let product = seed_product(&mut conn, 100, "EUR", true).await;
        service::add_item(&mut conn, &caller, product, 1).await.unwrap();
    }
    let mut extra = Vec::new();
    for _ in 0..12 {
        extra.push(seed_product(&mut conn, 100, "EUR", true).await);
    }
    let tasks: Vec<_> = extra
        .into_iter()
        .map(|product| {
            let pool = pool.clone();
            let caller = caller.clone();
            tokio::spawn(async move {
                let mut conn = pool.get().await.unwrap();
                service::add_item(&mut conn, &caller, product, 1).await
            })
        })
        .collect();
    let mut added = 0;
    let mut full = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => added += 1,
            Err(CartError::CartFull) => full += 1,
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    assert_eq!((added, full), (5, 7));
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM cart_lines").await, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_sums_caps_and_deletes_the_guest_cart() {
    let db = test_db().await;
    let mut conn = db.connect().await;
    let [a, b, c] = [
        seed_product(&mut conn, 100, "EUR", true).await,
        seed_product(&mut conn, 200, "EUR", true).await,
        seed_product(&mut conn, 300, "EUR", true).await,
    ];
    let guest = service::add_item(&mut conn, &Caller::default(), a, 60).await.unwrap();
    let token = guest.cart_token.clone().expect("a new guest gets a token");
    let guest_caller = Caller { user: None, token: Some(token.clone()) };
    service::add_item(&mut conn, &guest_caller, b, 5).await.unwrap();

    let user = user_caller();
    service::add_item(&mut conn, &user, a, 50).await.unwrap();
    service::add_item(&mut conn, &user, c, 1).await.unwrap();

    let merged = service::merge(&mut conn, user.user.unwrap(), &token).await.unwrap();
    assert_eq!(quantity_of(&merged, a), 99, "60 + 50 capped at 99");
    assert_eq!(quantity_of(&merged, b), 5);
    assert_eq!(quantity_of(&merged, c), 1);
    assert_eq!(merged.lines.len(), 3);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM carts").await, 1, "the guest cart is gone");
    assert_eq!(outbox_count(&mut conn, "cart.merged").await, 1);
    // The guest token is spent.
    assert!(matches!(service::view(&mut conn, &guest_caller).await, Err(CartError::CartNotFound)));
    assert!(matches!(service::merge(&mut conn, user.user.unwrap(), &token).await, Err(CartError::CartNotFound)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_respects_the_line_cap_and_the_currency() {
    let db = test_db().await;
    let mut conn = db.connect().await;
    let user = user_caller();
    for _ in 0..99 {
        let product = seed_product(&mut conn, 100, "EUR", true).await;
        service::add_item(&mut conn, &user, product, 1).await.unwrap();
    }
    let first = seed_product(&mut conn, 1, "EUR", true).await;
    let guest = service::add_item(&mut conn, &Caller::default(), first, 1).await.unwrap();
    let token = guest.cart_token.unwrap();
    let guest_caller = Caller { user: None, token: Some(token.clone()) };
    for _ in 0..2 {
        let product = seed_product(&mut conn, 1, "EUR", true).await;
        service::add_item(&mut conn, &guest_caller, product, 1).await.unwrap();
    }
    // Automatic merge: an authenticated request carrying the guest token.
    let both = Caller { user: user.user, token: Some(token) };
    let view = service::view(&mut conn, &both).await.unwrap();
    assert_eq!(view.lines.len(), 100, "the oldest guest line fills the last slot, the others are dropped");
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM carts").await, 1);

    // A guest cart in another currency cannot be folded into a EUR cart: its lines are dropped.
    let usd = seed_product(&mut conn, 500, "USD", true).await;
    let guest = service::add_item(&mut conn, &Caller::default(), usd, 2).await.unwrap();
    let view = service::merge(&mut conn, user.user.unwrap(), &guest.cart_token.unwrap()).await.unwrap();
    assert_eq!(view.lines.len(), 100);
    assert_eq!(quantity_of(&view, usd), 0);
    assert_eq!(view.currency.as_deref(), Some("EUR"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_into_a_new_user_cart_takes_the_guest_currency() {
    let db = test_db().await;
    let mut conn = db.connect().await;
    let usd = seed_product(&mut conn, 500, "USD", true).await;
    let guest = service::add_item(&mut conn, &Caller::default(), usd, 2).await.unwrap();
    let user = user_caller();
    let view = service::merge(&mut conn, user.user.unwrap(), &guest.cart_token.unwrap()).await.unwrap();
    assert_eq!(view.currency.as_deref(), Some("USD"));
    assert_eq!(view.subtotal.unwrap().amount_minor, 1000);
    assert_ne!(view.id, guest.id, "the user's own cart, not the guest's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_takes_out_the_ordered_quantities() {
    let db = test_db().await;
    let mut conn = db.connect().await;
    let [a, b] = [seed_product(&mut conn, 100, "EUR", true).await, seed_product(&mut conn, 200, "EUR", true).await];
    let user = user_caller();
    service::add_item(&mut conn, &user, a, 3).await.unwrap();
    let view = service::add_item(&mut conn, &user, b, 2).await.unwrap();
    let cart = view.id.unwrap();

    // Another user's order naming this cart changes nothing.
    let stranger = Some(UserId(Uuid::new_v4()));
    let outcome = service::apply_checkout(&mut conn, order(), cart, stranger, &[(a, 3)]).await.unwrap();
    assert_eq!(outcome, CheckoutOutcome::Unchanged);
    // Nor a guest order naming a user's cart.
    let outcome = service::apply_checkout(&mut conn, order(), cart, None, &[(a, 3)]).await.unwrap();
    assert_eq!(outcome, CheckoutOutcome::Unchanged);
    // An unknown cart neither.
    let unknown = CartId(Uuid::now_v7());
    let outcome = service::apply_checkout(&mut conn, order(), unknown, user.user, &[(a, 3)]).await.unwrap();
    assert_eq!(outcome, CheckoutOutcome::Unchanged);

    let first = order();
    let outcome = service::apply_checkout(&mut conn, first, cart, user.user, &[(a, 1), (b, 2)]).await.unwrap();
    assert_eq!(outcome, CheckoutOutcome::Reduced);
    // The same order again (a replay under a new event id) takes nothing more.
    let outcome = service::apply_checkout(&mut conn, first, cart, user.user, &[(a, 1), (b, 2)]).await.unwrap();
    assert_eq!(outcome, CheckoutOutcome::AlreadyApplied);
    let view = service::view(&mut conn, &user).await.unwrap();
    assert_eq!((quantity_of(&view, a), quantity_of(&view, b), view.lines.len()), (2, 0, 1));
    assert_eq!(outbox_count(&mut conn, "cart.item_removed").await, 1);
    assert_eq!(outbox_count(&mut conn, "cart.item_updated").await, 1);

    let outcome = service::apply_checkout(&mut conn, order(), cart, user.user, &[(a, 5)]).await.unwrap();
    assert_eq!(outcome, CheckoutOutcome::Emptied);
    let view = service::view(&mut conn, &user).await.unwrap();
    assert!(view.lines.is_empty());
    assert_eq!(view.subtotal, None);
    let reason = count(
        &mut conn,
        "SELECT count(*) AS n FROM outbox WHERE headers->>'event_type' = 'cart.cleared' \
         AND payload->'data'->>'reason' = 'checkout'",
    )
    .await;
    assert_eq!(reason, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_snapshot_only_moves_forward_and_deletion_is_final() {
    let db = test_db().await;
    let mut conn = db.connect().await;
    let id = ProductId(Uuid::now_v7());
    let now = Utc::now();
    let state = |name: &'static str, price: i64, at| ProductState {
        product_id: id,
        sku: "SKU-1",
        name,
        price_minor: price,
        currency: "EUR",
        active: true,
        as_of: at,
    };
    assert!(products::upsert(&mut conn, &state("Lamp", 1000, now)).await.unwrap());
    assert!(products::upsert(&mut conn, &state("Lamp v2", 1200, now + ChronoDuration::seconds(5))).await.unwrap());
    assert!(!products::upsert(&mut conn, &state("Lamp old", 900, now + ChronoDuration::seconds(1))).await.unwrap());
    let row = products::find(&mut conn, id).await.unwrap().unwrap();
    assert_eq!((row.name.as_str(), row.price_minor), ("Lamp v2", 1200));

    products::mark_deleted(&mut conn, id, "SKU-1", now + ChronoDuration::seconds(6)).await.unwrap();
    assert!(!products::upsert(&mut conn, &state("Back", 1, now + ChronoDuration::seconds(60))).await.unwrap());
    let row = products::find(&mut conn, id).await.unwrap().unwrap();
    assert!(row.deleted && !row.active);

    // A deletion seen before the product leaves a tombstone a late creation cannot revive.
    let ghost = ProductId(Uuid::now_v7());
    products::mark_deleted(&mut conn, ghost, "SKU-G", now).await.unwrap();
    let late = ProductState { product_id: ghost, ..state("Ghost", 1, now - ChronoDuration::seconds(1)) };
    assert!(!products::upsert(&mut conn, &late).await.unwrap());
    let err = service::add_item(&mut conn, &user_caller(), ghost, 1).await.unwrap_err();
    assert!(matches!(err, CartError::ProductNotFound(_)));
}
