//! `bfx timeline`: the story of one SDK call or one agent turn, as a text
//! waterfall that fits an 80-column terminal, as Markdown for a postmortem,
//! or as JSON.
//!
//! A call is found by its `amz-sdk-invocation-id` or by any attempt's
//! `x-amzn-RequestId`; its tokens and dollars come from usage records joined
//! on that request id (never on time). A turn is found by its key.

use std::fmt::Write as _;

use serde::Serialize;

use crate::analyze::Analysis;
use crate::event::TransportError;
use crate::prices::usd;
use crate::timeline::{Call, Connection, Outcome};
use crate::usage::cost::{Tokens, price_tokens, resolve};

/// Width of the time axis, in characters.
const AXIS: usize = 40;

/// One attempt on the time axis.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptView {
    /// Attempt number.
    pub number: u32,
    /// Connection, in words (`new #3`, `reused #2`).
    pub connection: String,
    /// Pool idle seconds before it.
    pub idle_gap_s: Option<f64>,
    /// Seconds from the call's start.
    pub start_s: Option<f64>,
    /// Seconds it lasted (the wait).
    pub duration_s: Option<f64>,
    /// Outcome in words.
    pub outcome: String,
    /// Backoff slept after it.
    pub retry_sleep_s: Option<f64>,
    /// Request id.
    pub request_id: Option<String>,
    /// `file:line` of its start.
    pub at: String,
}

/// Tokens and dollars joined from usage records by request id.
#[derive(Debug, Clone, Serialize)]
pub struct CallUsage {
    /// Request id joined on.
    pub request_id: String,
    /// Tokens (input is uncached input).
    pub tokens: Tokens,
    /// Dollars, when the model is priced.
    pub usd: Option<f64>,
}

/// One call's waterfall.
#[derive(Debug, Clone, Serialize)]
pub struct CallView {
    /// Source file.
    pub source: String,
    /// `amz-sdk-invocation-id`.
    pub invocation_id: String,
    /// Operation.
    pub operation: Option<String>,
    /// Model id.
    pub model_id: Option<String>,
    /// Thread.
    pub thread: Option<String>,
    /// Retry mode.
    pub retry_mode: Option<String>,
    /// read_timeout (s).
    pub read_timeout_s: f64,
    /// Latency the caller saw (s).
    pub latency_s: Option<f64>,
    /// Attempts.
    pub attempts: Vec<AttemptView>,
    /// Usage joined by request id.
    pub usage: Option<CallUsage>,
}

/// One hop of a turn.
#[derive(Debug, Clone, Serialize)]
pub struct TurnCallView {
    /// Seconds from the turn's first call.
    pub start_s: f64,
    /// Model.
    pub model: String,
    /// Region.
    pub region: String,
    /// Outcome.
    pub outcome: String,
    /// Agent backoff before it.
    pub backoff_s: f64,
    /// Latency, ms.
    pub latency_ms: Option<f64>,
    /// Position in the fallback chain (0 = first model).
    pub hop: u32,
    /// `file:line`.
    pub at: String,
}

/// One turn's waterfall.
#[derive(Debug, Clone, Serialize)]
pub struct TurnView {
    /// Turn key.
    pub key: String,
    /// How the key was found.
    pub key_kind: String,
    /// Stream.
    pub stream: String,
    /// Whether the turn's last call succeeded.
    pub succeeded: bool,
    /// Model calls in order.
    pub calls: Vec<TurnCallView>,
    /// Fallback hops, in order.
    pub hops: Vec<HopView>,
}

/// One fallback hop.
#[derive(Debug, Clone, Serialize)]
pub struct HopView {
    /// Model hopped away from.
    pub from: String,
    /// Model hopped to.
    pub to: String,
    /// Why.
    pub reason: String,
}

fn conn_words(c: &Connection) -> String {
    let s = serde_json::to_value(c).unwrap_or_default();
    let kind = s.get("kind").and_then(|k| k.as_str()).unwrap_or("unknown").replace('_', " ");
    match s.get("number").and_then(|n| n.as_u64()) {
        Some(n) => format!("{kind} #{n}"),
        None => kind,
    }
}

fn outcome_words(o: &Outcome) -> String {
    match o {
        Outcome::Success { status } => format!("{status} OK"),
        Outcome::Throttled { status, code } => format!("{status} {}", code.as_deref().unwrap_or("throttled")),
        Outcome::ServerError { status, code } => format!("{status} {}", code.as_deref().unwrap_or("server error")),
        Outcome::ClientError { status, code } => format!("{status} {}", code.as_deref().unwrap_or("client error")),
        Outcome::Transport { error, inferred } => {
            let e = match error {
                TransportError::ReadTimeout => "read timeout",
                TransportError::ConnectTimeout => "connect timeout",
                TransportError::ConnectionClosed => "connection closed",
                TransportError::EndpointConnection => "endpoint connection error",
                TransportError::Other => "transport error",
            };
            if *inferred { format!("{e} (inferred)") } else { e.to_string() }
        }
        Outcome::NoResponse => "no response".into(),
        Outcome::Unfinished => "unfinished".into(),
    }
}

