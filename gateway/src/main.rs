//! The gateway binary: settings from the environment, then serve until SIGTERM.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shop_common::telemetry::init_logging();
    let settings = shop_gateway::Settings::from_env(&shop_common::settings::Env::process())?;
    shop_gateway::start(settings).await?.run_until_signal().await
}
