//! Agent application logs: model calls, throttle retries and fallback hops
//! as agents print them (Strands Agents lines, JSON application logs,
//! plain-text Python lines naming Bedrock exceptions), normalized into
//! [`AgentRecord`]s. Only ids, model names, outcomes and timings are kept.

pub mod turns;

use serde::Serialize;
use serde_json::Value;

use crate::timeline::Loc;

/// How an agent-level model call ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// The model answered.
    Success,
    /// ThrottlingException / ModelThrottledException.
    Throttled,
    /// Any other error, by code.
    Failed(String),
}

/// What one agent log record says.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentKind {
    /// One model call with its result (a JSON application log record).
    ModelCall {
        /// Model id or profile, as logged.
        model: Option<String>,
        /// Region, where logged.
        region: Option<String>,
        /// How it ended.
        outcome: CallOutcome,
        /// Total latency, ms.
        latency_ms: Option<f64>,
        /// Time to first token, ms.
        ttft_ms: Option<f64>,
    },
    /// Strands: `retry_delay_seconds=<d>, max_attempts=<m>, current_attempt=<a> | X encountered | delaying before next retry`.
    StrandsRetry {
        /// Backoff before the next attempt (s).
        delay_s: f64,
        /// The attempt that failed.
        attempt: u32,
        /// The exception named (`ModelThrottledException`, or 1.0.0's `throttling exception`).
        exception: String,
    },
    /// Strands: `current_attempt=<a>, max_attempts=<m> | max retry attempts reached, not retrying`.
    StrandsGaveUp {
        /// The last attempt.
        attempt: u32,
    },
    /// Strands: `stop_reason=<r> | model call succeeded, resetting retry state`.
    StrandsSucceeded,
    /// The application moved a turn to another model.
    Fallback {
        /// From model.
        from: Option<String>,
        /// To model.
        to: Option<String>,
        /// Why, as logged.
        reason: Option<String>,
    },
    /// A plain-text Python line naming a Bedrock exception, with no model call record.
    ErrorLine {
        /// The exception name.
        code: String,
    },
}

/// Which id grouped records into turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnKeyKind {
    /// A turn id field.
    TurnId,
    /// An AgentCore / application request id (one invocation = one turn).
    RequestId,
    /// A trace id.
    TraceId,
    /// A session id (a session can span turns; used when nothing finer exists).
    SessionId,
    /// No id: the log stream, split where records pause longer than the turn gap.
    StreamProximity,
}

/// One agent record with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRecord {
    /// Log stream (with group).
    pub stream: String,
    /// Event time, UTC ms.
    pub ts_ms: i64,
    /// Evidence location.
    pub loc: Loc,
    /// Turn key, if the record carries one.
    pub turn: Option<(TurnKeyKind, String)>,
    /// What it says.
    pub kind: AgentKind,
}

/// JSON field names to look for, per meaning. `--field name=$.a.b` puts a
/// user path first.
#[derive(Debug, Clone)]
pub struct FieldMap {
    /// Model id.
    pub model: Vec<String>,
    /// Turn id.
    pub turn: Vec<String>,
    /// Request (invocation) id.
    pub request: Vec<String>,
    /// Trace id.
    pub trace: Vec<String>,
    /// Session id.
    pub session: Vec<String>,
    /// Latency, ms.
    pub latency: Vec<String>,
    /// Time to first token, ms.
    pub ttft: Vec<String>,
    /// Error type or code.
    pub error: Vec<String>,
    /// Outcome / status.
    pub outcome: Vec<String>,
    /// Region.
    pub region: Vec<String>,
    /// Fallback source model.
    pub from_model: Vec<String>,
    /// Fallback target model.
    pub to_model: Vec<String>,
    /// Fallback reason.
    pub reason: Vec<String>,
}

