//! `shop-loadgen checkout`: the checkout journey of `make bench` (bench/README.md).
//!
//! N virtual guest customers, each in a loop until the time is up: add one product to a new cart,
//! `POST /orders` through the gateway, then wait for the order's final state. Final states are read
//! from `order_events` on the broker (not by polling the API, which would add load the shop does
//! not see in production), so the confirmation time is when `order.confirmed` was published.
//! With `--no-wait` the customers only place orders (the "relay paused" variant).
//!
//! Prints one JSON object: counts, orders confirmed per second, and latency percentiles.
//!
//! `shop-loadgen reserve` drives the inventory reservation engine directly (see [`reserve`]).

mod reserve;

use anyhow::{Context, bail};
use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use serde_json::{Value, json};
use shop_common::events::Envelope;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

struct Options {
    gateway: String,
    bootstrap: String,
    topic: String,
    products: Vec<String>,
    customers: usize,
    duration: Duration,
    wait_for_final: bool,
}

fn usage() -> &'static str {
    "usage: shop-loadgen checkout --gateway URL --products ID[,ID...] [--customers 32] [--duration-secs 60] \
     [--bootstrap 127.0.0.1:9092] [--topic order_events] [--no-wait]"
}

fn parse_options(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options {
        gateway: String::new(),
        bootstrap: "127.0.0.1:9092".into(),
        topic: "order_events".into(),
        products: Vec::new(),
        customers: 32,
        duration: Duration::from_secs(60),
        wait_for_final: true,
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value\n{}", usage()));
        match flag.as_str() {
            "--gateway" => options.gateway = value()?.trim_end_matches('/').to_owned(),
            "--bootstrap" => options.bootstrap = value()?.clone(),
            "--topic" => options.topic = value()?.clone(),
            "--products" => options.products = value()?.split(',').map(str::to_owned).collect(),
            "--customers" => options.customers = value()?.parse().context("--customers")?,
            "--duration-secs" => options.duration = Duration::from_secs(value()?.parse().context("--duration-secs")?),
            "--no-wait" => options.wait_for_final = false,
            other => bail!("unknown option {other}\n{}", usage()),
        }
    }
    if options.gateway.is_empty() || options.products.is_empty() {
        bail!("--gateway and --products are required\n{}", usage());
    }
    Ok(options)
}

/// What the event watcher knows about an order: a customer waiting for it, or its outcome having
/// arrived before the customer registered (the event can beat the HTTP response).
enum Watch {
    Waiting(oneshot::Sender<(String, Instant)>),
    Arrived(String, Instant),
}

type Watches = Arc<Mutex<HashMap<String, Watch>>>;

/// Reads `order_events` and hands each final state to the customer waiting for that order.
async fn watch_final_states(options: &Options, watches: Watches) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &options.bootstrap)
        .set("group.id", format!("loadgen_{}", uuid::Uuid::new_v4().simple()))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "10")
        .create()
        .context("creating the order_events consumer")?;
    consumer.subscribe(&[&options.topic]).context("subscribing to order_events")?;
    Ok(tokio::spawn(async move {
        loop {
            let Ok(message) = consumer.recv().await else { continue };
            let Some(envelope) = message.payload().and_then(|p| serde_json::from_slice::<Envelope>(p).ok()) else {
                continue;
            };
            let status = match envelope.event_type.as_str() {
                "order.confirmed" => "CONFIRMED",
                "order.failed" => "FAILED",
                _ => continue,
            };
            let at = Instant::now();
            let mut watches = watches.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            match watches.remove(&envelope.key) {
                Some(Watch::Waiting(sender)) => {
                    let _ = sender.send((status.to_owned(), at));
                }
                // First final state wins; a later one (a duplicate) changes nothing.
                Some(arrived @ Watch::Arrived(..)) => {
                    watches.insert(envelope.key, arrived);
                }
                None => {
                    watches.insert(envelope.key, Watch::Arrived(status.to_owned(), at));
                }
            }
        }
    }))
}

#[derive(Default)]
struct Tally {
    placed: usize,
    confirmed: usize,
    failed: usize,
    timed_out: usize,
    errors: usize,
    post_ms: Vec<f64>,
    confirm_ms: Vec<f64>,
    first_error: Option<String>,
}

impl Tally {
    fn error(&mut self, what: String) {
        self.errors += 1;
        self.first_error.get_or_insert(what);
    }
}

