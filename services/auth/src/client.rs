//! Who is calling: the client IP (for rate limits and the session record) and user agent.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use std::convert::Infallible;
use std::future::{Ready, ready};
use std::net::IpAddr;

/// Longest user agent kept in a session record.
const MAX_USER_AGENT_CHARS: usize = 256;

/// The caller as far as the auth service can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The last `x-forwarded-for` entry (the gateway appends the address it saw), else the peer
    /// address, else `unknown`. Always a parsed IP, so it is safe in Redis keys and logs.
    pub ip: String,
    pub user_agent: String,
}

impl ClientInfo {
    pub fn from_request(req: &HttpRequest) -> Self {
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .rfind(|entry| !entry.trim().is_empty())
            .and_then(parse_ip);
        let ip = forwarded
            .or_else(|| req.peer_addr().map(|addr| addr.ip()))
            .map(|ip| ip.to_canonical().to_string())
            .unwrap_or_else(|| "unknown".to_owned());
        let user_agent = req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|value| value.chars().filter(|c| !c.is_control()).take(MAX_USER_AGENT_CHARS).collect())
            .unwrap_or_default();
        Self { ip, user_agent }
    }
}

/// Accepts `1.2.3.4`, `1.2.3.4:5678`, `::1` and `[::1]:5678`.
fn parse_ip(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry.parse::<IpAddr>().ok().or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|addr| addr.ip()))
}

impl FromRequest for ClientInfo {
    type Error = Infallible;
    type Future = Ready<Result<Self, Infallible>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self::from_request(req)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn the_last_forwarded_entry_wins() {
        let req = TestRequest::default()
            .insert_header(("x-forwarded-for", "6.6.6.6, 10.0.0.7"))
            .peer_addr("127.0.0.1:4000".parse().unwrap())
            .to_http_request();
        assert_eq!(ClientInfo::from_request(&req).ip, "10.0.0.7");
    }

    #[test]
    fn garbage_falls_back_to_the_peer() {
        let req = TestRequest::default()
            .insert_header(("x-forwarded-for", "not-an-ip"))
            .peer_addr("127.0.0.1:4000".parse().unwrap())
            .to_http_request();
        assert_eq!(ClientInfo::from_request(&req).ip, "127.0.0.1");
        assert_eq!(parse_ip("[::1]:80"), Some("::1".parse().unwrap()));
    }
}
