//! Topic creation. tansu does not auto-create topics on produce, and real Kafka clusters often
//! disable it too, so every service creates the topics it touches at start.

use crate::settings::KafkaSettings;
use anyhow::Context;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use std::time::Duration;

/// Creates each topic (full names, prefix included) unless it exists already.
pub async fn ensure_topics(settings: &KafkaSettings, names: &[String]) -> anyhow::Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &settings.bootstrap)
        .create()
        .context("creating the Kafka admin client")?;
    let new_topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|name| NewTopic::new(name, settings.partitions, TopicReplication::Fixed(settings.replication)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = admin.create_topics(&new_topics, &options).await.context("creating topics")?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => anyhow::bail!("creating topic {topic} failed: {code}"),
        }
    }
    Ok(())
}