async fn customer(
    id: usize,
    options: Arc<Options>,
    client: reqwest::Client,
    watches: Watches,
    deadline: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let mut journey = 0usize;
    while Instant::now() < deadline {
        journey += 1;
        let product = &options.products[(id + journey) % options.products.len()];
        let added = client
            .post(format!("{}/cart/items", options.gateway))
            .json(&json!({"product_id": product, "quantity": 1}))
            .send()
            .await;
        let cart_token = match added {
            Ok(response) if response.status().is_success() => {
                match response.headers().get("x-cart-token").and_then(|v| v.to_str().ok()) {
                    Some(token) => token.to_owned(),
                    None => {
                        tally.error("the cart answered without an X-Cart-Token".into());
                        continue;
                    }
                }
            }
            Ok(response) => {
                let status = response.status();
                tally.error(format!("add to cart: {status} {}", response.text().await.unwrap_or_default()));
                continue;
            }
            Err(err) => {
                tally.error(format!("add to cart: {err}"));
                continue;
            }
        };

        let started = Instant::now();
        let placed = client
            .post(format!("{}/orders", options.gateway))
            .header("x-cart-token", &cart_token)
            .header("idempotency-key", uuid::Uuid::new_v4().to_string())
            .json(&json!({
                "email": format!("loadgen-{id}-{journey}@bench.local"),
                "shipping_address": {"name": "Load Gen", "line1": "1 Bench St", "city": "Benchville",
                                     "postal_code": "12345", "country": "DE"},
            }))
            .send()
            .await;
        let order: Value = match placed {
            Ok(response) if response.status().as_u16() == 201 => match response.json().await {
                Ok(order) => order,
                Err(err) => {
                    tally.error(format!("order body: {err}"));
                    continue;
                }
            },
            Ok(response) => {
                let status = response.status();
                tally.error(format!("POST /orders: {status} {}", response.text().await.unwrap_or_default()));
                continue;
            }
            Err(err) => {
                tally.error(format!("POST /orders: {err}"));
                continue;
            }
        };
        tally.post_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        tally.placed += 1;
        if !options.wait_for_final {
            continue;
        }
        let Some(order_id) = order["id"].as_str().map(str::to_owned) else {
            tally.error(format!("an order without an id: {order}"));
            continue;
        };
        let (sender, receiver) = oneshot::channel();
        let arrived = {
            let mut watches = watches.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            match watches.remove(&order_id) {
                Some(Watch::Arrived(status, at)) => Some((status, at)),
                _ => {
                    watches.insert(order_id.clone(), Watch::Waiting(sender));
                    None
                }
            }
        };
        let outcome = match arrived {
            Some(outcome) => Some(outcome),
            None => tokio::time::timeout(Duration::from_secs(30), receiver).await.ok().and_then(Result::ok),
        };
        match outcome {
            Some((status, at)) if status == "CONFIRMED" => {
                tally.confirmed += 1;
                tally.confirm_ms.push(at.saturating_duration_since(started).as_secs_f64() * 1000.0);
            }
            Some(_) => tally.failed += 1,
            None => tally.timed_out += 1,
        }
    }
    tally
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

async fn checkout(options: Options) -> anyhow::Result<Value> {
    let options = Arc::new(options);
    let watches: Watches = Arc::default();
    let watcher =
        if options.wait_for_final { Some(watch_final_states(&options, watches.clone()).await?) } else { None };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(options.customers * 2)
        // Below the gateway's 5 s keep-alive, so no request goes out on a connection being closed.
        .pool_idle_timeout(Duration::from_secs(2))
        .build()?;
    let started = Instant::now();
    let deadline = started + options.duration;
    let customers: Vec<_> = (0..options.customers)
        .map(|id| tokio::spawn(customer(id, options.clone(), client.clone(), watches.clone(), deadline)))
        .collect();
    let mut total = Tally::default();
    for handle in customers {
        let tally = handle.await?;
        total.placed += tally.placed;
        total.confirmed += tally.confirmed;
        total.failed += tally.failed;
        total.timed_out += tally.timed_out;
        total.errors += tally.errors;
        total.post_ms.extend(tally.post_ms);
        total.confirm_ms.extend(tally.confirm_ms);
        if total.first_error.is_none() {
            total.first_error = tally.first_error;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(watcher) = watcher {
        watcher.abort();
    }
    total.post_ms.sort_by(f64::total_cmp);
    total.confirm_ms.sort_by(f64::total_cmp);
    Ok(json!({
        "customers": options.customers,
        "seconds": elapsed,
        "placed": total.placed,
        "confirmed": total.confirmed,
        "failed": total.failed,
        "timed_out": total.timed_out,
        "errors": total.errors,
        "first_error": total.first_error,
        "placed_per_sec": total.placed as f64 / elapsed,
        "confirmed_per_sec": total.confirmed as f64 / elapsed,
        "post_orders_ms": {"p50": percentile(&total.post_ms, 50.0), "p99": percentile(&total.post_ms, 99.0)},
        "to_confirmed_ms": {"p50": percentile(&total.confirm_ms, 50.0), "p99": percentile(&total.confirm_ms, 99.0)},
    }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("checkout") => {
            let report = checkout(parse_options(&args[1..])?).await?;
            println!("{report}");
            Ok(())
        }
        Some("reserve") => {
            let report = reserve::run(reserve::parse_options(&args[1..])?).await?;
            println!("{report}");
            Ok(())
        }
        _ => bail!("{}\n{}", usage(), reserve::usage()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), Some(50.0));
        assert_eq!(percentile(&values, 99.0), Some(99.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn options_need_a_gateway_and_products() {
        let args = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        assert!(parse_options(&args("--customers 4")).is_err());
        let options = parse_options(&args("--gateway http://g/ --products a,b --customers 4 --no-wait")).unwrap();
        assert_eq!(options.gateway, "http://g");
        assert_eq!(options.products, ["a", "b"]);
        assert_eq!(options.customers, 4);
        assert!(!options.wait_for_final);
        assert!(parse_options(&args("--gateway http://g --products a --bogus")).is_err());
    }
}
