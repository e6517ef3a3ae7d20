//! Hidden retries: attempts the SDK absorbed, which the caller only sees as
//! latency. Grouped by cause: throttle, timeout, reset, 5xx.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Detector, DetectorInput, Evidence, Finding, FindingDetail, location, ms};
use crate::timeline::RetryCauseClass;

/// Reports calls that needed retries, by cause.
pub struct HiddenRetriesDetector;

/// The numbers of a hidden-retries finding.
#[derive(Debug, Clone, Serialize)]
pub struct HiddenRetriesDetail {
    /// Calls in all sources.
    pub calls: usize,
    /// Calls with more than one attempt.
    pub calls_with_retries: usize,
    /// Attempts beyond the first, over all calls.
    pub extra_attempts: usize,
    /// Backoff seconds botocore slept.
    pub sleep_s: f64,
    /// Seconds spent in attempts that failed and were retried.
    pub failed_attempt_s: f64,
    /// Of `failed_attempt_s` and `sleep_s`, the seconds spent on stale-socket
    /// hangs and their backoff, which the stale-socket finding reports; they
    /// are left out of this finding's impact so no second is ranked twice.
    pub stale_socket_s: f64,
    /// Calls that ended in failure after retrying (retries exhausted).
    pub exhausted_calls: usize,
    /// By cause of the failed attempt.
    pub by_cause: Vec<CauseRow>,
    /// The retried calls with the highest latency, at most `max_listed_calls`.
    pub listed_calls: Vec<RetriedCall>,
}

/// Retries of one cause.
#[derive(Debug, Clone, Serialize)]
pub struct CauseRow {
    /// `throttle`, `timeout`, `reset`, `5xx` or `other`.
    pub cause: &'static str,
    /// Failed attempts of this cause that were retried.
    pub retries: usize,
    /// Failed attempts of this cause that were the call's last (not retried).
    pub final_failures: usize,
    /// Calls with at least one such failure.
    pub calls: usize,
    /// Backoff seconds after these failures.
    pub sleep_s: f64,
    /// Seconds these failed attempts took.
    pub failed_attempt_s: f64,
}

/// One call that needed retries.
#[derive(Debug, Clone, Serialize)]
pub struct RetriedCall {
    /// `amz-sdk-invocation-id`.
    pub invocation_id: String,
    /// Final `x-amzn-RequestId`.
    pub request_id: Option<String>,
    /// Model id or profile.
    pub model_id: Option<String>,
    /// Number of attempts.
    pub attempts: usize,
    /// Cause of each failed attempt, in order.
    pub causes: Vec<&'static str>,
    /// Backoff slept (s).
    pub sleep_s: f64,
    /// What the caller saw (s).
    pub latency_s: Option<f64>,
    /// Whether it failed in the end.
    pub exhausted: bool,
    /// First line of the call.
    pub evidence: Vec<Evidence>,
}

impl Detector for HiddenRetriesDetector {
    fn kind(&self) -> &'static str {
        "hidden_retries"
    }

    fn detect(&self, input: &DetectorInput<'_>) -> Vec<Finding> {
        self.find(input).into_iter().collect()
    }
}

