//! `shop-loadgen reserve`: the reservation engine under contention (issue 4's benchmark).
//!
//! Migrates the inventory database at `--database-url` (a bench database, not a live one), creates
//! `--products` hot products with ample stock, then `--buyers` concurrent tasks each reserve orders of
//! one to three lines of those products through `shop_inventory::db::engine::reserve`, exactly as the
//! `order.created` consumer does (same transaction, same outbox row), for `--duration-secs`.

use anyhow::{Context, bail};
use serde_json::{Value, json};
use shop_inventory::db::engine::{self, ReserveOutcome};
use shop_inventory::domain::{Line, OrderId, ProductId};
use std::time::{Duration, Instant};

pub struct Options {
    database_url: String,
    products: usize,
    buyers: usize,
    duration: Duration,
}

pub fn usage() -> &'static str {
    "usage: shop-loadgen reserve --database-url URL [--products 10] [--buyers 64] [--duration-secs 20]"
}

pub fn parse_options(args: &[String]) -> anyhow::Result<Options> {
    let mut options =
        Options { database_url: String::new(), products: 10, buyers: 64, duration: Duration::from_secs(20) };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value\n{}", usage()));
        match flag.as_str() {
            "--database-url" => options.database_url = value()?.clone(),
            "--products" => options.products = value()?.parse().context("--products")?,
            "--buyers" => options.buyers = value()?.parse().context("--buyers")?,
            "--duration-secs" => options.duration = Duration::from_secs(value()?.parse().context("--duration-secs")?),
            other => bail!("unknown option {other}\n{}", usage()),
        }
    }
    if options.database_url.is_empty() || options.products == 0 || options.buyers == 0 {
        bail!("--database-url is required; --products and --buyers must be positive\n{}", usage());
    }
    Ok(options)
}

#[derive(Default)]
struct Tally {
    reserved: usize,
    rejected: usize,
    errors: usize,
    latencies_ms: Vec<f64>,
    first_error: Option<String>,
}

pub async fn run(options: Options) -> anyhow::Result<Value> {
    let settings = shop_common::settings::DatabaseSettings {
        url: shop_common::settings::Secret::new(options.database_url.clone()),
        pool_size: options.buyers.min(32),
        ..shop_common::settings::DatabaseSettings::from_env(&shop_common::settings::Env::from_pairs([]), "unused")?
    };
    shop_common::db::migrate(&settings, shop_inventory::MIGRATIONS).await?;
    let pool = shop_common::db::build_pool(&settings, "loadgen-reserve")?;
    let products: Vec<ProductId> = (0..options.products).map(|_| ProductId(uuid::Uuid::now_v7())).collect();
    {
        let mut conn = pool.get().await?;
        for product in &products {
            shop_inventory::db::stock::create(&mut conn, *product, 1_000_000_000, 0).await?;
        }
    }
    let started = Instant::now();
    let deadline = started + options.duration;
    let buyers: Vec<_> = (0..options.buyers)
        .map(|buyer| {
            let pool = pool.clone();
            let products = products.clone();
            tokio::spawn(async move {
                let mut tally = Tally::default();
                let mut n = buyer;
                while Instant::now() < deadline {
                    n += 7;
                    let lines: Vec<Line> = (0..1 + n % 3)
                        .map(|i| Line { product_id: products[(n + i * 3) % products.len()], quantity: 1 })
                        .collect();
                    let begun = Instant::now();
                    let outcome = match pool.get().await {
                        Ok(mut conn) => engine::reserve(&mut conn, OrderId(uuid::Uuid::now_v7()), &lines)
                            .await
                            .map_err(|err| err.to_string()),
                        Err(err) => Err(err.to_string()),
                    };
                    match outcome {
                        Ok(ReserveOutcome::Reserved(_)) => {
                            tally.reserved += 1;
                            tally.latencies_ms.push(begun.elapsed().as_secs_f64() * 1000.0);
                        }
                        Ok(_) => tally.rejected += 1,
                        Err(err) => {
                            tally.errors += 1;
                            tally.first_error.get_or_insert(err);
                        }
                    }
                }
                tally
            })
        })
        .collect();
    let mut total = Tally::default();
    for buyer in buyers {
        let tally = buyer.await?;
        total.reserved += tally.reserved;
        total.rejected += tally.rejected;
        total.errors += tally.errors;
        total.latencies_ms.extend(tally.latencies_ms);
        if total.first_error.is_none() {
            total.first_error = tally.first_error;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    total.latencies_ms.sort_by(f64::total_cmp);
    Ok(json!({
        "buyers": options.buyers,
        "products": options.products,
        "seconds": elapsed,
        "reserved": total.reserved,
        "rejected": total.rejected,
        "errors": total.errors,
        "first_error": total.first_error,
        "reserved_per_sec": total.reserved as f64 / elapsed,
        "latency_ms": {"p50": crate::percentile(&total.latencies_ms, 50.0), "p99": crate::percentile(&total.latencies_ms, 99.0)},
    }))
}
