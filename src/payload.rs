//! Payload routing: what the message inside a container event is.
//!
//! A botocore/urllib3 DEBUG record goes to the botocore parser (the
//! container's stream becomes the thread key); a Bedrock model-invocation
//! record, a Strands Agents line, a JSON application log or a Python line
//! naming a Bedrock exception is recognised and counted; anything else is
//! unrecognized, and counted per stream.

use serde::Serialize;

use crate::agent::{self, AgentKind, FieldMap, TurnKeyKind};
use crate::event::EventKind;
use crate::format::botocore::{self, Message};
use crate::format::prefix::LineFormat;
use crate::usage::{self, UsageRecord};

/// What a container message holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadKind {
    /// A botocore/urllib3 record bfx uses.
    BotocoreEvent,
    /// A botocore/urllib3/boto3 record bfx does not need.
    BotocoreNoise,
    /// A Bedrock `ModelInvocationLog` record (analyzed by the usage report).
    InvocationLog,
    /// Another usage record: a Converse usage block, an Anthropic InvokeModel
    /// body, `amazon-bedrock-invocationMetrics`, or an OpenTelemetry GenAI span.
    UsageRecord,
    /// A Bedrock request body from a large-payload (`data/`) object: no usage, ignored.
    RequestBody,
    /// A Strands Agents log record (`strands.*` logger).
    Strands,
    /// A JSON application log line.
    AppJson,
    /// A Python log line naming a Bedrock exception (throttling, timeouts, ...).
    BedrockError,
    /// Another Python logging record.
    OtherLogRecord,
    /// Lambda platform lines (`START`, `END`, `REPORT`, `INIT_START`).
    LambdaPlatform,
    /// Nothing bfx recognises.
    Unrecognized,
}

/// An agent-level record kind with its turn key, if the record has one.
pub type AgentPart = (AgentKind, Option<(TurnKeyKind, String)>);

/// A routed message: its kind and, for botocore records, the event.
#[derive(Debug, Clone, PartialEq)]
pub struct Routed {
    /// The payload kind.
    pub kind: PayloadKind,
    /// The botocore event, with the record's thread name if it has one.
    /// (Boxed, like `agent` and `usage`: most messages carry at most one of
    /// them, and routed batches are moved around whole.)
    pub event: Option<Box<(EventKind, Option<String>)>>,
    /// What an agent log record says about model calls, turns and hops.
    pub agent: Option<Box<AgentPart>>,
    /// Token usage the message carries.
    pub usage: Option<Box<UsageRecord>>,
}

impl Routed {
    fn kind(kind: PayloadKind) -> Routed {
        Routed { kind, event: None, agent: None, usage: None }
    }
}

const INVOCATION_LOG_MARK: &[u8] = b"\"ModelInvocationLog\"";
static INVOCATION_LOG: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(INVOCATION_LOG_MARK));
static INVOCATION_LOG_REV: std::sync::LazyLock<memchr::memmem::FinderRev<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::FinderRev::new(INVOCATION_LOG_MARK));

/// Whether a JSON record mentions `"ModelInvocationLog"`, the value of an
/// invocation-log record's `schemaType` (the parser then checks the key).
/// Bedrock writes `schemaType` first or last (2026 records put it last),
/// so both ends are looked at before the whole record.
fn mentions_invocation_log(record: &[u8]) -> bool {
    const END: usize = 128;
    if record.len() <= 2 * END {
        return INVOCATION_LOG.find(record).is_some();
    }
    INVOCATION_LOG.find(&record[..END]).is_some()
        || INVOCATION_LOG_REV.rfind(&record[record.len() - END..]).is_some()
        || INVOCATION_LOG.find(record).is_some()
}

/// A Converse or Anthropic request body (`messages` plus request fields),
/// as Bedrock writes to large-payload `data/` objects.
fn is_request_body(doc: &serde_json::Value) -> bool {
    doc.get("messages").is_some_and(|m| m.is_array())
        && ["system", "inferenceConfig", "anthropic_version", "toolConfig", "max_tokens"]
            .iter()
            .any(|k| doc.get(k).is_some())
}

