//! The account as clients see it, and the ids that must not be mixed up.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shop_common::auth::Role;
use std::fmt;
use uuid::Uuid;

/// A user's id (the access token's `sub`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct UserId(pub Uuid);

/// A login session: the refresh-token family id, the access token's `sid` and the Redis
/// `session:<id>` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub Uuid);

impl UserId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for UserId {
    fn default() -> Self {
        Self::new()
    }
}

impl SessionId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
}

impl Default for SessionId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// `User` in docs/auth.md: `{id, email, name, roles, created_at}`. Never carries the hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub roles: Vec<Role>,
    pub created_at: DateTime<Utc>,
}

impl User {
    pub fn role(&self) -> Role {
        if self.roles.contains(&Role::Admin) { Role::Admin } else { Role::Customer }
    }
}
