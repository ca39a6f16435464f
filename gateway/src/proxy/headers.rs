//! Which headers cross the gateway, in each direction.
//!
//! actix-web (http 0.2) and reqwest (http 1.x) use different header types, so headers are copied
//! by name and bytes; a header one side cannot represent is dropped rather than failing the call.

use actix_web::http::header::{HeaderMap as ActixHeaderMap, HeaderName as ActixName, HeaderValue as ActixValue};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::net::IpAddr;

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1), so they never cross
/// a proxy. `host` is set by reqwest from the upstream URL; `expect` was already answered by actix
/// (`100 Continue`) and reqwest cannot do the handshake again. Any `proxy-*` header is dropped too.
const HOP_BY_HOP: &[&str] =
    &["connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "host", "expect"];

/// Identity headers are set only by the gateway once it has verified a token (ARCHITECTURE.md §6);
/// services trust them, so a client must never be able to send its own. Mirrors
/// `shop_common::auth::headers::PREFIX`.
pub const IDENTITY_PREFIX: &str = shop_common::auth::headers::PREFIX;

const REQUEST_ID: &str = "x-request-id";
const FORWARDED_FOR: &str = "x-forwarded-for";
const FORWARDED_PROTO: &str = "x-forwarded-proto";

/// What the gateway knows about the client connection.
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    pub ip: Option<IpAddr>,
    /// `http` or `https`, as the gateway's own listener sees it.
    pub scheme: &'a str,
}

/// The headers sent upstream: the client's minus hop-by-hop and identity headers, plus the
/// request id and the `x-forwarded-*` pair.
pub fn to_upstream(incoming: &ActixHeaderMap, client: Client<'_>, request_id: Option<&str>) -> HeaderMap {
    let connection_listed = connection_listed(incoming);
    let mut out = HeaderMap::with_capacity(incoming.len() + 3);
    let mut forwarded_for: Vec<&str> = Vec::new();
    for (name, value) in incoming {
        let lower = name.as_str();
        if is_hop_by_hop(lower, &connection_listed) || lower.starts_with(IDENTITY_PREFIX) || lower == REQUEST_ID {
            continue;
        }
        if lower == FORWARDED_FOR {
            forwarded_for.extend(value.to_str().ok());
            continue;
        }
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(lower.as_bytes()), HeaderValue::from_bytes(value.as_bytes()))
        {
            out.append(name, value);
        }
    }

    // Append the client's address to any chain a front proxy (nginx) already started.
    let ip = client.ip.map(|ip| ip.to_string());
    forwarded_for.extend(ip.as_deref());
    if !forwarded_for.is_empty()
        && let Ok(value) = HeaderValue::from_str(&forwarded_for.join(", "))
    {
        out.insert(FORWARDED_FOR, value);
    }
    // A front proxy that terminated TLS knows the real scheme; keep its answer when there is one.
    if !out.contains_key(FORWARDED_PROTO)
        && let Ok(value) = HeaderValue::from_str(client.scheme)
    {
        out.insert(FORWARDED_PROTO, value);
    }
    if let Some(id) = request_id
        && let Ok(value) = HeaderValue::from_str(id)
    {
        out.insert(REQUEST_ID, value);
    }
    out
}

/// Adds the verified caller's `x-auth-*` headers (after [`to_upstream`] removed any the client
/// sent), so services read who is calling without seeing or re-checking the token.
pub fn add_identity(out: &mut HeaderMap, caller: &crate::auth::verified::Caller) {
    for (name, value) in &caller.headers {
        out.insert(name.clone(), value.clone());
    }
}

/// The upstream response headers the client gets. `content-length` is left out too: the body is
/// re-framed by actix from the length given to the streaming body.
pub fn to_client(upstream: &HeaderMap) -> Vec<(ActixName, ActixValue)> {
    let listed: Vec<String> =
        upstream.get_all("connection").iter().filter_map(|v| v.to_str().ok()).flat_map(split_tokens).collect();
    upstream
        .iter()
        .filter(|(name, _)| !is_hop_by_hop(name.as_str(), &listed) && name.as_str() != "content-length")
        .filter_map(|(name, value)| {
            Some((
                ActixName::from_bytes(name.as_str().as_bytes()).ok()?,
                ActixValue::from_bytes(value.as_bytes()).ok()?,
            ))
        })
        .collect()
}