/// Classifies one message. `formats` are the line formats to try for Python
/// logging records (the built-ins, or the user's `--log-format`).
pub fn route(message: &str, formats: &[LineFormat], fields: &FieldMap) -> Routed {
    let trimmed = message.trim_start();
    if trimmed.starts_with('{') {
        if mentions_invocation_log(trimmed.as_bytes()) {
            match usage::parse::invocation_log(trimmed) {
                Ok(Some(u)) => {
                    return Routed { usage: Some(Box::new(u)), ..Routed::kind(PayloadKind::InvocationLog) };
                }
                // Another JSON record that only mentions the name: read below.
                Ok(None) => {}
                Err(_) => return Routed::kind(PayloadKind::Unrecognized),
            }
        }
        return match serde_json::from_str::<serde_json::Value>(trimmed.trim_end()) {
            Ok(doc) => {
                let agent = agent::parse_json(&doc, fields).map(Box::new);
                let usage = usage::parse::from_json(&doc, fields).map(Box::new);
                let strands = doc.get("logger").and_then(|l| l.as_str()).is_some_and(|l| l.starts_with("strands"));
                let kind = if strands {
                    PayloadKind::Strands
                } else if usage.is_some() {
                    PayloadKind::UsageRecord
                } else if is_request_body(&doc) {
                    PayloadKind::RequestBody
                } else {
                    PayloadKind::AppJson
                };
                Routed { kind, event: None, agent, usage }
            }
            Err(_) => Routed::kind(PayloadKind::Unrecognized),
        };
    }
    // The first line, found only here: a JSON record is usually one long
    // line, and looking for its end would read all of it once more.
    // (SIMD memchr: std's split would scan long messages byte by byte.)
    let first = &message[..memchr::memchr(b'\n', message.as_bytes()).unwrap_or(message.len())];
    let bytes = first.as_bytes();
    for f in formats {
        if let Some(p) = f.split(bytes) {
            let logger = p.logger;
            let is_sdk = logger.starts_with(b"botocore")
                || logger.starts_with(b"boto3")
                || logger.ends_with(b"urllib3.connectionpool")
                || logger.starts_with(b"urllib3");
            if is_sdk {
                let (m, _) = botocore::parse_message(logger, p.message);
                return match m {
                    Message::Event(k) => Routed {
                        kind: PayloadKind::BotocoreEvent,
                        event: Some(Box::new((k, p.thread.map(|t| String::from_utf8_lossy(t).into_owned())))),
                        agent: None,
                        usage: None,
                    },
                    Message::Noise => {
                        Routed { kind: PayloadKind::BotocoreNoise, event: None, agent: None, usage: None }
                    }
                };
            }
            if logger.starts_with(b"strands") {
                let agent = agent::parse_strands(&String::from_utf8_lossy(p.message)).map(|k| Box::new((k, None)));
                return Routed { kind: PayloadKind::Strands, event: None, agent, usage: None };
            }
            if let Some(k) = agent::error_line(message) {
                return Routed {
                    kind: PayloadKind::BedrockError,
                    event: None,
                    agent: Some(Box::new((k, None))),
                    usage: None,
                };
            }
            return Routed { kind: PayloadKind::OtherLogRecord, event: None, agent: None, usage: None };
        }
    }
    if ["START RequestId:", "END RequestId:", "REPORT RequestId:", "INIT_START", "INIT_REPORT"]
        .iter()
        .any(|p| first.starts_with(p))
    {
        return Routed { kind: PayloadKind::LambdaPlatform, event: None, agent: None, usage: None };
    }
    if let Some(k) = agent::error_line(message) {
        return Routed { kind: PayloadKind::BedrockError, event: None, agent: Some(Box::new((k, None))), usage: None };
    }
    Routed { kind: PayloadKind::Unrecognized, event: None, agent: None, usage: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_each_kind() {
        let f = LineFormat::builtins().to_vec();
        let m = FieldMap::default();
        let r = route("DEBUG:urllib3.connectionpool:Starting new HTTPS connection (2): h:443", &f, &m);
        assert_eq!(r.kind, PayloadKind::BotocoreEvent);
        assert_eq!(route("DEBUG:botocore.hooks:Event x", &f, &m).kind, PayloadKind::BotocoreNoise);
        assert_eq!(
            route(r#"{"timestamp":"2024-11-20T16:47:52Z","schemaType":"ModelInvocationLog","requestId":"r"}"#, &f, &m)
                .kind,
            PayloadKind::InvocationLog
        );
        assert_eq!(route(r#"{"level":"INFO","message":"hi"}"#, &f, &m).kind, PayloadKind::AppJson);
        // The schema name must be the record's own `schemaType`, not a nested one.
        assert_eq!(
            route(r#"{"level":"INFO","wrapped":{"schemaType":"ModelInvocationLog","requestId":"r"}}"#, &f, &m).kind,
            PayloadKind::AppJson
        );
        assert_eq!(
            route("DEBUG:strands.event_loop._retry:retry_delay_seconds=<4>, max_attempts=<6>, current_attempt=<1> | ModelThrottledException encountered | delaying before next retry", &f, &m).kind,
            PayloadKind::Strands
        );
        assert_eq!(route("START RequestId: 8f5 Version: $LATEST", &f, &m).kind, PayloadKind::LambdaPlatform);
        assert_eq!(
            route("[ERROR] ThrottlingException: An error occurred (ThrottlingException) when calling the Converse operation", &f, &m).kind,
            PayloadKind::BedrockError
        );
        assert_eq!(route("[ERROR] First test message", &f, &m).kind, PayloadKind::Unrecognized);
    }
}
