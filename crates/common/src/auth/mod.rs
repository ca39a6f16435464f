//! Identity as the services see it.
//!
//! The gateway verifies the caller's JWT (signature, `iss`, `aud`, `exp`, `nbf`, deny-list) and
//! forwards the verified identity in the `x-auth-*` headers below, after stripping any the client
//! sent. Services sit on a private network behind the gateway and trust these headers; they check
//! ownership and roles with the extractors in [`identity`]. Token issuing lives in the auth service,
//! token verification in the gateway; `docs/auth.md` describes the whole flow.

pub mod claims;
pub mod denylist;
pub mod identity;

pub use claims::{AccessClaims, Role};
pub use identity::{AdminIdentity, Identity, MaybeIdentity};

/// Headers carrying the verified identity from the gateway to the services.
pub mod headers {
    /// The user's id (`sub`), a UUID.
    pub const USER_ID: &str = "x-auth-user-id";
    /// Comma-separated roles: `customer`, `admin`.
    pub const ROLES: &str = "x-auth-roles";
    /// The access token's `jti`, so logout can deny-list it.
    pub const TOKEN_ID: &str = "x-auth-token-id";
    /// The access token's `exp` (Unix seconds), so the deny-list entry expires with the token.
    pub const TOKEN_EXPIRES_AT: &str = "x-auth-token-exp";
    /// The session (refresh-token family) id, `sid`.
    pub const SESSION_ID: &str = "x-auth-session-id";
    /// Every header with this prefix is reserved: the gateway drops client-sent ones.
    pub const PREFIX: &str = "x-auth-";
}