/// Finds a call by invocation id or request id.
pub fn find_call<'a>(a: &'a Analysis, id: &str) -> Option<&'a Call> {
    a.calls.iter().find(|c| c.invocation_id == id || c.attempts.iter().any(|t| t.request_id.as_deref() == Some(id)))
}

/// Builds a call's view.
pub fn call_view(a: &Analysis, c: &Call) -> CallView {
    let t0 = c.attempts.first().and_then(|t| t.start_ms);
    let attempts = c
        .attempts
        .iter()
        .map(|t| AttemptView {
            number: t.number,
            connection: conn_words(&t.connection),
            idle_gap_s: t.idle_gap_ms.map(|g| g as f64 / 1000.0),
            start_s: t.start_ms.zip(t0).map(|(s, z)| (s - z) as f64 / 1000.0),
            duration_s: t.duration_s(),
            outcome: outcome_words(&t.outcome),
            retry_sleep_s: t.retry_delay_s,
            request_id: t.request_id.clone(),
            at: format!("{}:{}", a.sources[t.start_line.source].report.name, t.start_line.line),
        })
        .collect();
    let usage = c.attempts.iter().rev().filter_map(|t| t.request_id.as_deref()).find_map(|rid| {
        let r = a.usage_records.iter().find(|u| u.request_id.as_deref() == Some(rid))?;
        let tokens = Tokens::of(r);
        let usd =
            a.prices.as_ref().and_then(|p| resolve(&r.model, p).row.map(|row| usd(price_tokens(&tokens, row).total())));
        Some(CallUsage { request_id: rid.to_string(), tokens, usd })
    });
    CallView {
        source: a.sources[c.source].report.name.clone(),
        invocation_id: c.invocation_id.clone(),
        operation: c.operation.clone(),
        model_id: c.model_id.clone(),
        thread: c.thread.clone(),
        retry_mode: c.retry_mode.clone(),
        read_timeout_s: c.read_timeout_s,
        latency_s: c.latency_ms().map(|l| l as f64 / 1000.0),
        attempts,
        usage,
    }
}

/// Finds a turn by key and builds its view.
pub fn turn_view(a: &Analysis, key: &str) -> Option<TurnView> {
    let (i, t) = a.turns.iter().enumerate().find(|(_, t)| t.key == key)?;
    let calls: Vec<&crate::agent::turns::AgentCall> = a.agent_calls.iter().filter(|c| c.turn == i).collect();
    let t0 = calls.iter().map(|c| c.ts_ms).min().unwrap_or(0);
    Some(TurnView {
        key: t.key.clone(),
        key_kind: format!("{:?}", t.key_kind),
        stream: t.stream.clone(),
        succeeded: t.succeeded,
        calls: calls
            .iter()
            .map(|c| TurnCallView {
                start_s: (c.ts_ms - t0) as f64 / 1000.0,
                model: c.model.clone(),
                region: c.region.clone(),
                outcome: outcome_of_call(&c.outcome),
                backoff_s: c.backoff_s,
                latency_ms: c.latency_ms,
                hop: c.hop,
                at: format!("{}:{}", a.sources[c.loc.source].report.name, c.loc.line),
            })
            .collect(),
        hops: t
            .hops
            .iter()
            .map(|h| HopView { from: h.from.clone(), to: h.to.clone(), reason: h.reason.clone() })
            .collect(),
    })
}

fn bar(start: f64, dur: f64, total: f64) -> String {
    let total = total.max(1e-9);
    let a = ((start / total) * AXIS as f64).round() as usize;
    let b = (((start + dur) / total) * AXIS as f64).round() as usize;
    let a = a.min(AXIS - 1);
    let b = b.max(a + 1).min(AXIS);
    let mut s = String::with_capacity(AXIS + 2);
    for i in 0..AXIS {
        s.push(if i >= a && i < b { '█' } else { '·' });
    }
    s
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { s.chars().take(n - 1).collect::<String>() + "…" }
}

fn opt(v: Option<f64>, unit: &str) -> String {
    v.map(|x| format!("{x:.3}{unit}")).unwrap_or_else(|| "-".into())
}

