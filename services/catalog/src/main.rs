//! The catalog service binary: settings from the environment, then serve until SIGTERM.
//! `shop-catalog seed-demo [COUNT]` loads the demo catalogue instead (idempotent; 1,200 products
//! unless COUNT says more, e.g. 100000 for the search benchmark) and exits.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shop_common::telemetry::init_logging();
    let settings = shop_catalog::Settings::from_env(&shop_common::settings::Env::process())?;
    match std::env::args().nth(1).as_deref() {
        None | Some("serve") => shop_catalog::start(settings).await?.run_until_signal().await,
        Some("seed-demo") => {
            let count = match std::env::args().nth(2) {
                None => shop_catalog::demo::PRODUCT_COUNT,
                Some(count) => {
                    count.parse().map_err(|_| anyhow::anyhow!("seed-demo COUNT must be a number, not {count:?}"))?
                }
            };
            let summary = shop_catalog::seed_demo(&settings, count).await?;
            tracing::info!(
                categories.created = summary.categories_created,
                products.created = summary.products_created,
                "demo catalogue loaded"
            );
            Ok(())
        }
        Some(other) => anyhow::bail!("unknown command {other:?}; expected `serve` or `seed-demo`"),
    }
}
