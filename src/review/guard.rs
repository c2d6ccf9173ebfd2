//! Who may use the review page: every request is checked here before it
//! is served. Pure functions over what the request says, so every rule is
//! tested without a server.

use std::fmt;

/// The header a state-changing request carries the token in.
pub const TOKEN_HEADER: &str = "x-clean-backup-token";

/// Why a request is refused (the status and the body the page gets).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No token, or the wrong one (403).
    #[error("this page needs the token in the address `cbctl review` printed")]
    Token,
    /// A `Host` other than the loopback address and port it listens on:
    /// a DNS-rebinding page reaching it through another name (421).
    #[error("refused: the Host header {0:?} is not this page's loopback address")]
    Host(String),
    /// A cross-site `Origin` (403).
    #[error("refused: a request from another site ({0})")]
    Origin(String),
    /// A state-changing request that is not a POST with the token header (405).
    #[error("changes are made by POST requests with the {TOKEN_HEADER} header only")]
    Method,
}

impl Refusal {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Token | Refusal::Origin(_) => 403,
            Refusal::Host(_) => 421,
            Refusal::Method => 405,
        }
    }
}

/// The page's secret: 128 random bits, shown as 32 hex digits.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

/// The token could not be drawn (no system randomness).
#[derive(Debug, thiserror::Error)]
#[error("no system randomness for the review page's token: {0}")]
pub struct NoRandomness(String);

impl Token {
    /// A new random token from the system's randomness.
    pub fn new() -> Result<Token, NoRandomness> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|e| NoRandomness(e.to_string()))?;
        Ok(Token(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// As it goes in the URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Compares in time independent of where they differ.
    fn matches(&self, given: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), given.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(..)")
    }
}

/// What a request says about itself, as far as the guard cares.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The `Host` header, if any.
    pub host: Option<&'a str>,
    /// The `Origin` header, if any.
    pub origin: Option<&'a str>,
    /// The `token` query parameter, if any.
    pub query_token: Option<&'a str>,
    /// The [`TOKEN_HEADER`] header, if any.
    pub header_token: Option<&'a str>,
    /// The request changes something (an action), rather than reading.
    pub changes: bool,
}

/// The names a loopback page is reached by on `port`.
fn loopback_hosts(port: u16) -> [String; 3] {
    [format!("127.0.0.1:{port}"), format!("[::1]:{port}"), format!("localhost:{port}")]
}

/// Checks a request to the page listening on loopback `port` with `token`.
///
/// Reads (GET, HEAD) need the token in the query or the header; changes
/// need a POST with the token in the header (a link or a form on another
/// site cannot set it). Either way the `Host` must be one of this page's
/// loopback names and an `Origin`, when sent, this page's own.
pub fn check(req: &Request, token: &Token, port: u16) -> Result<(), Refusal> {
    let hosts = loopback_hosts(port);
    let host = req.host.unwrap_or_default().trim().to_ascii_lowercase();
    if !hosts.contains(&host) {
        return Err(Refusal::Host(req.host.unwrap_or_default().to_string()));
    }
    if let Some(origin) = req.origin {
        let own = hosts.iter().any(|h| origin.eq_ignore_ascii_case(&format!("http://{h}")));
        if !own {
            return Err(Refusal::Origin(origin.to_string()));
        }
    }
    if req.changes {
        if !req.method.eq_ignore_ascii_case("POST") || req.header_token.is_none() {
            return Err(Refusal::Method);
        }
        return if req.header_token.is_some_and(|t| token.matches(t)) { Ok(()) } else { Err(Refusal::Token) };
    }
    if !matches!(req.method.to_ascii_uppercase().as_str(), "GET" | "HEAD") {
        return Err(Refusal::Method);
    }
    let given = req.header_token.or(req.query_token);
    if given.is_some_and(|t| token.matches(t)) {
        Ok(())
    } else {
        Err(Refusal::Token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORT: u16 = 8765;

    fn get<'a>(token: Option<&'a str>) -> Request<'a> {
        Request { method: "GET", host: Some("127.0.0.1:8765"), query_token: token, ..Request::default() }
    }

    #[test]
    fn tokens_are_128_random_bits_and_never_printed_by_debug() {
        let (a, b) = (Token::new().unwrap(), Token::new().unwrap());
        assert_eq!(a.as_str().len(), 32);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert!(!format!("{a:?}").contains(a.as_str()));
    }

    #[test]
    fn a_read_needs_the_token_and_a_loopback_host() {
        let t = Token::new().unwrap();
        assert_eq!(check(&get(Some(t.as_str())), &t, PORT), Ok(()));
        assert_eq!(check(&get(None), &t, PORT), Err(Refusal::Token));
        assert_eq!(check(&get(Some("0123456789abcdef0123456789abcdef")), &t, PORT), Err(Refusal::Token));
        assert_eq!(check(&get(Some(&t.as_str()[..31])), &t, PORT), Err(Refusal::Token));
        for host in ["[::1]:8765", "localhost:8765", "LOCALHOST:8765"] {
            assert_eq!(check(&Request { host: Some(host), ..get(Some(t.as_str())) }, &t, PORT), Ok(()), "{host}");
        }
        // DNS rebinding: evil.example resolving to 127.0.0.1 still says its own name.
        for host in ["evil.example:8765", "127.0.0.1:9999", "127.0.0.1", "", "127.0.0.1:8765.evil.example"] {
            let r = check(&Request { host: Some(host), ..get(Some(t.as_str())) }, &t, PORT);
            assert_eq!(r, Err(Refusal::Host(host.to_string())), "{host}");
            assert_eq!(r.unwrap_err().status(), 421);
        }
        assert!(check(&Request { host: None, ..get(Some(t.as_str())) }, &t, PORT).is_err());
    }

    #[test]
    fn a_cross_site_origin_is_refused_and_the_page_s_own_is_not() {
        let t = Token::new().unwrap();
        let with = |origin| Request { origin: Some(origin), ..get(Some(t.as_str())) };
        assert_eq!(check(&with("http://127.0.0.1:8765"), &t, PORT), Ok(()));
        assert_eq!(check(&with("http://[::1]:8765"), &t, PORT), Ok(()));
        for o in ["https://evil.example", "http://127.0.0.1:1234", "null", "http://localhost:8765.evil.example"] {
            assert_eq!(check(&with(o), &t, PORT), Err(Refusal::Origin(o.to_string())), "{o}");
        }
    }

    fn post<'a>(method: &'a str, header: Option<&'a str>, query: Option<&'a str>) -> Request<'a> {
        Request {
            method,
            host: Some("127.0.0.1:8765"),
            header_token: header,
            query_token: query,
            changes: true,
            ..Request::default()
        }
    }

    #[test]
    fn a_change_is_a_post_with_the_token_in_its_header() {
        let t = Token::new().unwrap();
        let good = t.as_str();
        assert_eq!(check(&post("POST", Some(good), None), &t, PORT), Ok(()));
        // The token in the URL is not enough for a change (a link could carry it).
        assert_eq!(check(&post("POST", None, Some(good)), &t, PORT), Err(Refusal::Method));
        assert_eq!(check(&post("GET", Some(good), None), &t, PORT), Err(Refusal::Method));
        assert_eq!(check(&post("POST", Some("nope"), None), &t, PORT), Err(Refusal::Token));
        // A read by another method is refused too.
        let put = Request { method: "PUT", ..get(Some(good)) };
        assert_eq!(check(&put, &t, PORT), Err(Refusal::Method));
    }
}
