//! Messages of boto3, botocore and urllib3 DEBUG records, turned into
//! [`EventKind`]s. Only identifiers, times and codes are extracted: request
//! params, bodies and signatures are classified and dropped here, so prompt
//! text never leaves this module.

use memchr::memmem;
use percent_encoding::percent_decode;

use crate::event::{EventKind, RetryCause, SendingRequest, TransportError};

/// How the lines after a record's first line are accounted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Continuation {
    /// The message spans several lines by nature (a body, a signature dump,
    /// an exception with its traceback): any following non-record line is
    /// part of it.
    Any,
    /// Only a `Traceback (most recent call last):` block may follow.
    TracebackOnly,
}

/// What one record's message is.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A lifecycle event bfx uses.
    Event(EventKind),
    /// A known record bfx has no use for (hooks, auth, loaders, bodies, other loggers).
    Noise,
}

/// Classifies one record by logger and message. Returns the message kind and
/// how its continuation lines are to be counted.
pub fn parse_message(logger: &[u8], msg: &[u8]) -> (Message, Continuation) {
    use Continuation::*;
    let base = logger_suffix(logger);
    let ev = |k: EventKind| Message::Event(k);
    match base {
        Some(Logger::Endpoint) => {
            if let Some(rest) = msg.strip_prefix(b"Sending http request: ") {
                if let Some(s) = parse_sending(rest) {
                    return (ev(EventKind::Sending(Box::new(s))), TracebackOnly);
                }
            } else if let Some(rest) = msg.strip_prefix(b"Response received to retry, sleeping for ") {
                if let Some(d) = leading_f64(rest) {
                    return (ev(EventKind::Sleeping { delay_s: d }), TracebackOnly);
                }
            } else if let Some(rest) = msg.strip_prefix(b"Making request for OperationModel(name=") {
                let end = memchr::memchr(b')', rest).unwrap_or(0);
                let operation = lossy(&rest[..end]);
                return (ev(EventKind::MakingRequest { operation }), TracebackOnly);
            } else if msg.starts_with(b"Setting ") {
                if let Some(i) = memmem::find(msg, b" timeout as (") {
                    let inner = &msg[i + 13..];
                    let end = memchr::memchr(b')', inner).unwrap_or(inner.len());
                    let mut parts = inner[..end].split(|&c| c == b',');
                    if let (Some(c), Some(r)) = (parts.next(), parts.next())
                        && let (Some(connect_s), Some(read_s)) = (leading_f64(trim(c)), leading_f64(trim(r)))
                    {
                        return (ev(EventKind::TimeoutSetting { connect_s, read_s }), TracebackOnly);
                    }
                }
            } else if msg.starts_with(b"Exception received when sending") {
                return (Message::Noise, Any);
            }
            (Message::Noise, TracebackOnly)
        }
        Some(Logger::ConnectionPool) => {
            if let Some(rest) = msg.strip_prefix(b"Starting new HTTP") {
                let rest = rest.strip_prefix(b"S").unwrap_or(rest);
                if let Some(rest) = rest.strip_prefix(b" connection (") {
                    let close = memchr::memchr(b')', rest).unwrap_or(0);
                    if let Ok(number) = std::str::from_utf8(&rest[..close]).unwrap_or("").parse() {
                        let host = lossy(trim(rest.get(close + 2..).unwrap_or(b"")));
                        return (ev(EventKind::NewConnection { number, host }), TracebackOnly);
                    }
                }
            } else if let Some(rest) = msg.strip_prefix(b"Resetting dropped connection: ") {
                let host = lossy(trim(rest));
                return (ev(EventKind::ResetDropped { host }), TracebackOnly);
            } else if msg.starts_with(b"Connection pool is full") {
                return (ev(EventKind::PoolFull), TracebackOnly);
            } else if let Some(r) = parse_response_line(msg) {
                return (ev(r), TracebackOnly);
            }
            (Message::Noise, TracebackOnly)
        }
        Some(Logger::RetryHandler) => {
            if let Some(rest) = msg.strip_prefix(b"retry needed: retryable HTTP status code received: ") {
                let cause = leading_u16(rest).map(RetryCause::Status);
                return (ev(EventKind::RetryNeeded { cause }), TracebackOnly);
            }
            if let Some(rest) = msg.strip_prefix(b"retry needed: matching HTTP status and error code seen: ") {
                let mut parts = rest.splitn(2, |&c| c == b',');
                let status = parts.next().and_then(|s| leading_u16(trim(s)));
                let code = parts.next().map(|c| lossy(trim(c)));
                let cause = match (status, code) {
                    (Some(s), Some(c)) => Some(RetryCause::StatusAndCode(s, c)),
                    (Some(s), None) => Some(RetryCause::Status(s)),
                    _ => None,
                };
                return (ev(EventKind::RetryNeeded { cause }), TracebackOnly);
            }
            if let Some(rest) = msg.strip_prefix(b"retry needed, retryable exception caught: ") {
                let cause = Some(RetryCause::Exception(transport_error(rest)));
                return (ev(EventKind::RetryNeeded { cause }), Any);
            }
            if let Some(rest) = msg.strip_prefix(b"Retry needed, action of: ")
                && let Some(delay_s) = leading_f64(rest)
            {
                return (ev(EventKind::RetryDelay { delay_s }), TracebackOnly);
            }
            if msg.starts_with(b"No retry needed") {
                return (ev(EventKind::NoRetry { exhausted: false }), TracebackOnly);
            }
            if msg.starts_with(b"Reached the maximum number of retry attempts") {
                return (ev(EventKind::NoRetry { exhausted: true }), TracebackOnly);
            }
            (Message::Noise, TracebackOnly)
        }
        Some(Logger::RetriesStandard) => {
            if let Some(rest) = msg.strip_prefix(b"Retry needed, retrying request after delay of: ")
                && let Some(delay_s) = leading_f64(rest)
            {
                return (ev(EventKind::RetryDelay { delay_s }), TracebackOnly);
            }
            if msg.starts_with(b"Not retrying request") {
                return (ev(EventKind::NoRetry { exhausted: false }), TracebackOnly);
            }
            if msg.starts_with(b"Retry needed but retry quota reached") {
                return (ev(EventKind::NoRetry { exhausted: true }), TracebackOnly);
            }
            if msg.starts_with(b"Max attempts of ") {
                return (ev(EventKind::MaxAttemptsReached), TracebackOnly);
            }
            (Message::Noise, TracebackOnly)
        }
        Some(Logger::RetriesAdaptive) => {
            if msg.starts_with(b"Throttling response received") {
                return (ev(EventKind::AdaptiveThrottle), TracebackOnly);
            }
            (Message::Noise, TracebackOnly)
        }
        Some(Logger::Parsers) => {
            if let Some(rest) = msg.strip_prefix(b"Response headers: ") {
                let request_id = dict_value(rest, b"x-amzn-RequestId")
                    .or_else(|| dict_value(rest, b"x-amzn-requestid"))
                    .or_else(|| dict_value(rest, b"x-amz-request-id"));
                let error_type = dict_value(rest, b"x-amzn-ErrorType").map(|v| error_code(&v));
                return (ev(EventKind::ResponseHeaders { request_id, error_type }), TracebackOnly);
            }
            // `Response body:` and its repr follow on the next line(s).
            (Message::Noise, Any)
        }
        Some(Logger::HttpSession) | Some(Logger::Auth) | Some(Logger::Response) => (Message::Noise, Any),
        None => (Message::Noise, TracebackOnly),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Logger {
    Endpoint,
    ConnectionPool,
    RetryHandler,
    RetriesStandard,
    RetriesAdaptive,
    Parsers,
    HttpSession,
    Auth,
    Response,
}

fn logger_suffix(logger: &[u8]) -> Option<Logger> {
    Some(match logger {
        b"botocore.endpoint" => Logger::Endpoint,
        b"botocore.retryhandler" => Logger::RetryHandler,
        b"botocore.retries.standard" => Logger::RetriesStandard,
        b"botocore.retries.adaptive" => Logger::RetriesAdaptive,
        b"botocore.parsers" => Logger::Parsers,
        b"botocore.httpsession" => Logger::HttpSession,
        b"botocore.auth" => Logger::Auth,
        b"botocore.response" => Logger::Response,
        // urllib3 itself, or the copy vendored in old botocore/requests.
        l if l.ends_with(b"urllib3.connectionpool") => Logger::ConnectionPool,
        _ => return None,
    })
}

/// Searchers for the fixed keys of `Sending http request` lines, built once.
struct SendingKeys {
    url: memmem::Finder<'static>,
    headers: memmem::Finder<'static>,
    invocation: memmem::Finder<'static>,
    sdk_request: memmem::Finder<'static>,
    retry_mode: memmem::Finder<'static>,
    botocore: memmem::Finder<'static>,
}

static KEYS: std::sync::LazyLock<SendingKeys> = std::sync::LazyLock::new(|| SendingKeys {
    url: memmem::Finder::new(b"url="),
    headers: memmem::Finder::new(b", headers="),
    invocation: memmem::Finder::new(b"'amz-sdk-invocation-id': b'"),
    sdk_request: memmem::Finder::new(b"'amz-sdk-request': b'"),
    retry_mode: memmem::Finder::new(b"cfg/retry-mode#"),
    botocore: memmem::Finder::new(b"Botocore/"),
});

/// The bytes after `key` up to `end` (or to the end of `hay`).
fn after<'a>(hay: &'a [u8], key: &memmem::Finder<'_>, end: impl Fn(&[u8]) -> Option<usize>) -> Option<&'a [u8]> {
    let rest = &hay[key.find(hay)? + key.needle().len()..];
    Some(&rest[..end(rest).unwrap_or(rest.len())])
}

fn parse_sending(rest: &[u8]) -> Option<SendingRequest> {
    let k = &*KEYS;
    let url = after(rest, &k.url, |r| k.headers.find(r))?;
    let (host, path) = split_url(url);
    let model_raw = path.strip_prefix(b"/model/").map(|p| {
        let end = memchr::memrchr(b'/', p).unwrap_or(p.len());
        &p[..end]
    });
    let operation = path.strip_prefix(b"/model/").and_then(|p| {
        let i = memchr::memrchr(b'/', p)?;
        Some(lossy(&p[i + 1..]))
    });
    let model_id = model_raw.map(|m| percent_decode(m).decode_utf8_lossy().into_owned());
    let quote = |r: &[u8]| memchr::memchr(b'\'', r);
    let invocation_id = after(rest, &k.invocation, quote).map(lossy);
    let sdk_request = after(rest, &k.sdk_request, quote).map(lossy).unwrap_or_default();
    let attempt = kv_u32(&sdk_request, "attempt=");
    let max_attempts = kv_u32(&sdk_request, "max=");
    let token_end = |r: &[u8]| r.iter().position(|c| matches!(c, b' ' | b'\'' | b','));
    let retry_mode = after(rest, &k.retry_mode, token_end).map(lossy);
    let botocore_version = after(rest, &k.botocore, token_end).map(lossy);
    Some(SendingRequest {
        invocation_id,
        attempt,
        max_attempts,
        host: lossy(host),
        path: lossy(path),
        model_id,
        operation,
        retry_mode,
        botocore_version,
        streaming: rest.starts_with(b"<AWSPreparedRequest stream_output=True"),
    })
}

/// `http://127.0.0.1:18101 "POST /model/x/converse HTTP/1.1" 200 260`
fn parse_response_line(msg: &[u8]) -> Option<EventKind> {
    let q1 = memchr::memchr(b'"', msg)?;
    let q2 = q1 + 1 + memchr::memchr(b'"', &msg[q1 + 1..])?;
    let origin = trim(&msg[..q1]);
    let host = origin.split(|&c| c == b'/').next_back().unwrap_or(origin);
    let request = &msg[q1 + 1..q2];
    let mut parts = request.split(|&c| c == b' ');
    let _method = parts.next()?;
    let path = parts.next()?;
    let status = leading_u16(trim(&msg[q2 + 1..]))?;
    Some(EventKind::HttpResponse { status, host: lossy(host), path: lossy(path) })
}

fn transport_error(text: &[u8]) -> TransportError {
    if text.starts_with(b"Read timeout") || memmem::find(text, b"Read timed out").is_some() {
        TransportError::ReadTimeout
    } else if text.starts_with(b"Connect timeout") {
        TransportError::ConnectTimeout
    } else if text.starts_with(b"Connection was closed") {
        TransportError::ConnectionClosed
    } else if text.starts_with(b"Could not connect") {
        TransportError::EndpointConnection
    } else {
        TransportError::Other
    }
}

/// `ThrottlingException:http://internal.amazon.com/...` → `ThrottlingException`
/// (botocore's own reduction: split at `:`, keep the part after the last `#`).
fn error_code(v: &str) -> String {
    let head = v.split(':').next().unwrap_or(v);
    head.rsplit('#').next().unwrap_or(head).to_string()
}

fn split_url(url: &[u8]) -> (&[u8], &[u8]) {
    let after_scheme = memmem::find(url, b"://").map(|i| &url[i + 3..]).unwrap_or(url);
    match memchr::memchr(b'/', after_scheme) {
        Some(i) => (&after_scheme[..i], &after_scheme[i..]),
        None => (after_scheme, b"/"),
    }
}

/// The value of `'key': 'value'` in a Python dict repr.
fn dict_value(hay: &[u8], key: &[u8]) -> Option<String> {
    let i = memmem::find(hay, key)?;
    let rest = &hay[i + key.len()..];
    let rest = rest.strip_prefix(b"': '")?;
    let j = memchr::memchr(b'\'', rest)?;
    Some(lossy(&rest[..j]))
}

fn kv_u32(s: &str, key: &str) -> Option<u32> {
    let i = s.find(key)? + key.len();
    let digits: String = s[i..].chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

fn trim(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

fn leading_f64(b: &[u8]) -> Option<f64> {
    let end = b
        .iter()
        .position(|c| !(c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'-' | b'+')))
        .unwrap_or(b.len());
    std::str::from_utf8(&b[..end]).ok()?.parse().ok()
}

fn leading_u16(b: &[u8]) -> Option<u16> {
    let end = b.iter().position(|c| !c.is_ascii_digit()).unwrap_or(b.len());
    std::str::from_utf8(&b[..end]).ok()?.parse().ok()
}

/// Bytes to a String: the validating fast path, lossy only when needed.
fn lossy(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(b).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sending_line_with_percent_encoded_arn() {
        let msg = b"Sending http request: <AWSPreparedRequest stream_output=False, method=POST, url=https://bedrock-runtime.us-east-2.amazonaws.com/model/arn%3Aaws%3Abedrock%3Aus-east-2%3A070797854596%3Ainference-profile%2Fus.meta.llama3-3-70b-instruct-v1%3A0/converse, headers={'User-Agent': b'Boto3/1.42.10 md/Botocore#1.42.10 cfg/retry-mode#legacy Botocore/1.42.10', 'amz-sdk-invocation-id': b'abc-1', 'amz-sdk-request': b'ttl=20261121T210023Z; attempt=2; max=5'}>";
        let (m, _) = parse_message(b"botocore.endpoint", msg);
        let Message::Event(EventKind::Sending(s)) = m else { panic!("{m:?}") };
        assert_eq!(
            s.model_id.as_deref(),
            Some("arn:aws:bedrock:us-east-2:070797854596:inference-profile/us.meta.llama3-3-70b-instruct-v1:0")
        );
        assert_eq!(s.operation.as_deref(), Some("converse"));
        assert_eq!((s.attempt, s.max_attempts), (Some(2), Some(5)));
        assert_eq!(s.retry_mode.as_deref(), Some("legacy"));
        assert_eq!(s.botocore_version.as_deref(), Some("1.42.10"));
        assert_eq!(s.host, "bedrock-runtime.us-east-2.amazonaws.com");
    }

    #[test]
    fn urllib3_lines() {
        let (m, _) = parse_message(
            b"urllib3.connectionpool",
            b"https://bedrock-runtime.us-east-2.amazonaws.com:443 \"POST /model/x/converse HTTP/1.1\" 429 64",
        );
        assert!(matches!(m, Message::Event(EventKind::HttpResponse { status: 429, .. })));
        let (m, _) = parse_message(
            b"botocore.vendored.requests.packages.urllib3.connectionpool",
            b"Starting new HTTPS connection (12): h.example.com:443",
        );
        assert_eq!(m, Message::Event(EventKind::NewConnection { number: 12, host: "h.example.com:443".into() }));
    }

    #[test]
    fn response_headers_keep_ids_only() {
        let (m, _) = parse_message(
            b"botocore.parsers",
            b"Response headers: {'Date': 'x', 'x-amzn-RequestId': 'rid-1', 'x-amzn-ErrorType': 'ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/'}",
        );
        assert_eq!(
            m,
            Message::Event(EventKind::ResponseHeaders {
                request_id: Some("rid-1".into()),
                error_type: Some("ThrottlingException".into())
            })
        );
    }
}