fn is_hop_by_hop(lower_name: &str, connection_listed: &[String]) -> bool {
    HOP_BY_HOP.contains(&lower_name)
        || lower_name.starts_with("proxy-")
        || connection_listed.iter().any(|listed| listed == lower_name)
}

/// Headers named in `Connection` are hop-by-hop for this message too.
fn connection_listed(headers: &ActixHeaderMap) -> Vec<String> {
    headers.get_all("connection").filter_map(|v| v.to_str().ok()).flat_map(split_tokens).collect()
}

fn split_tokens(value: &str) -> impl Iterator<Item = String> + '_ {
    value.split(',').map(|token| token.trim().to_ascii_lowercase()).filter(|token| !token.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incoming(pairs: &[(&'static str, &'static str)]) -> ActixHeaderMap {
        let mut map = ActixHeaderMap::new();
        for (name, value) in pairs {
            map.append(ActixName::from_bytes(name.as_bytes()).unwrap(), ActixValue::from_static(value));
        }
        map
    }

    const CLIENT: Client<'static> =
        Client { ip: Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 7))), scheme: "http" };

    #[test]
    fn hop_by_hop_identity_and_connection_listed_headers_are_dropped() {
        let map = incoming(&[
            ("connection", "keep-alive, x-secret-hop"),
            ("keep-alive", "timeout=5"),
            ("x-secret-hop", "1"),
            ("proxy-authorization", "Basic x"),
            ("transfer-encoding", "chunked"),
            ("te", "trailers"),
            ("upgrade", "websocket"),
            ("host", "gateway:5001"),
            ("x-auth-user-id", "forged"),
            ("X-Auth-Roles", "admin"),
            ("authorization", "Bearer t"),
            ("content-type", "application/json"),
            ("content-length", "12"),
            ("accept", "a"),
            ("accept", "b"),
        ]);
        let out = to_upstream(&map, CLIENT, Some("rid-1"));
        for gone in ["connection", "keep-alive", "x-secret-hop", "proxy-authorization", "transfer-encoding", "te"] {
            assert!(!out.contains_key(gone), "{gone} must not be forwarded");
        }
        assert!(!out.contains_key("upgrade") && !out.contains_key("host"));
        assert!(out.keys().all(|name| !name.as_str().starts_with(IDENTITY_PREFIX)));
        assert_eq!(out["authorization"], "Bearer t");
        assert_eq!(out["content-length"], "12");
        assert_eq!(out.get_all("accept").iter().count(), 2);
        assert_eq!(out["x-request-id"], "rid-1");
        assert_eq!(out["x-forwarded-for"], "10.0.0.7");
        assert_eq!(out["x-forwarded-proto"], "http");
    }

    #[test]
    fn forwarded_headers_extend_a_front_proxy_chain() {
        let map = incoming(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
            ("x-request-id", "client-chosen"),
        ]);
        let out = to_upstream(&map, CLIENT, Some("from-middleware"));
        assert_eq!(out["x-forwarded-for"], "203.0.113.9, 10.0.0.7");
        assert_eq!(out["x-forwarded-proto"], "https");
        assert_eq!(out["x-request-id"], "from-middleware");
        assert_eq!(out.get_all("x-request-id").iter().count(), 1);
    }

    #[test]
    fn response_headers_lose_hop_by_hop_and_length() {
        let mut upstream = HeaderMap::new();
        upstream.insert("connection", HeaderValue::from_static("close"));
        upstream.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        upstream.insert("content-length", HeaderValue::from_static("3"));
        upstream.insert("content-type", HeaderValue::from_static("application/json"));
        upstream.append("set-cookie", HeaderValue::from_static("a=1"));
        upstream.append("set-cookie", HeaderValue::from_static("b=2"));
        let out = to_client(&upstream);
        let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["content-type", "set-cookie", "set-cookie"]);
    }
}
