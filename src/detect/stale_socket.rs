//! Stale-socket hangs: a pooled connection silently dropped by a middlebox
//! after sitting idle, the next call hanging until read_timeout, and botocore
//! retrying on a new connection.

use serde::Serialize;

use super::{Detector, DetectorInput, Evidence, Finding, FindingDetail, location, ms};
use crate::event::TransportError;
use crate::timeline::{Call, Connection, Outcome, median};

/// Flags an attempt that (1) ended in a read timeout lasting about the
/// client's read_timeout, (2) ran on a reused connection, (3) after an idle
/// gap of at least the threshold, and (4) was followed by a retry on a new
/// connection.
pub struct StaleSocketDetector;

/// The numbers and evidence of a stale-socket finding.
#[derive(Debug, Clone, Serialize)]
pub struct StaleSocketDetail {
    /// Calls with at least one stale-socket hang.
    pub calls_hit: usize,
    /// Seconds lost: from each hung attempt's send to its retry's send.
    pub seconds_lost: f64,
    /// The idle threshold used (s).
    pub idle_threshold_s: f64,
    /// Median caller latency of calls that succeeded on their first attempt (s).
    pub median_normal_latency_s: Option<f64>,
    /// How many calls that median is over.
    pub normal_calls: usize,
    /// Reused connections idle past the threshold that did not hang (a
    /// keepalive or a middlebox that did not drop them).
    pub long_idle_reuses_without_hang: usize,
    /// Read timeouts that do not meet every condition (new connection, short
    /// idle, no retry): slow model responses or other network trouble.
    pub other_read_timeouts: usize,
    /// Every hung call.
    pub calls: Vec<StaleSocketHit>,
}

/// One call hit by a stale socket.
#[derive(Debug, Clone, Serialize)]
pub struct StaleSocketHit {
    /// `amz-sdk-invocation-id`.
    pub invocation_id: String,
    /// `x-amzn-RequestId` of the call's final response.
    pub request_id: Option<String>,
    /// The request id was paired with this call by log order among
    /// concurrent calls (no thread name in the log), not by an id.
    pub request_id_by_log_order: bool,
    /// Model id or profile.
    pub model_id: Option<String>,
    /// Operation.
    pub operation: Option<String>,
    /// Thread name, where logged.
    pub thread: Option<String>,
    /// Attempt number that hung.
    pub attempt: u32,
    /// urllib3 connection number it hung on (pool model).
    pub connection: Option<u32>,
    /// How long that connection had been idle (s).
    pub idle_gap_s: f64,
    /// Send to timeout (s).
    pub hang_s: f64,
    /// The read_timeout in force (s) and where it came from.
    pub read_timeout_s: f64,
    /// Backoff before the retry (s).
    pub retry_sleep_s: Option<f64>,
    /// Hung send to retry send (s).
    pub seconds_lost: f64,
    /// What the caller saw, first send to final response (s).
    pub caller_latency_s: Option<f64>,
    /// Caller latency over the median normal latency.
    pub slowdown_vs_median: Option<f64>,
    /// Start, hang and retry lines.
    pub evidence: Vec<Evidence>,
}

/// Whether attempt `i` of `call` is a stale-socket hang: a read timeout
/// lasting about read_timeout, on a reused connection idle at least
/// `idle_threshold_s`, followed by a retry on a new connection.
pub fn is_stale_hang(call: &Call, i: usize, idle_threshold_s: f64) -> bool {
    let at = &call.attempts[i];
    let threshold_ms = (idle_threshold_s * 1000.0).round() as i64;
    matches!(at.outcome, Outcome::Transport { error: TransportError::ReadTimeout, .. })
        && at.duration_s().is_some_and(|d| crate::timeline::about(d, call.read_timeout_s))
        && at.connection.is_reused()
        && at.idle_gap_ms.is_some_and(|g| g >= threshold_ms)
        && call.attempts.get(i + 1).is_some_and(|n| matches!(n.connection, Connection::New { .. }))
}

impl Detector for StaleSocketDetector {
    fn kind(&self) -> &'static str {
        "stale_socket"
    }

    fn detect(&self, input: &DetectorInput<'_>) -> Vec<Finding> {
        self.find(input).into_iter().collect()
    }
}

