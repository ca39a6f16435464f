//! Graceful shutdown: one signal fans out to every background task.
//!
//! Order on SIGTERM/SIGINT (see [`crate::service::RunningService::stop`]): stop accepting
//! connections and drain in-flight requests, then stop consumers (they commit their offsets) and the
//! outbox relay (it finishes its batch), then flush the producer.

use tokio::sync::watch;

/// A cloneable shutdown flag that tasks can await.
#[derive(Debug, Clone)]
pub struct Shutdown {
    receiver: watch::Receiver<bool>,
}

/// The trigger side, held by whoever owns the service.
#[derive(Debug)]
pub struct ShutdownTrigger {
    sender: watch::Sender<bool>,
}

pub fn channel() -> (ShutdownTrigger, Shutdown) {
    let (sender, receiver) = watch::channel(false);
    (ShutdownTrigger { sender }, Shutdown { receiver })
}

impl ShutdownTrigger {
    pub fn trigger(&self) {
        let _ = self.sender.send(true);
    }
}

impl Shutdown {
    pub fn is_triggered(&self) -> bool {
        *self.receiver.borrow()
    }

    /// Completes once shutdown has been triggered (at once if it already was).
    pub async fn wait(&mut self) {
        // An Err means the trigger was dropped: treat that as shutdown too.
        let _ = self.receiver.wait_for(|stop| *stop).await;
    }
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn os_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutdown signal received");
}
