//! Reading `Authorization: Bearer <token>` (RFC 6750 §2.1) strictly, before any token parsing.
//!
//! Anything that is not exactly one well-formed bearer credential is refused here, so the JWT code
//! only ever sees a short ASCII string: no header means anonymous, a malformed one is a 401 (never
//! a 500, and never silently treated as anonymous, which would hide a client bug).

use actix_web::http::header::{AUTHORIZATION, HeaderMap};

/// Longest accepted token. Shop's access tokens are ~500 bytes and Keycloak's a few kB; 8 KiB
/// leaves room while keeping a hostile header from reaching the decoder.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Why the header was refused; the text is the problem's `detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedHeader(pub &'static str);

/// The bearer token, `Ok(None)` when there is no `Authorization` header at all.
pub fn token(headers: &HeaderMap) -> Result<Option<&str>, MalformedHeader> {
    let mut values = headers.get_all(AUTHORIZATION);
    let Some(value) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(MalformedHeader("more than one Authorization header"));
    }
    // Checked on the raw bytes first so a huge header is refused without further work.
    if value.len() > MAX_TOKEN_BYTES + "Bearer ".len() {
        return Err(MalformedHeader("the bearer token is too long"));
    }
    let value = value
        .to_str()
        .ok()
        .filter(|v| v.is_ascii())
        .ok_or(MalformedHeader("the Authorization header must be printable ASCII"))?
        .trim();
    if value.is_empty() {
        return Err(MalformedHeader("the Authorization header is empty"));
    }
    let Some((scheme, token)) = value.split_once(' ') else {
        return Err(MalformedHeader("expected `Authorization: Bearer <token>`"));
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(MalformedHeader("only the Bearer scheme is accepted"));
    }
    let token = token.trim_start_matches(' ');
    if token.is_empty() || !token.bytes().all(is_b64token_char) {
        return Err(MalformedHeader("the bearer token is not a valid token"));
    }
    Ok(Some(token))
}

/// RFC 6750 `b64token`: `ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/"` then `"="`s.
fn is_b64token_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(AUTHORIZATION, HeaderValue::from_bytes(value).unwrap());
        }
        map
    }

    #[test]
    fn a_bearer_token_is_returned_and_no_header_is_anonymous() {
        assert_eq!(token(&headers(&[b"Bearer abc.def.ghi"])), Ok(Some("abc.def.ghi")));
        assert_eq!(token(&headers(&[b"bearer  a-b_c.d~e+f/g=="])), Ok(Some("a-b_c.d~e+f/g==")));
        assert_eq!(token(&HeaderMap::new()), Ok(None));
    }

    #[test]
    fn malformed_headers_are_refused() {
        let long = format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES + 1));
        for value in [
            &b""[..],
            b"   ",
            b"Bearer",
            b"Bearer ",
            b"Basic dXNlcjpwYXNz",
            b"abc.def.ghi",
            b"Bearer abc def",
            b"Bearer abc,def",
            b"Bearer \xe2\x98\x83.\xf0\x9f\x92\xa5",
            long.as_bytes(),
        ] {
            assert!(token(&headers(&[value])).is_err(), "{:?}", String::from_utf8_lossy(value));
        }
        assert!(token(&headers(&[b"Bearer a", b"Bearer b"])).is_err());
    }

    #[test]
    fn the_longest_accepted_token_passes() {
        let value = format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES));
        assert_eq!(token(&headers(&[value.as_bytes()])).unwrap().map(str::len), Some(MAX_TOKEN_BYTES));
    }
}
