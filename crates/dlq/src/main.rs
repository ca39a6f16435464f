//! `shop-dlq`: list dead-lettered events, replay chosen ones (see the library docs and README).
//!
//!   shop-dlq list [TOPIC...]            every dead letter of the topics (all six by default)
//!   shop-dlq replay ID...               republish these (ids as `list` prints them)
//!   shop-dlq replay --all [TOPIC...]    republish every dead letter of the topics
//!
//! Reads KAFKA_BOOTSTRAP and TOPIC_PREFIX like the services; DLQ_READ_QUIET_MS [3000]: how long
//! without a new record ends the read.

use anyhow::Context;
use shop_common::kafka::EventProducer;
use shop_common::settings::{Env, KafkaSettings};
use shop_dlq::{LetterId, describe, read, replay, select};
use std::time::Duration;

const USAGE: &str = "usage: shop-dlq list [TOPIC...] | shop-dlq replay ID... | shop-dlq replay --all [TOPIC...]";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let env = Env::process();
    let settings = KafkaSettings::from_env(&env)?;
    let quiet = env.millis_or("DLQ_READ_QUIET_MS", Duration::from_secs(3))?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.split_first() {
        Some((command, rest)) if command == "list" => {
            let letters = read(&settings, &shop_dlq::dead_letter_topics(&settings, rest), quiet).await?;
            for letter in &letters {
                println!("{}", describe(letter));
            }
            println!("{} dead letter(s)", letters.len());
            Ok(())
        }
        Some((command, rest)) if command == "replay" => {
            let (all, rest) = match rest.split_first() {
                Some((flag, topics)) if flag == "--all" => (true, topics),
                _ => (false, rest),
            };
            if !all && rest.is_empty() {
                anyhow::bail!("replay needs dead-letter ids or --all\n{USAGE}");
            }
            let ids: Vec<LetterId> =
                if all { Vec::new() } else { rest.iter().map(|id| id.parse()).collect::<Result<_, _>>()? };
            let dlq_topics = if all {
                shop_dlq::dead_letter_topics(&settings, rest)
            } else {
                let mut topics: Vec<String> = ids.iter().map(|id| id.topic.clone()).collect();
                topics.dedup();
                topics
            };
            let letters = read(&settings, &dlq_topics, quiet).await?;
            let chosen = if all { letters.iter().collect() } else { select(&letters, &ids)? };
            let producer = EventProducer::new(&settings, "shop-dlq").context("connecting to the broker")?;
            replay(&producer, &chosen).await?;
            for letter in &chosen {
                println!("replayed {} to {}", letter.id, letter.origin_topic);
            }
            println!("{} record(s) replayed", chosen.len());
            Ok(())
        }
        _ => anyhow::bail!("{USAGE}"),
    }
}
