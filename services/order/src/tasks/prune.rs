//! Forgets idempotency keys after [`KEEP_KEYS`] (clients retry within minutes; 24 h is the promise)
//! and processed webhook ids after [`KEEP_WEBHOOKS`] (Stripe retries for up to three days).

use crate::db::idempotency;
use crate::state::Core;
use chrono::Utc;
use diesel_async::RunQueryDsl;
use shop_common::shutdown::Shutdown;
use std::time::Duration;

pub const KEEP_KEYS: Duration = Duration::from_secs(24 * 3600);
pub const KEEP_WEBHOOKS: Duration = Duration::from_secs(30 * 24 * 3600);
const EVERY: Duration = Duration::from_secs(3600);

pub async fn prune_once(core: &Core) -> anyhow::Result<usize> {
    let mut conn = core.db.get().await?;
    let keys = idempotency::prune(&mut conn, Utc::now() - chrono::Duration::from_std(KEEP_KEYS)?).await?;
    diesel::sql_query("DELETE FROM webhook_events WHERE received_at < $1")
        .bind::<diesel::sql_types::Timestamptz, _>(Utc::now() - chrono::Duration::from_std(KEEP_WEBHOOKS)?)
        .execute(&mut conn)
        .await?;
    Ok(keys)
}

pub async fn run(core: Core, mut shutdown: Shutdown) {
    loop {
        match prune_once(&core).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(keys.count = n, "pruned old idempotency keys"),
            Err(err) => tracing::warn!(error = %format!("{err:#}"), "pruning idempotency keys failed"),
        }
        if !super::pause(&mut shutdown, EVERY, None).await {
            break;
        }
    }
}