fn v(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

impl Default for FieldMap {
    fn default() -> Self {
        FieldMap {
            model: v(&["model_id", "modelId", "model", "gen_ai.request.model", "llm.model_id"]),
            turn: v(&["turn_id", "turnId", "turn"]),
            request: v(&["requestId", "request_id", "invocation_id"]),
            trace: v(&["trace_id", "traceId", "otelTraceID"]),
            session: v(&["session_id", "sessionId"]),
            latency: v(&["latency_ms", "latencyMs", "duration_ms", "total_latency_ms"]),
            ttft: v(&["ttft_ms", "time_to_first_token_ms", "ttftMs", "first_byte_ms"]),
            error: v(&["error_type", "errorType", "error_code", "errorCode", "exception", "error"]),
            outcome: v(&["outcome", "status", "result"]),
            region: v(&["region", "aws_region", "inferenceRegion"]),
            from_model: v(&["from_model", "fromModel", "previous_model"]),
            to_model: v(&["to_model", "toModel", "next_model", "fallback_model"]),
            reason: v(&["reason", "fallback_reason"]),
        }
    }
}

impl FieldMap {
    /// Applies one `name=$.path` option.
    pub fn set(&mut self, spec: &str) -> Result<(), String> {
        let (name, path) = spec.split_once('=').ok_or_else(|| format!("--field {spec:?}: expected name=$.path"))?;
        let path = path.trim().trim_start_matches('$').trim_start_matches('.').to_string();
        let slot = match name.trim() {
            "model" => &mut self.model,
            "turn" => &mut self.turn,
            "request" => &mut self.request,
            "trace" => &mut self.trace,
            "session" => &mut self.session,
            "latency" => &mut self.latency,
            "ttft" => &mut self.ttft,
            "error" => &mut self.error,
            "outcome" => &mut self.outcome,
            "region" => &mut self.region,
            "from_model" => &mut self.from_model,
            "to_model" => &mut self.to_model,
            "reason" => &mut self.reason,
            other => return Err(format!("--field: unknown name {other:?}")),
        };
        slot.insert(0, path);
        Ok(())
    }
}

/// Looks up a dotted path, trying it first as one literal key (OTel-style
/// `gen_ai.request.model`), then as nested objects.
fn get<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    if let Some(x) = doc.get(path) {
        return Some(x);
    }
    let mut cur = doc;
    for part in path.split('.') {
        cur = cur.get(part)?;
    }
    Some(cur)
}

pub(crate) fn first_str(doc: &Value, names: &[String]) -> Option<String> {
    names.iter().find_map(|n| match get(doc, n)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(x) => Some(x.to_string()),
        _ => None,
    })
}

pub(crate) fn first_f64(doc: &Value, names: &[String]) -> Option<f64> {
    names.iter().find_map(|n| match get(doc, n)? {
        Value::Number(x) => x.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    })
}

const THROTTLE_NAMES: [&str; 4] =
    ["ThrottlingException", "ModelThrottledException", "throttlingException", "TooManyRequestsException"];

fn outcome_of(error: Option<&str>, outcome: Option<&str>) -> Option<CallOutcome> {
    if let Some(e) = error {
        return Some(if THROTTLE_NAMES.iter().any(|t| e.contains(t)) {
            CallOutcome::Throttled
        } else {
            CallOutcome::Failed(e.to_string())
        });
    }
    match outcome?.to_ascii_lowercase().as_str() {
        "success" | "ok" | "succeeded" | "completed" => Some(CallOutcome::Success),
        "throttled" | "throttle" => Some(CallOutcome::Throttled),
        other => Some(CallOutcome::Failed(other.to_string())),
    }
}

/// Parses a Strands Agents message (1.62.0 and 1.0.0 format strings).
pub fn parse_strands(msg: &str) -> Option<AgentKind> {
    fn field(msg: &str, key: &str) -> Option<String> {
        let i = msg.find(key)? + key.len();
        let rest = &msg[i..];
        Some(rest[..rest.find('>')?].to_string())
    }
    if msg.contains("| delaying before next retry") {
        let delay_s = field(msg, "retry_delay_seconds=<")?.parse().ok()?;
        let attempt = field(msg, "current_attempt=<")?.parse().ok()?;
        let parts: Vec<&str> = msg.split(" | ").collect();
        let exception = parts.get(1).map(|p| p.trim_end_matches(" encountered").to_string()).unwrap_or_default();
        return Some(AgentKind::StrandsRetry { delay_s, attempt, exception });
    }
    if msg.contains("| max retry attempts reached, not retrying") {
        return Some(AgentKind::StrandsGaveUp { attempt: field(msg, "current_attempt=<")?.parse().ok()? });
    }
    if msg.contains("| model call succeeded, resetting retry state") {
        return Some(AgentKind::StrandsSucceeded);
    }
    None
}

