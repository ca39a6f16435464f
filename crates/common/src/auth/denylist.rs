//! The access-token deny-list's shared vocabulary: where the auth service writes a logged-out
//! token's id and how it announces it, so the gateway's local replica learns of it at once.
//!
//! The Redis key `denylist:jti:<jti>` (TTL: the token's remaining life plus a leeway) is the truth.
//! Alongside it, in the same `MULTI`, the auth service publishes `<ttl_secs> <jti>` on
//! [`CHANNEL`]; gateways subscribe and keep an in-memory copy, so checking a token costs no Redis
//! round trip (docs/auth.md, "The deny-list replica").

/// The pub/sub channel announcing new deny-list entries.
pub const CHANNEL: &str = "denylist:announce";

/// Every deny-list key starts with this (the gateway scans for it when it (re)loads the replica).
pub const KEY_PREFIX: &str = "denylist:jti:";

/// How long past the token's `exp` its entry is kept: at least the gateway's `JWT_LEEWAY_SECS`
/// (30 s by default), so a logged-out token cannot slip through in the leeway window.
pub const LEEWAY_SECS: i64 = 60;

/// The Redis key for a token id.
pub fn key(jti: &str) -> String {
    format!("{KEY_PREFIX}{jti}")
}

/// The message published on [`CHANNEL`] when `jti` is deny-listed for `ttl_secs` seconds.
pub fn announcement(jti: &str, ttl_secs: u64) -> String {
    format!("{ttl_secs} {jti}")
}

/// The token id and TTL of an [`announcement`]; `None` for anything else.
pub fn parse_announcement(payload: &str) -> Option<(&str, u64)> {
    let (ttl, jti) = payload.split_once(' ')?;
    let ttl = ttl.parse().ok()?;
    (!jti.is_empty() && !jti.contains(char::is_whitespace)).then_some((jti, ttl))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_announcement_parses_back_to_what_was_announced() {
        let message = announcement("0193-abc", 960);
        assert_eq!(message, "960 0193-abc");
        assert_eq!(parse_announcement(&message), Some(("0193-abc", 960)));
    }

    #[test]
    fn malformed_announcements_are_refused() {
        for payload in ["", "960", "960 ", "x abc", "-5 abc", "960 a b", " 960 abc"] {
            assert_eq!(parse_announcement(payload), None, "{payload:?}");
        }
    }

    #[test]
    fn keys_carry_the_prefix() {
        assert_eq!(key("j1"), "denylist:jti:j1");
        assert!(key("j1").starts_with(KEY_PREFIX));
    }
}