impl HiddenRetriesDetector {
    fn find(&self, input: &DetectorInput<'_>) -> Option<Finding> {
        #[derive(Default)]
        struct Acc {
            retries: usize,
            final_failures: usize,
            calls: usize,
            sleep: f64,
            failed: f64,
        }
        let mut by: BTreeMap<RetryCauseClass, Acc> = BTreeMap::new();
        let mut listed = Vec::new();
        let (mut with_retries, mut extra, mut exhausted) = (0, 0, 0);
        let (mut sleep_total, mut failed_total, mut stale_total) = (0.0, 0.0, 0.0);
        for call in input.calls {
            let n = call.attempts.len();
            let failures: Vec<_> = call.attempts.iter().filter(|a| !a.outcome.is_success()).collect();
            if n <= 1 && failures.is_empty() {
                continue;
            }
            let mut seen = std::collections::BTreeSet::new();
            let mut causes = Vec::new();
            let mut sleep = 0.0;
            for (i, at) in call.attempts.iter().enumerate() {
                if at.outcome.is_success() {
                    continue;
                }
                let class = at.outcome.cause_class();
                let acc = by.entry(class).or_default();
                if i + 1 < n {
                    acc.retries += 1;
                    let s = at.retry_delay_s.unwrap_or(0.0);
                    acc.sleep += s;
                    sleep += s;
                    let d = at.duration_s().unwrap_or(0.0);
                    acc.failed += d;
                    failed_total += d;
                    if super::stale_socket::is_stale_hang(call, i, input.settings.idle_threshold_s) {
                        stale_total += d + s;
                    }
                } else {
                    acc.final_failures += 1;
                }
                if seen.insert(class) {
                    acc.calls += 1;
                }
                causes.push(class.as_str());
            }
            if n > 1 {
                with_retries += 1;
                extra += n - 1;
            }
            if call.exhausted {
                exhausted += 1;
            }
            sleep_total += sleep;
            listed.push(RetriedCall {
                invocation_id: call.invocation_id.clone(),
                request_id: call.request_id().map(str::to_string),
                model_id: call.model_id.clone(),
                attempts: n,
                causes,
                sleep_s: ms(sleep),
                latency_s: call.latency_ms().map(|l| ms(l as f64 / 1000.0)),
                exhausted: call.exhausted,
                evidence: vec![Evidence { role: "start", at: location(input, call.attempts[0].start_line) }],
            });
        }
        if listed.is_empty() {
            return None;
        }
        listed.sort_by(|a, b| {
            b.latency_s
                .unwrap_or(0.0)
                .total_cmp(&a.latency_s.unwrap_or(0.0))
                .then(a.evidence[0].at.cmp(&b.evidence[0].at))
        });
        let failing_calls = listed.len();
        listed.truncate(input.settings.max_listed_calls);
        let by_cause: Vec<CauseRow> = by
            .into_iter()
            .map(|(c, a)| CauseRow {
                cause: c.as_str(),
                retries: a.retries,
                final_failures: a.final_failures,
                calls: a.calls,
                sleep_s: ms(a.sleep),
                failed_attempt_s: ms(a.failed),
            })
            .collect();
        let impact = ms(sleep_total + failed_total - stale_total);
        let summary: Vec<String> =
            by_cause.iter().filter(|r| r.retries > 0).map(|r| format!("{} {}", r.retries, r.cause)).collect();
        let title = if with_retries == 0 {
            format!("{failing_calls} of {} calls failed without a retry", input.calls.len())
        } else {
            format!(
                "{with_retries} of {} calls needed hidden retries ({}): {extra} extra attempts, {:.1} s asleep in backoff{}",
                input.calls.len(),
                if summary.is_empty() { "none retried".to_string() } else { summary.join(", ") },
                sleep_total,
                if exhausted > 0 { format!(", {exhausted} failed after retrying") } else { String::new() },
            )
        };
        let mut fix = Vec::new();
        if by_cause.iter().any(|r| r.cause == "throttle") {
            fix.push(
                "Throttles are absorbed silently: raise the Bedrock quota (tokens and requests per minute) for the \
                 model, spread load over a cross-region inference profile, or use retry mode 'adaptive' so the client \
                 slows down instead of amplifying the load."
                    .to_string(),
            );
        }
        if by_cause.iter().any(|r| r.cause == "timeout") {
            fix.push(
                "Timeouts: see the stale-socket finding; a timeout on a fresh connection means the model took \
                      longer than read_timeout, so stream the response."
                    .to_string(),
            );
        }
        Some(Finding {
            kind: self.kind(),
            rank: 0,
            title,
            impact_seconds: impact,
            impact_usd: 0.0,
            fix,
            detail: FindingDetail::HiddenRetries(HiddenRetriesDetail {
                calls: input.calls.len(),
                calls_with_retries: with_retries,
                extra_attempts: extra,
                sleep_s: ms(sleep_total),
                failed_attempt_s: ms(failed_total),
                stale_socket_s: ms(stale_total),
                exhausted_calls: exhausted,
                by_cause,
                listed_calls: listed,
            }),
        })
    }
}