/// The call as text, at most 80 columns wide.
pub fn call_text(v: &CallView) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "call {}", v.invocation_id);
    let _ =
        writeln!(o, "  {} {}", v.operation.as_deref().unwrap_or("?"), short(v.model_id.as_deref().unwrap_or("?"), 60));
    let _ = writeln!(o, "  source {}", short(&v.source, 70));
    let _ = writeln!(
        o,
        "  thread {} · retry mode {} · read_timeout {:.0} s",
        short(v.thread.as_deref().unwrap_or("-"), 24),
        v.retry_mode.as_deref().unwrap_or("?"),
        v.read_timeout_s
    );
    let total = v.attempts.iter().filter_map(|t| Some(t.start_s? + t.duration_s.unwrap_or(0.0))).fold(0.0, f64::max);
    let _ = writeln!(o, "  latency the caller saw: {}", opt(v.latency_s, " s"));
    let _ = writeln!(o, "  #  start     |{:<w$}| wait", format!("0 … {total:.1} s"), w = AXIS);
    for t in &v.attempts {
        let start = t.start_s.unwrap_or(0.0);
        let _ = writeln!(
            o,
            "  {:<2} +{:<8} |{}| {}",
            t.number,
            format!("{start:.3}"),
            bar(start, t.duration_s.unwrap_or(0.0), total),
            opt(t.duration_s, " s")
        );
        let idle = t.idle_gap_s.map(|g| format!(", idle {g:.1} s")).unwrap_or_default();
        let _ = writeln!(o, "     {}{} → {}", t.connection, idle, short(&t.outcome, 40));
        if let Some(s) = t.retry_sleep_s {
            let _ = writeln!(o, "     retry sleep {s:.3} s");
        }
        if let Some(r) = &t.request_id {
            let _ = writeln!(o, "     request {r}");
        }
        let _ = writeln!(o, "     at {}", short(&t.at, 72));
    }
    match &v.usage {
        Some(u) => {
            let _ = writeln!(
                o,
                "  tokens: input {} · output {} · cache read {} · cache write {}{}",
                u.tokens.input,
                u.tokens.output,
                u.tokens.cache_read,
                u.tokens.cache_write_5m + u.tokens.cache_write_1h,
                u.usd.map(|d| format!(" · ${d:.6}")).unwrap_or_else(|| " · unpriced".into())
            );
        }
        None => o.push_str("  tokens: no usage record shares this call's request id\n"),
    }
    o
}

/// The turn as text, at most 80 columns wide.
pub fn turn_text(v: &TurnView) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "turn {} (by {})", short(&v.key, 60), v.key_kind);
    let _ = writeln!(o, "  stream {}", short(&v.stream, 70));
    let _ = writeln!(o, "  {} model calls · {}", v.calls.len(), if v.succeeded { "succeeded" } else { "failed" });
    let total = v.calls.iter().map(|c| c.start_s + c.latency_ms.unwrap_or(0.0) / 1000.0).fold(0.0, f64::max);
    let _ = writeln!(o, "  hop start     |{:<w$}| outcome", format!("0 … {total:.1} s"), w = AXIS);
    for c in &v.calls {
        let _ = writeln!(
            o,
            "  {:<3} +{:<8} |{}| {}",
            c.hop,
            format!("{:.3}", c.start_s),
            bar(c.start_s, c.latency_ms.unwrap_or(0.0) / 1000.0, total),
            short(&c.outcome, 14)
        );
        let backoff = if c.backoff_s > 0.0 { format!(" · backoff {:.1} s", c.backoff_s) } else { String::new() };
        let _ = writeln!(o, "      {}{}", short(&c.model, 60), backoff);
    }
    for (i, h) in v.hops.iter().enumerate() {
        let _ = writeln!(o, "  hop {} → {} ({})", i, i + 1, short(&h.reason, 56));
        let _ = writeln!(o, "      from {}", short(&h.from, 68));
        let _ = writeln!(o, "      to   {}", short(&h.to, 68));
    }
    // Agent records name the turn, not the Bedrock request ids that usage
    // records are keyed by; bfx joins on ids only, never on time.
    o.push_str("  tokens: agent records carry no Bedrock request ids to join usage on\n");
    o
}

/// Markdown: the text waterfall in a code block, then a table.
pub fn call_markdown(v: &CallView) -> String {
    let mut o = format!("### Call `{}`\n\n```text\n{}```\n\n", v.invocation_id, call_text(v));
    o.push_str("| # | start (s) | wait (s) | connection | idle (s) | outcome | retry sleep (s) | evidence |\n|---|---|---|---|---|---|---|---|\n");
    for t in &v.attempts {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | `{}` |",
            t.number,
            opt(t.start_s, ""),
            opt(t.duration_s, ""),
            t.connection,
            t.idle_gap_s.map(|g| format!("{g:.1}")).unwrap_or_else(|| "-".into()),
            t.outcome,
            opt(t.retry_sleep_s, ""),
            t.at
        );
    }
    o
}

/// Markdown for a turn.
pub fn turn_markdown(v: &TurnView) -> String {
    let mut o = format!("### Turn `{}`\n\n```text\n{}```\n\n", v.key, turn_text(v));
    o.push_str("| hop | start (s) | model | outcome | backoff (s) | latency (ms) | evidence |\n|---|---|---|---|---|---|---|\n");
    for c in &v.calls {
        let _ = writeln!(
            o,
            "| {} | {:.3} | `{}` | {} | {:.1} | {} | `{}` |",
            c.hop,
            c.start_s,
            c.model,
            c.outcome,
            c.backoff_s,
            c.latency_ms.map(|l| format!("{l:.0}")).unwrap_or_else(|| "-".into()),
            c.at
        );
    }
    o
}

fn outcome_of_call(o: &crate::agent::CallOutcome) -> String {
    match serde_json::to_value(o) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(v) => v.to_string(),
        Err(_) => "?".into(),
    }
}