/// Turns one JSON application record into an agent record kind and its turn key.
pub fn parse_json(doc: &Value, fields: &FieldMap) -> Option<(AgentKind, Option<(TurnKeyKind, String)>)> {
    let turn = first_str(doc, &fields.turn)
        .map(|t| (TurnKeyKind::TurnId, t))
        .or_else(|| first_str(doc, &fields.request).map(|t| (TurnKeyKind::RequestId, t)))
        .or_else(|| first_str(doc, &fields.trace).map(|t| (TurnKeyKind::TraceId, t)))
        .or_else(|| first_str(doc, &fields.session).map(|t| (TurnKeyKind::SessionId, t)));
    let logger = doc.get("logger").or_else(|| doc.get("name")).and_then(Value::as_str).unwrap_or("");
    let message = doc.get("message").or_else(|| doc.get("msg")).and_then(Value::as_str).unwrap_or("");
    if logger.starts_with("strands") {
        return parse_strands(message).map(|k| (k, turn));
    }
    let to = first_str(doc, &fields.to_model);
    if to.is_some() {
        let kind = AgentKind::Fallback {
            from: first_str(doc, &fields.from_model),
            to,
            reason: first_str(doc, &fields.reason).or_else(|| first_str(doc, &fields.error)),
        };
        return Some((kind, turn));
    }
    let model = first_str(doc, &fields.model);
    let error = first_str(doc, &fields.error);
    let outcome = first_str(doc, &fields.outcome);
    let latency_ms = first_f64(doc, &fields.latency);
    if model.is_some() && (error.is_some() || outcome.is_some() || latency_ms.is_some()) {
        let outcome = outcome_of(error.as_deref(), outcome.as_deref()).unwrap_or(CallOutcome::Success);
        let kind = AgentKind::ModelCall {
            model,
            region: first_str(doc, &fields.region),
            outcome,
            latency_ms,
            ttft_ms: first_f64(doc, &fields.ttft),
        };
        return Some((kind, turn));
    }
    None
}

/// The Bedrock exception a plain-text line names, if any.
pub fn error_line(msg: &str) -> Option<AgentKind> {
    const NAMES: [&str; 5] = [
        "ModelThrottledException",
        "ThrottlingException",
        "ServiceUnavailableException",
        "ModelTimeoutException",
        "ValidationException",
    ];
    NAMES.iter().find(|n| msg.contains(*n)).map(|n| AgentKind::ErrorLine { code: n.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strands_format_strings() {
        assert_eq!(
            parse_strands(
                "retry_delay_seconds=<4>, max_attempts=<6>, current_attempt=<1> | ModelThrottledException encountered | delaying before next retry"
            ),
            Some(AgentKind::StrandsRetry { delay_s: 4.0, attempt: 1, exception: "ModelThrottledException".into() })
        );
        assert_eq!(
            parse_strands(
                "retry_delay_seconds=<8>, max_attempts=<6>, current_attempt=<2> | throttling exception encountered | delaying before next retry"
            ),
            Some(AgentKind::StrandsRetry { delay_s: 8.0, attempt: 2, exception: "throttling exception".into() })
        );
        assert_eq!(
            parse_strands("current_attempt=<6>, max_attempts=<6> | max retry attempts reached, not retrying"),
            Some(AgentKind::StrandsGaveUp { attempt: 6 })
        );
        assert_eq!(
            parse_strands("stop_reason=<end_turn> | model call succeeded, resetting retry state"),
            Some(AgentKind::StrandsSucceeded)
        );
    }

    #[test]
    fn json_fields_and_user_mapping() {
        let doc: Value =
            serde_json::from_str(r#"{"ai":{"engine":"m1"},"turn_id":"t1","status":"ok","latency_ms":812}"#).unwrap();
        assert!(parse_json(&doc, &FieldMap::default()).is_none(), "model is nested under a custom path");
        let mut f = FieldMap::default();
        f.set("model=$.ai.engine").unwrap();
        let (k, turn) = parse_json(&doc, &f).unwrap();
        assert_eq!(turn, Some((TurnKeyKind::TurnId, "t1".into())));
        assert!(matches!(k, AgentKind::ModelCall { outcome: CallOutcome::Success, latency_ms: Some(812.0), .. }));
        assert!(f.set("nonsense").is_err());
    }
}