impl StaleSocketDetector {
    fn find(&self, input: &DetectorInput<'_>) -> Option<Finding> {
        let threshold_ms = (input.settings.idle_threshold_s * 1000.0).round() as i64;
        let normal: Vec<f64> = input
            .calls
            .iter()
            .filter(|c| c.attempts.len() == 1 && c.succeeded())
            .filter_map(|c| c.latency_ms().map(|l| l as f64 / 1000.0))
            .collect();
        let median_normal = median(&normal).map(ms);
        let mut hits = Vec::new();
        let mut other_read_timeouts = 0;
        let mut long_idle_ok = 0;
        for call in input.calls {
            let mut hit_in_call = None;
            for (i, at) in call.attempts.iter().enumerate() {
                let long_idle = at.idle_gap_ms.is_some_and(|g| g >= threshold_ms);
                let read_timeout = matches!(at.outcome, Outcome::Transport { error: TransportError::ReadTimeout, .. });
                if is_stale_hang(call, i, input.settings.idle_threshold_s) {
                    if hit_in_call.is_none() {
                        hit_in_call = Some(hit(input, call, i, median_normal));
                    }
                } else if read_timeout {
                    other_read_timeouts += 1;
                } else if long_idle && at.connection.is_reused() && at.outcome.is_success() {
                    long_idle_ok += 1;
                }
            }
            if let Some(h) = hit_in_call {
                hits.push(h);
            }
        }
        if hits.is_empty() && long_idle_ok == 0 && other_read_timeouts == 0 {
            return None;
        }
        let seconds_lost = ms(hits.iter().map(|h| h.seconds_lost).sum());
        let threshold = input.settings.idle_threshold_s;
        let title = if hits.is_empty() {
            format!(
                "No stale-socket hangs ({long_idle_ok} reuses after ≥{threshold:.0} s idle went fine, \
                 {other_read_timeouts} other read timeouts)"
            )
        } else {
            format!(
                "{} call{} hung on a pooled connection idle ≥{threshold:.0} s until read_timeout, then retried: {seconds_lost:.1} s lost",
                hits.len(),
                if hits.len() == 1 { "" } else { "s" },
            )
        };
        let fix = if hits.is_empty() {
            Vec::new()
        } else {
            vec![
                format!(
                    "Send TCP keepalive probes well under the {threshold:.0} s idle timeout of NAT gateways, NLBs and \
                     VPC endpoints: botocore's Config(tcp_keepalive=True) only sets SO_KEEPALIVE, so the OS default of \
                     7,200 s applies. Also set TCP_KEEPIDLE=60, TCP_KEEPINTVL=15, TCP_KEEPCNT=4 (per socket, or \
                     net.ipv4.tcp_keepalive_time=60 on the host)."
                ),
                "Prefer streaming (ConverseStream / InvokeModelWithResponseStream): bytes flow within seconds, so a \
                 dead socket is found by a short read_timeout instead of a full non-streaming one."
                    .to_string(),
                format!(
                    "Lower read_timeout to what a healthy first byte needs (botocore.config.Config(read_timeout=...)); \
                     each hang costs the whole read_timeout (here {}) before the silent retry.",
                    read_timeouts(&hits)
                ),
            ]
        };
        Some(Finding {
            kind: self.kind(),
            rank: 0,
            title,
            impact_seconds: seconds_lost,
            impact_usd: 0.0,
            fix,
            detail: FindingDetail::StaleSocket(StaleSocketDetail {
                calls_hit: hits.len(),
                seconds_lost,
                idle_threshold_s: threshold,
                median_normal_latency_s: median_normal,
                normal_calls: normal.len(),
                long_idle_reuses_without_hang: long_idle_ok,
                other_read_timeouts,
                calls: hits,
            }),
        })
    }
}

fn read_timeouts(hits: &[StaleSocketHit]) -> String {
    let mut v: Vec<String> = hits.iter().map(|h| format!("{} s", h.read_timeout_s)).collect();
    v.sort();
    v.dedup();
    v.join(", ")
}

fn hit(input: &DetectorInput<'_>, call: &Call, i: usize, median_normal: Option<f64>) -> StaleSocketHit {
    let at = &call.attempts[i];
    let next = &call.attempts[i + 1];
    let seconds_lost = match (next.start_ms, at.start_ms) {
        (Some(n), Some(s)) => ms((n - s) as f64 / 1000.0),
        _ => 0.0,
    };
    let caller_latency_s = call.latency_ms().map(|l| ms(l as f64 / 1000.0));
    let mut evidence = vec![Evidence { role: "start", at: location(input, at.start_line) }];
    if let Some(l) = at.end_line {
        evidence.push(Evidence { role: "hang", at: location(input, l) });
    }
    evidence.push(Evidence { role: "retry", at: location(input, next.start_line) });
    StaleSocketHit {
        invocation_id: call.invocation_id.clone(),
        request_id: call.request_id().map(str::to_string),
        request_id_by_log_order: call.attempts.iter().any(|a| a.request_id.is_some() && a.attributed_by_order),
        model_id: call.model_id.clone(),
        operation: call.operation.clone(),
        thread: call.thread.clone(),
        attempt: at.number,
        connection: match at.connection {
            Connection::Reused { number } => number,
            _ => None,
        },
        idle_gap_s: ms(at.idle_gap_ms.unwrap_or(0) as f64 / 1000.0),
        hang_s: ms(at.duration_s().unwrap_or(0.0)),
        read_timeout_s: call.read_timeout_s,
        retry_sleep_s: at.retry_delay_s,
        seconds_lost,
        caller_latency_s,
        slowdown_vs_median: match (caller_latency_s, median_normal) {
            (Some(l), Some(m)) if m > 0.0 => Some((l / m * 10.0).round() / 10.0),
            _ => None,
        },
        evidence,
    }
}
