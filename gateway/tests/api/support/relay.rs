//! A TCP relay in front of the real Redis that a test can cut and restore, like a Redis restart,
//! without touching the Redis other tests share.

use shop_common::settings::{Env, RedisSettings};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

pub struct RedisRelay {
    pub port: u16,
    task: JoinHandle<()>,
}

impl RedisRelay {
    /// Relays `127.0.0.1:port` (0: any free port) to the Redis the tests use.
    pub async fn start(port: u16) -> Self {
        let listener = shop_testkit::wait_for(Duration::from_secs(10), "the relay port to be free", || async move {
            TcpListener::bind(("127.0.0.1", port)).await.ok()
        })
        .await
        .unwrap();
        let port = listener.local_addr().unwrap().port();
        let target = redis_address();
        let task = tokio::spawn(async move {
            // Dropped with the task: aborting it cuts every relayed connection at once.
            let mut connections = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                connections.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self { port, task }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Closes the port and every connection through it; returns the port for a restart.
    pub async fn stop(self) -> u16 {
        self.task.abort();
        let _ = self.task.await;
        self.port
    }
}

/// `host:port` of the tests' Redis.
fn redis_address() -> String {
    let settings = RedisSettings::from_env(&Env::process()).unwrap();
    let url = reqwest::Url::parse(settings.url.expose()).unwrap();
    format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(6379))
}
