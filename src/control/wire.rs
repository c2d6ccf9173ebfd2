//! The socket's lines: a versioned envelope around [`Request`], [`Reply`]
//! and [`JobEvent`]. The one parser of what clients send, which nothing a
//! client sends can make panic.

use serde::{Deserialize, Serialize};

use super::api::{ApiError, ErrorKind, Reply, Request};
use super::{MAX_REQUEST, VERSION};
use crate::engine::job::JobEvent;

/// A request line as it travels: `{"v":1,"id":7,"method":"status","params":{}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestLine {
    /// Protocol version.
    pub v: u32,
    /// Echoed in the response.
    #[serde(default)]
    pub id: u64,
    /// What to do.
    pub method: String,
    /// Its arguments.
    #[serde(default)]
    pub params: serde_json::Value,
}

/// A refused request line: the id to answer with (0 when the line did not
/// get that far), and why. `close` when the line could not be read as a
/// request at all: the connection is closed after the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The request's id.
    pub id: u64,
    /// Why.
    pub error: ApiError,
    /// Close the connection after saying so.
    pub close: bool,
}

/// Parses one request line (with or without its newline).
pub fn parse_request(line: &[u8]) -> Result<(u64, Request), Refused> {
    let fatal = |error: ApiError| Refused { id: 0, error, close: true };
    if line.len() > MAX_REQUEST {
        return Err(fatal(ApiError::new(ErrorKind::Malformed, format!("request longer than {MAX_REQUEST} bytes"))));
    }
    let raw: RequestLine = serde_json::from_slice(line)
        .map_err(|e| fatal(ApiError::new(ErrorKind::Malformed, format!("malformed request: {e}"))))?;
    let id = raw.id;
    let refuse = |error: ApiError| Refused { id, error, close: false };
    if raw.v != VERSION {
        let (older, newer) = if raw.v < VERSION { ("an older", "cbctl") } else { ("a newer", "clean-backupd") };
        return Err(refuse(
            ApiError::new(
                ErrorKind::Version,
                format!("protocol version {} not supported; this daemon speaks {VERSION}", raw.v),
            )
            .hint(format!("the client is {older} release than the daemon: upgrade {newer} so both match")),
        ));
    }
    let params = match raw.params {
        serde_json::Value::Null => serde_json::json!({}),
        p @ serde_json::Value::Object(_) => p,
        _ => return Err(refuse(ApiError::usage(format!("params of {:?} must be a JSON object", raw.method)))),
    };
    let method = raw.method;
    let request: Request =
        serde_json::from_value(serde_json::json!({ "method": method, "params": params })).map_err(|e| {
            let e = e.to_string();
            refuse(ApiError::usage(if !Request::METHODS.contains(&method.as_str()) {
                format!("unknown method {method:?}; this daemon knows {}", Request::METHODS.join(", "))
            } else if method == "prune" && e.contains("input") {
                format!("bad params for prune: before is not an RFC 3339 time ({e})")
            } else {
                format!("bad params for {method}: {e}")
            }))
        })?;
    request.check().map_err(|e| refuse(ApiError::usage(e)))?;
    Ok((id, request))
}

/// The line that sends `request` as call `id`.
pub fn request_line(id: u64, request: &Request) -> Result<Vec<u8>, serde_json::Error> {
    let tagged = serde_json::to_value(request)?;
    let line = RequestLine {
        v: VERSION,
        id,
        method: request.method().to_string(),
        params: tagged.get("params").cloned().unwrap_or_else(|| serde_json::json!({})),
    };
    let mut bytes = serde_json::to_vec(&line)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// A response line: a result or an error.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    /// Protocol version.
    pub v: u32,
    /// The request's id.
    pub id: u64,
    /// The answer, on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

impl Response {
    /// The response to call `id`.
    pub fn new(id: u64, answer: Result<Reply, ApiError>) -> Response {
        let (result, error) = match answer.and_then(|r| r.to_json().map_err(|e| ApiError::failed(e.to_string()))) {
            Ok(v) => (Some(v), None),
            Err(e) => (None, Some(e)),
        };
        Response { v: VERSION, id, result, error }
    }

    /// An error response.
    pub fn err(id: u64, error: ApiError) -> Response {
        Response { v: VERSION, id, result: None, error: Some(error) }
    }
}

/// A progress line of a streamed call, sent before its response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventLine {
    /// Protocol version.
    pub v: u32,
    /// The request's id.
    pub id: u64,
    /// The event.
    pub event: JobEvent,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_line_parses_back_to_its_request() {
        let r = Request::Undo { session: Some(3), last: false };
        let line = request_line(9, &r).unwrap();
        assert_eq!(parse_request(&line), Ok((9, r)));
        let text = String::from_utf8(line).unwrap();
        assert_eq!(text, "{\"v\":1,\"id\":9,\"method\":\"undo\",\"params\":{\"session\":3}}\n");
    }

    #[test]
    fn refusals_say_why_and_keep_the_id() {
        let e = parse_request(b"{\"v\":2,\"id\":5,\"method\":\"status\"}").unwrap_err();
        assert_eq!((e.id, e.error.kind, e.close), (5, ErrorKind::Version, false));
        assert!(e.error.message.contains("version 2") && e.error.hint.is_some(), "{e:?}");
        let e = parse_request(b"not json").unwrap_err();
        assert_eq!((e.error.kind, e.close), (ErrorKind::Malformed, true));
        let e = parse_request(b"{\"v\":1,\"id\":4,\"method\":\"status\",\"params\":[]}").unwrap_err();
        assert_eq!((e.id, e.error.kind), (4, ErrorKind::Usage));
        let e = parse_request(b"{\"v\":1,\"id\":4,\"method\":\"nope\"}").unwrap_err();
        assert!(e.error.message.contains("unknown method \"nope\"; this daemon knows status"), "{e:?}");
        let e = parse_request(b"{\"v\":1,\"method\":\"prune\",\"params\":{\"before\":\"x\"}}").unwrap_err();
        assert!(e.error.message.contains("not an RFC 3339 time"), "{e:?}");
        let long = vec![b' '; MAX_REQUEST + 1];
        assert!(parse_request(&long).unwrap_err().error.message.contains("longer than"));
        // No params at all is the same as none.
        assert_eq!(parse_request(b"{\"v\":1,\"method\":\"pause\"}"), Ok((0, Request::Pause {})));
    }
}
