//! The reservation engine called directly, hammered concurrently on a real database.

use crate::helpers::{count, line, order, outbox_count, pool, row, seed, test_db};
use shop_inventory::db::engine::{self, ReserveOutcome, SettleOutcome};
use shop_inventory::db::stock;
use shop_inventory::domain::{Mode, validate_update};

const LOW: &str = "inventory.low_stock";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_reservations_on_stock_fifty_reserve_exactly_fifty() {
    let db = test_db().await;
    let pool = pool(&db, 16);
    let mut conn = db.connect().await;
    let product = seed(&mut conn, 50, 0).await;

    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut conn = pool.get().await.unwrap();
                engine::reserve(&mut conn, order(), &[line(product, 1)]).await
            })
        })
        .collect();
    let (mut reserved, mut rejected, mut errors) = (0, 0, Vec::new());
    for task in tasks {
        match task.await.unwrap() {
            Ok(ReserveOutcome::Reserved(_)) => reserved += 1,
            Ok(ReserveOutcome::Rejected { .. }) => rejected += 1,
            Ok(ReserveOutcome::Duplicate) => panic!("distinct orders are never duplicates"),
            Err(err) => errors.push(err.to_string()),
        }
    }
    assert!(errors.is_empty(), "no CHECK violation or other error surfaced: {errors:?}");
    assert_eq!((reserved, rejected), (50, 150));
    let stock = row(&mut conn, product).await;
    assert_eq!((stock.on_hand, stock.reserved, stock.available), (50, 50, 0));
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM stock WHERE available < 0").await, 0);
    assert_eq!(count(&mut conn, "SELECT COALESCE(sum(quantity), 0)::bigint AS n FROM reservations").await, 50);
    assert_eq!(outbox_count(&mut conn, "inventory.reserved").await, 50);
    assert_eq!(outbox_count(&mut conn, "inventory.rejected").await, 150);
    assert_eq!(outbox_count(&mut conn, "inventory.low_stock").await, 1, "one downward crossing, one alert");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_with_one_short_line_reserves_nothing() {
    let db = test_db().await;
    let mut conn = db.connect().await;
    let plenty = seed(&mut conn, 10, 0).await;
    let scarce = seed(&mut conn, 1, 0).await;
    let order_id = order();

    let outcome = engine::reserve(&mut conn, order_id, &[line(plenty, 3), line(scarce, 2)]).await.unwrap();
    let ReserveOutcome::Rejected { lines, .. } = outcome else { panic!("expected a rejection, got {outcome:?}") };
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().any(|l| l.product_id == scarce && l.requested == 2 && l.available == 1));
    assert_eq!(row(&mut conn, plenty).await.reserved, 0, "the satisfiable line was rolled back");
    assert_eq!(row(&mut conn, scarce).await.reserved, 0);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM reservations").await, 0);
    assert_eq!(outbox_count(&mut conn, "inventory.rejected").await, 1);
    // The same order again is a no-op, even though it would now be rejected again anyway.
    assert_eq!(engine::reserve(&mut conn, order_id, &[line(plenty, 1)]).await.unwrap(), ReserveOutcome::Duplicate);
    // Unknown products and invalid quantities reject too, never error.
    let unknown = crate::helpers::product();
    assert!(matches!(
        engine::reserve(&mut conn, order(), &[line(unknown, 1)]).await.unwrap(),
        ReserveOutcome::Rejected { .. }
    ));
    assert!(matches!(
        engine::reserve(&mut conn, order(), &[line(plenty, 0)]).await.unwrap(),
        ReserveOutcome::Rejected { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_restores_commit_sells_and_the_ledger_balances() {
    let db = test_db().await;
    let mut conn = db.connect().await;
    let a = seed(&mut conn, 20, 0).await;
    let b = seed(&mut conn, 5, 0).await;
    let (o1, o2, o3) = (order(), order(), order());

    assert!(matches!(
        engine::reserve(&mut conn, o1, &[line(a, 5), line(b, 1)]).await.unwrap(),
        ReserveOutcome::Reserved(_)
    ));
    assert!(matches!(engine::reserve(&mut conn, o2, &[line(a, 3)]).await.unwrap(), ReserveOutcome::Reserved(_)));
    assert!(matches!(
        engine::reserve(&mut conn, o3, &[line(a, 2), line(b, 4)]).await.unwrap(),
        ReserveOutcome::Reserved(_)
    ));
    assert_eq!(row(&mut conn, a).await.available, 10);

    // Cancel o2: its 3 units come back; a second release is a no-op.
    assert_eq!(engine::release(&mut conn, o2, "cancelled").await.unwrap(), SettleOutcome::Done(vec![line(a, 3)]));
    assert_eq!(engine::release(&mut conn, o2, "cancelled").await.unwrap(), SettleOutcome::NothingHeld);
    assert_eq!(row(&mut conn, a).await.available, 13);

    // Ship o1: reserved → sold; a second commit, or committing a released order, changes nothing.
    assert!(matches!(engine::commit(&mut conn, o1).await.unwrap(), SettleOutcome::Done(_)));
    assert_eq!(engine::commit(&mut conn, o1).await.unwrap(), SettleOutcome::NothingHeld);
    assert_eq!(engine::commit(&mut conn, o2).await.unwrap(), SettleOutcome::NothingHeld);
    assert_eq!(engine::release(&mut conn, o1, "too late").await.unwrap(), SettleOutcome::NothingHeld);
    let after_ship = row(&mut conn, a).await;
    assert_eq!((after_ship.on_hand, after_ship.reserved, after_ship.sold, after_ship.available), (15, 2, 5, 13));

    // Restock, then a failed payment releases o3.
    let restock = validate_update(a.0, Mode::Adjust, 10, "restock", None).unwrap();
    stock::apply_update(&mut conn, &restock).await.unwrap();
    assert!(matches!(engine::release(&mut conn, o3, "payment failed").await.unwrap(), SettleOutcome::Done(_)));
    // Cancelling an order never seen leaves a tombstone: its late order.created reserves nothing.
    let ghost = order();
    assert_eq!(engine::release(&mut conn, ghost, "cancelled").await.unwrap(), SettleOutcome::NothingHeld);
    assert_eq!(engine::reserve(&mut conn, ghost, &[line(a, 1)]).await.unwrap(), ReserveOutcome::Duplicate);

    for (product, initial, restocks) in [(a, 20, 10), (b, 5, 0)] {
        let s = row(&mut conn, product).await;
        assert_eq!(initial + restocks, s.available + s.reserved + s.sold, "ledger of {product}");
        assert_eq!(s.reserved, 0);
        // The audit trail alone explains on_hand + sold.
        let audited = count(
            &mut conn,
            &format!(
                "SELECT COALESCE(sum(delta), 0)::bigint AS n FROM stock_adjustments WHERE product_id = '{product}'"
            ),
        )
        .await;
        assert_eq!(audited, s.on_hand + s.sold);
    }
    assert_eq!(outbox_count(&mut conn, "inventory.released").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_stock_is_emitted_once_per_downward_crossing() {
    let db = test_db().await;
    let mut conn = db.connect().await;
    let p = seed(&mut conn, 10, 3).await;

    engine::reserve(&mut conn, order(), &[line(p, 4)]).await.unwrap(); // 6 left: above
    assert_eq!(outbox_count(&mut conn, LOW).await, 0);
    let crossing = order();
    engine::reserve(&mut conn, crossing, &[line(p, 3)]).await.unwrap(); // 3 left: crossed
    assert_eq!(outbox_count(&mut conn, LOW).await, 1);
    assert!(row(&mut conn, p).await.low_stock_alerted);
    engine::reserve(&mut conn, order(), &[line(p, 1)]).await.unwrap(); // 2 left: still below
    assert_eq!(outbox_count(&mut conn, LOW).await, 1, "later sales below the threshold do not re-alert");
    engine::release(&mut conn, crossing, "cancelled").await.unwrap(); // 5 left: re-armed
    assert!(!row(&mut conn, p).await.low_stock_alerted);
    assert_eq!(outbox_count(&mut conn, LOW).await, 1);
    engine::reserve(&mut conn, order(), &[line(p, 2)]).await.unwrap(); // 3 left: crossed again
    assert_eq!(outbox_count(&mut conn, LOW).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_multi_line_orders_in_opposite_orders_never_deadlock() {
    let db = test_db().await;
    let pool = pool(&db, 16);
    let mut conn = db.connect().await;
    let a = seed(&mut conn, 30, 0).await;
    let b = seed(&mut conn, 40, 0).await;

    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let pool = pool.clone();
            // Half list A first, half B first: the engine sorts, so locks are always taken A-then-B.
            let lines = if i % 2 == 0 { [line(a, 1), line(b, 1)] } else { [line(b, 1), line(a, 1)] };
            tokio::spawn(async move {
                let mut conn = pool.get().await.unwrap();
                engine::reserve(&mut conn, order(), &lines).await
            })
        })
        .collect();
    let mut reserved = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(ReserveOutcome::Reserved(_)) => reserved += 1,
            Ok(_) => {}
            Err(err) => panic!("no deadlock or constraint error expected: {err}"),
        }
    }
    assert_eq!(reserved, 30, "limited by A");
    assert_eq!(row(&mut conn, a).await.available, 0);
    assert_eq!(row(&mut conn, b).await.available, 10, "rejected orders left B untouched");
}
