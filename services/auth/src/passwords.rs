//! Password hashing: argon2id (m = 19 MiB, t = 2, p = 1, OWASP's baseline), off the async workers.
//!
//! A hash takes tens of milliseconds of CPU and 19 MiB, so it runs on tokio's blocking pool behind
//! a semaphore of `PASSWORD_HASH_CONCURRENCY` permits: HTTP workers never stall on it, and a burst
//! of logins queues instead of exhausting memory. For an unknown email the caller still verifies,
//! against a dummy hash made at start with the same parameters, so both failures take as long.

use anyhow::Context;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::TryRngCore;
use rand::rngs::OsRng;
use shop_common::ApiError;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// OWASP Password Storage Cheat Sheet, argon2id option 1 (memory in KiB).
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;

/// Past this wait for a hashing slot the request fails with 503 rather than hang.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

fn argon2() -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .map_err(|err| anyhow::anyhow!("argon2 parameters: {err}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    OsRng.try_fill_bytes(&mut salt).context("reading the OS random source")?;
    let salt = SaltString::encode_b64(&salt).map_err(|err| anyhow::anyhow!("encoding a salt: {err}"))?;
    let hash = argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|err| anyhow::anyhow!("hashing a password: {err}"))?;
    Ok(hash.to_string())
}

/// Verifies with the parameters recorded in the PHC string, so hashes made with other (older)
/// parameters keep working.
fn verify_blocking(password: &str, phc: &str) -> anyhow::Result<bool> {
    let parsed = PasswordHash::new(phc).map_err(|err| anyhow::anyhow!("a stored password hash is malformed: {err}"))?;
    Ok(argon2()?.verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Hashes and verifies passwords with bounded concurrency.
pub struct Passwords {
    permits: Arc<Semaphore>,
    dummy_hash: String,
}

impl Passwords {
    /// Makes the dummy hash (one hash of a random string) and sizes the semaphore.
    pub async fn new(concurrency: usize) -> anyhow::Result<Self> {
        let mut random = [0u8; 24];
        OsRng.try_fill_bytes(&mut random).context("reading the OS random source")?;
        let secret: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let dummy_hash = tokio::task::spawn_blocking(move || hash_blocking(&secret))
            .await
            .context("the hashing task panicked")??;
        Ok(Self { permits: Arc::new(Semaphore::new(concurrency.max(1))), dummy_hash })
    }

    /// Runs `job` on the blocking pool once a permit is free.
    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = tokio::time::timeout(QUEUE_TIMEOUT, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| {
                tracing::warn!(queue_timeout_ms = QUEUE_TIMEOUT.as_millis() as u64, "password hashing is saturated");
                ApiError::unavailable("the service is busy, retry shortly", 1)
            })?
            .map_err(ApiError::internal)?;
        let outcome = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job()
        })
        .await
        .map_err(ApiError::internal)?;
        outcome.map_err(ApiError::internal)
    }

    /// The PHC string for `password`.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        self.run(move || hash_blocking(&password)).await
    }

    /// `true` if `password` matches `phc`. With `None` (no such account) it checks against the
    /// dummy hash and answers `false`, taking the same time as a real mismatch.
    pub async fn verify(&self, password: String, phc: Option<String>) -> Result<bool, ApiError> {
        let (phc, real) = match phc {
            Some(phc) => (phc, true),
            None => (self.dummy_hash.clone(), false),
        };
        let matches = self.run(move || verify_blocking(&password, &phc)).await?;
        Ok(matches && real)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_salted_and_verify() {
        let passwords = Passwords::new(2).await.unwrap();
        let first = passwords.hash("correct horse".into()).await.unwrap();
        let second = passwords.hash("correct horse".into()).await.unwrap();
        assert!(first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{first}");
        assert_ne!(first, second, "salted");
        assert!(passwords.verify("correct horse".into(), Some(first.clone())).await.unwrap());
        assert!(!passwords.verify("wrong horse".into(), Some(first)).await.unwrap());
        // No account: never true, even for the dummy's own secret (which nobody knows anyway).
        assert!(!passwords.verify("anything".into(), None).await.unwrap());
    }
}
