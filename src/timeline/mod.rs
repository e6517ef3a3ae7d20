//! Timelines: rebuilding calls and their attempts from a source's events.
//!
//! One [`Call`] is one `amz-sdk-invocation-id`, kept across its retries.
//! Events that carry no invocation id (urllib3 lines, retry decisions) are
//! attached within their thread key: the thread name where the log format has
//! one, else the whole stream. Without thread names and with concurrent
//! calls, the attachment follows log order (a connection line goes to the
//! latest attempt still waiting for one, a response to the oldest attempt of
//! that URL still waiting, a retry decision to the oldest answered attempt,
//! else the oldest unanswered one); the report says which key was used.

pub mod pool;

use std::collections::{HashMap, VecDeque};

use serde::Serialize;

use crate::event::{Event, EventKind, RetryCause, TransportError};
use crate::format::EventSink;
use pool::{Pool, PooledConn};

/// Where a line is: which source, which line. Serialized as the line number
/// alone (the call's `source` names the file); findings cite each line's own
/// file, which matters when one log stream spans several export chunks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Loc {
    /// Index of the source.
    pub source: usize,
    /// 1-based line (or event) number in it.
    pub line: u64,
}

impl Serialize for Loc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.line)
    }
}

/// The connection an attempt ran on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Connection {
    /// urllib3 opened connection number N for it.
    New {
        /// urllib3's per-pool counter.
        number: u32,
    },
    /// A pooled connection was reused (no urllib3 line; the number comes from the pool model).
    Reused {
        /// The connection number, where the pool model knows it.
        number: Option<u32>,
    },
    /// urllib3 found the pooled connection dropped and reconnected it.
    ResetAfterDrop {
        /// The connection number, where the pool model knows it.
        number: Option<u32>,
    },
    /// The log does not show which.
    Unknown,
}

impl Connection {
    /// Whether the attempt sent on a socket that was already open.
    pub fn is_reused(&self) -> bool {
        matches!(self, Connection::Reused { .. })
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// A 2xx/3xx response.
    Success {
        /// HTTP status.
        status: u16,
    },
    /// A throttling response (HTTP 429 or a throttling error code).
    Throttled {
        /// HTTP status.
        status: u16,
        /// The error code from `x-amzn-ErrorType`, if logged.
        code: Option<String>,
    },
    /// A 5xx response.
    ServerError {
        /// HTTP status.
        status: u16,
        /// The error code, if logged.
        code: Option<String>,
    },
    /// A 4xx response other than throttling.
    ClientError {
        /// HTTP status.
        status: u16,
        /// The error code, if logged.
        code: Option<String>,
    },
    /// No response: the transport failed.
    Transport {
        /// What failed.
        error: TransportError,
        /// `true` when no line named the error and bfx inferred it from the
        /// gap (standard mode logs no line for a read timeout).
        inferred: bool,
    },
    /// No response and no line saying why (not a timeout by its duration).
    NoResponse,
    /// The log ends before the attempt did.
    Unfinished,
}

/// Cause classes for retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryCauseClass {
    /// Throttling.
    Throttle,
    /// Read or connect timeout.
    Timeout,
    /// Connection closed, reset or refused, or no response for an unnamed reason.
    Reset,
    /// HTTP 5xx.
    #[serde(rename = "5xx")]
    ServerError,
    /// Anything else.
    Other,
}

impl RetryCauseClass {
    /// The class name as reported.
    pub fn as_str(self) -> &'static str {
        match self {
            RetryCauseClass::Throttle => "throttle",
            RetryCauseClass::Timeout => "timeout",
            RetryCauseClass::Reset => "reset",
            RetryCauseClass::ServerError => "5xx",
            RetryCauseClass::Other => "other",
        }
    }
}

impl Outcome {
    /// Whether the attempt got a successful response.
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Success { .. })
    }

    /// The retry-cause class of a failed attempt.
    pub fn cause_class(&self) -> RetryCauseClass {
        match self {
            Outcome::Throttled { .. } => RetryCauseClass::Throttle,
            Outcome::ServerError { .. } => RetryCauseClass::ServerError,
            Outcome::Transport { error: TransportError::ReadTimeout | TransportError::ConnectTimeout, .. } => {
                RetryCauseClass::Timeout
            }
            Outcome::Transport { .. } | Outcome::NoResponse => RetryCauseClass::Reset,
            _ => RetryCauseClass::Other,
        }
    }
}

/// One HTTP attempt of a call.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// 1-based attempt number (`attempt=N`, else counted).
    pub number: u32,
    /// When `Sending http request` was logged (ms, log clock).
    pub start_ms: Option<i64>,
    /// When its response or failure was logged (ms, log clock).
    pub end_ms: Option<i64>,
    /// The connection it ran on.
    pub connection: Connection,
    /// How long that connection had sat idle in the pool before this attempt
    /// (ms), from the pool model. `None` for a new connection or when unknown.
    pub idle_gap_ms: Option<i64>,
    /// How it ended.
    pub outcome: Outcome,
    /// The backoff botocore chose after it, in seconds.
    pub retry_delay_s: Option<f64>,
    /// `x-amzn-RequestId` of its response.
    pub request_id: Option<String>,
    /// Line of `Sending http request`.
    pub start_line: Loc,
    /// Line of the urllib3 connection message, if any.
    pub connection_line: Option<Loc>,
    /// Line of the response, or of the retry decision that closed it.
    pub end_line: Option<Loc>,
    /// Some event without ids (response, headers) was attached to this
    /// attempt by log order while other calls in the same thread key were
    /// waiting for the same kind of event: right in the usual interleaving,
    /// but not proven by an id.
    pub attributed_by_order: bool,
    #[serde(skip)]
    tentative: Option<PooledConn>,
    #[serde(skip)]
    conn_resolved: bool,
    #[serde(skip)]
    answered: bool,
    #[serde(skip)]
    decided: bool,
    #[serde(skip)]
    slept: bool,
    #[serde(skip)]
    path: String,
    #[serde(skip)]
    pool_key: String,
}

impl Attempt {
    /// Seconds from send to end, when both are known.
    pub fn duration_s(&self) -> Option<f64> {
        Some((self.end_ms? - self.start_ms?) as f64 / 1000.0)
    }
}

/// Where a client's timeouts came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeoutSource {
    /// A `Setting ... timeout as (c, r)` line.
    Log,
    /// Inferred from the durations of attempts that got no response.
    Inferred,
    /// Not in the log and nothing to infer from: botocore's default assumed.
    DefaultAssumed,
}

/// One SDK call: one `amz-sdk-invocation-id` and all its attempts.
#[derive(Debug, Clone, Serialize)]
pub struct Call {
    /// Index of the source it came from.
    #[serde(skip)]
    pub source: usize,
    /// `amz-sdk-invocation-id` (or `line-N` when the SDK sent none).
    pub invocation_id: String,
    /// The API operation (`Converse`, `InvokeModel`, ...).
    pub operation: Option<String>,
    /// The model id or inference-profile ARN, percent-decoded.
    pub model_id: Option<String>,
    /// The endpoint host.
    pub host: String,
    /// The thread name, where the log has one.
    pub thread: Option<String>,
    /// `cfg/retry-mode#...` from the User-Agent.
    pub retry_mode: Option<String>,
    /// botocore version from the User-Agent.
    pub botocore_version: Option<String>,
    /// The connect timeout in force (s).
    pub connect_timeout_s: f64,
    /// The read timeout in force (s).
    pub read_timeout_s: f64,
    /// Where the timeouts came from.
    pub timeouts_from: TimeoutSource,
    /// Every attempt, in order.
    pub attempts: Vec<Attempt>,
    /// botocore gave up (retries exhausted or refused).
    pub exhausted: bool,
}

impl Call {
    /// Latency the caller saw: first send to last response or failure (ms).
    pub fn latency_ms(&self) -> Option<i64> {
        let start = self.attempts.first()?.start_ms?;
        let last = self.attempts.last()?;
        Some(last.end_ms? - start)
    }

    /// Whether the call ended in a successful response.
    pub fn succeeded(&self) -> bool {
        self.attempts.last().is_some_and(|a| a.outcome.is_success())
    }

    /// The request id of the last attempt that has one.
    pub fn request_id(&self) -> Option<&str> {
        self.attempts.iter().rev().find_map(|a| a.request_id.as_deref())
    }
}

/// How a source's calls were keyed and what was assumed.
#[derive(Debug, Clone, Serialize)]
pub struct ClientNotes {
    /// `thread_name` when records carry one, else `invocation_id_and_log_order`.
    pub correlation: &'static str,
    /// What the pool model assumed.
    pub pool_assumption: &'static str,
    /// Where the timeouts came from, and the values.
    pub timeouts_from: TimeoutSource,
    /// The read timeout used (s).
    pub read_timeout_s: f64,
    /// The connect timeout used (s).
    pub connect_timeout_s: f64,
    /// Retry modes seen in User-Agents.
    pub retry_modes: Vec<String>,
    /// botocore versions seen in User-Agents.
    pub botocore_versions: Vec<String>,
    /// Events that matched no open attempt (the log starts mid-call, or
    /// lines were trimmed); counted, never guessed into a call.
    pub unattached_events: u64,
}

/// The pool assumption, as reported.
pub const POOL_ASSUMPTION: &str = "one urllib3 pool per host per source (one client), max_pool_connections=10, \
LIFO reuse, a connection returns to the pool when its response status line is logged";

/// botocore's default connect and read timeout.
pub const BOTOCORE_DEFAULT_TIMEOUT_S: f64 = 60.0;

#[derive(Default)]
struct ThreadState {
    open: VecDeque<(usize, usize)>,
    awaiting_delay: VecDeque<(usize, usize)>,
    awaiting_sleep: VecDeque<(usize, usize)>,
    pending_operation: Option<String>,
    /// Legacy mode logs `No retry needed.` right after `Reached the maximum
    /// number of retry attempts`; that line belongs to the exhausted call.
    swallow_no_retry: bool,
}

/// Builds the calls of one source from its events.
#[derive(Default)]
pub struct TimelineBuilder {
    calls: Vec<Call>,
    by_invocation: HashMap<String, usize>,
    threads: HashMap<String, ThreadState>,
    pools: HashMap<String, Pool>,
    timeouts: Option<(f64, f64)>,
    saw_thread: bool,
    source: usize,
    unattached: u64,
}

impl EventSink for TimelineBuilder {
    fn event(&mut self, source: usize, event: Event) {
        self.source = source;
        self.push(event);
    }
}

impl TimelineBuilder {
    /// A builder for source `source`.
    pub fn new(source: usize) -> Self {
        TimelineBuilder { source, ..Default::default() }
    }

    fn loc(&self, line: u64) -> Loc {
        Loc { source: self.source, line }
    }

    /// Feeds one event, in log order.
    pub fn push(&mut self, ev: Event) {
        if ev.thread.is_some() {
            self.saw_thread = true;
        }
        let key = ev.thread.clone().unwrap_or_default();
        let here = self.loc(ev.line);
        match ev.kind {
            EventKind::TimeoutSetting { connect_s, read_s } => self.timeouts = Some((connect_s, read_s)),
            EventKind::MakingRequest { operation } => {
                self.threads.entry(key).or_default().pending_operation = Some(operation);
            }
            EventKind::Sending(s) => self.on_sending(key, ev.line, ev.ts_ms, ev.thread, *s),
            EventKind::NewConnection { number, .. } => {
                if let Some((c, a)) = self.latest_open(&key, |a| !a.conn_resolved && !a.answered) {
                    let at = &mut self.calls[c].attempts[a];
                    if let Some(t) = at.tentative.take() {
                        self.pools.entry(at.pool_key.clone()).or_default().undo_checkout(t);
                    }
                    at.connection = Connection::New { number };
                    at.conn_resolved = true;
                    at.connection_line = Some(here);
                } else {
                    self.unattached += 1;
                }
            }
            EventKind::ResetDropped { .. } => {
                if let Some((c, a)) = self.latest_open(&key, |a| !a.conn_resolved && !a.answered) {
                    let at = &mut self.calls[c].attempts[a];
                    let t = at.tentative;
                    at.connection = Connection::ResetAfterDrop { number: t.and_then(|t| t.number) };
                    at.idle_gap_ms = idle(t, at.start_ms);
                    at.conn_resolved = true;
                    at.connection_line = Some(here);
                } else {
                    self.unattached += 1;
                }
            }
            EventKind::HttpResponse { status, path, .. } => {
                let target = self
                    .oldest_open(&key, |a| !a.answered && a.path == path)
                    .or_else(|| self.oldest_open(&key, |a| !a.answered));
                if let Some((c, a)) = target {
                    self.flag_if_ambiguous(&key, |a| !a.answered && a.path == path);
                    resolve_reuse(&mut self.calls[c].attempts[a]);
                    let at = &mut self.calls[c].attempts[a];
                    at.answered = true;
                    at.end_ms = ev.ts_ms;
                    at.end_line = Some(here);
                    at.outcome = status_outcome(status, None);
                    let number = connection_number(at.connection);
                    let pool_key = at.pool_key.clone();
                    self.pools.entry(pool_key).or_default().checkin(PooledConn { number, returned_ms: ev.ts_ms });
                } else {
                    self.unattached += 1;
                }
            }
            EventKind::ResponseHeaders { request_id, error_type } => {
                // botocore logs the headers twice for an error response; the
                // repeat carries the same request id as the first.
                let repeat = request_id.as_deref().and_then(|rid| {
                    self.oldest_open(&key, |a| a.answered && !a.decided && a.request_id.as_deref() == Some(rid))
                });
                // Otherwise headers follow their status line within the same
                // thread, so pair them first-in, first-out.
                let fresh = |a: &Attempt| a.answered && !a.decided && a.request_id.is_none();
                let target = repeat.or_else(|| self.oldest_open(&key, fresh));
                if let Some((c, a)) = target {
                    if repeat.is_none() {
                        self.flag_if_ambiguous(&key, fresh);
                    }
                    let at = &mut self.calls[c].attempts[a];
                    if at.request_id.is_none() {
                        at.request_id = request_id;
                    }
                    if let (
                        Some(code),
                        Outcome::Throttled { status, .. }
                        | Outcome::ServerError { status, .. }
                        | Outcome::ClientError { status, .. },
                    ) = (error_type, &at.outcome)
                    {
                        at.outcome = status_outcome(*status, Some(code));
                    }
                } else {
                    self.unattached += 1;
                }
            }
            EventKind::RetryNeeded { cause } => {
                if let Some((c, a)) = self.decide(&key, ev.line, ev.ts_ms, cause) {
                    self.threads.entry(key).or_default().awaiting_delay.push_back((c, a));
                }
            }
            EventKind::RetryDelay { delay_s } => {
                let st = self.threads.entry(key.clone()).or_default();
                let target = match st.awaiting_delay.pop_front() {
                    Some(t) => Some(t),
                    // standard mode: this line is itself the decision.
                    None => self.decide(&key, ev.line, ev.ts_ms, None),
                };
                if let Some((c, a)) = target {
                    self.calls[c].attempts[a].retry_delay_s = Some(delay_s);
                    self.threads.entry(key).or_default().awaiting_sleep.push_back((c, a));
                }
            }
            EventKind::Sleeping { delay_s } => {
                let st = self.threads.entry(key).or_default();
                let pos = st
                    .awaiting_sleep
                    .iter()
                    .position(|&(c, a)| self.calls[c].attempts[a].retry_delay_s == Some(delay_s))
                    .or(if st.awaiting_sleep.is_empty() { None } else { Some(0) });
                if let Some(p) = pos {
                    let (c, a) = st.awaiting_sleep.remove(p).expect("position in range");
                    let at = &mut self.calls[c].attempts[a];
                    at.slept = true;
                    if at.retry_delay_s.is_none() {
                        at.retry_delay_s = Some(delay_s);
                    }
                }
            }
            EventKind::NoRetry { exhausted } => {
                let st = st_mut(&mut self.threads, &key);
                if exhausted {
                    // legacy: `retry needed: ...` already closed the attempt.
                    if let Some((c, _)) = st.awaiting_delay.pop_front() {
                        st.swallow_no_retry = true;
                        self.calls[c].exhausted = true;
                        return;
                    }
                } else if st.swallow_no_retry {
                    st.swallow_no_retry = false;
                    return;
                }
                if let Some((c, _)) = self.decide(&key, ev.line, ev.ts_ms, None) {
                    let call = &mut self.calls[c];
                    call.exhausted = exhausted || !call.attempts.last().is_some_and(|a| a.outcome.is_success());
                }
            }
            EventKind::PoolFull => {
                // The most recent checkin was discarded; pools are few, try the
                // one of this thread's last attempt.
                if let Some((c, a)) = self.latest_any(&key) {
                    let k = self.calls[c].attempts[a].pool_key.clone();
                    self.pools.entry(k).or_default().drop_last_checkin();
                }
            }
            EventKind::MaxAttemptsReached | EventKind::AdaptiveThrottle => {}
        }
    }

    fn on_sending(
        &mut self,
        key: String,
        line: u64,
        ts: Option<i64>,
        thread: Option<String>,
        s: crate::event::SendingRequest,
    ) {
        let invocation_id = s.invocation_id.clone().unwrap_or_else(|| format!("line-{line}"));
        let pool_key = normalize_host(&s.host);
        let st = self.threads.entry(key.clone()).or_default();
        let pending_op = st.pending_operation.take();
        let call_idx = match self.by_invocation.get(&invocation_id) {
            Some(&i) => i,
            None => {
                let (connect, read) = self.timeouts.unwrap_or((f64::NAN, f64::NAN));
                self.calls.push(Call {
                    source: self.source,
                    invocation_id: invocation_id.clone(),
                    operation: pending_op.or_else(|| s.operation.as_deref().map(operation_from_path)),
                    model_id: s.model_id.clone(),
                    host: pool_key.clone(),
                    thread,
                    retry_mode: s.retry_mode.clone(),
                    botocore_version: s.botocore_version.clone(),
                    connect_timeout_s: connect,
                    read_timeout_s: read,
                    timeouts_from: if self.timeouts.is_some() {
                        TimeoutSource::Log
                    } else {
                        TimeoutSource::DefaultAssumed
                    },
                    attempts: Vec::new(),
                    exhausted: false,
                });
                self.by_invocation.insert(invocation_id, self.calls.len() - 1);
                self.calls.len() - 1
            }
        };
        // A previous attempt left undecided (its lines were filtered out or
        // lost): it ended no later than this send.
        if let Some(prev) = self.calls[call_idx].attempts.last_mut()
            && !prev.decided
        {
            prev.decided = true;
            if !prev.answered {
                prev.end_ms = ts;
                prev.outcome = Outcome::NoResponse;
                resolve_reuse(prev);
                self.pools.entry(prev.pool_key.clone()).or_default().discard();
            }
            let pc = call_idx;
            {
                let q = &mut st_mut(&mut self.threads, &key).open;
                q.retain(|&(c, _)| c != pc);
            }
        }
        let number = s.attempt.unwrap_or(self.calls[call_idx].attempts.len() as u32 + 1);
        let tentative = self.pools.entry(pool_key.clone()).or_default().checkout();
        let call = &mut self.calls[call_idx];
        call.attempts.push(Attempt {
            number,
            start_ms: ts,
            end_ms: None,
            connection: Connection::Unknown,
            idle_gap_ms: None,
            outcome: Outcome::Unfinished,
            retry_delay_s: None,
            request_id: None,
            start_line: Loc { source: self.source, line },
            connection_line: None,
            end_line: None,
            attributed_by_order: false,
            tentative,
            conn_resolved: false,
            answered: false,
            decided: false,
            slept: false,
            path: s.path,
            pool_key,
        });
        let a = call.attempts.len() - 1;
        st_mut(&mut self.threads, &key).open.push_back((call_idx, a));
    }

    /// Closes the attempt a retry decision belongs to; returns it.
    fn decide(&mut self, key: &str, line: u64, ts: Option<i64>, cause: Option<RetryCause>) -> Option<(usize, usize)> {
        let target = match cause {
            Some(RetryCause::Exception(_)) => None,
            _ => self.oldest_open(key, |a| a.answered && !a.decided),
        }
        .or_else(|| self.oldest_open(key, |a| !a.answered && !a.decided))?;
        let (c, a) = target;
        let at = &mut self.calls[c].attempts[a];
        at.decided = true;
        if !at.answered {
            resolve_reuse(at);
            at.end_ms = ts;
            at.end_line = Some(Loc { source: self.source, line });
            at.outcome = match cause {
                Some(RetryCause::Exception(error)) => Outcome::Transport { error, inferred: false },
                _ => Outcome::NoResponse,
            };
            let k = at.pool_key.clone();
            self.pools.entry(k).or_default().discard();
        }
        st_mut(&mut self.threads, key).open.retain(|&t| t != target);
        Some(target)
    }

    fn oldest_open(&self, key: &str, pred: impl Fn(&Attempt) -> bool) -> Option<(usize, usize)> {
        let st = self.threads.get(key)?;
        st.open.iter().copied().find(|&(c, a)| pred(&self.calls[c].attempts[a]))
    }

    fn latest_open(&self, key: &str, pred: impl Fn(&Attempt) -> bool) -> Option<(usize, usize)> {
        let st = self.threads.get(key)?;
        st.open.iter().rev().copied().find(|&(c, a)| pred(&self.calls[c].attempts[a]))
    }

    /// When an event without ids could belong to several open attempts of a
    /// thread key, flags all of them: whichever gets it, the pairing of the
    /// whole group rests on log order, not on an id.
    fn flag_if_ambiguous(&mut self, key: &str, pred: impl Fn(&Attempt) -> bool) {
        let Some(st) = self.threads.get(key) else { return };
        let group: Vec<(usize, usize)> =
            st.open.iter().copied().filter(|&(c, a)| pred(&self.calls[c].attempts[a])).collect();
        if group.len() > 1 {
            for (c, a) in group {
                self.calls[c].attempts[a].attributed_by_order = true;
            }
        }
    }

    fn latest_any(&self, key: &str) -> Option<(usize, usize)> {
        self.threads.get(key)?.open.back().copied()
    }

    /// Ends the source: infers timeouts where the log had none, classifies
    /// silent failures, and returns the calls in order of their first line.
    pub fn finish(mut self) -> (Vec<Call>, ClientNotes) {
        for call in &mut self.calls {
            for at in &mut call.attempts {
                if !at.conn_resolved && at.answered {
                    resolve_reuse(at);
                }
            }
        }
        let (connect, read, from) = match self.timeouts {
            Some((c, r)) => (c, r, TimeoutSource::Log),
            None => infer_timeouts(&self.calls),
        };
        for call in &mut self.calls {
            if call.timeouts_from != TimeoutSource::Log || call.read_timeout_s.is_nan() {
                call.connect_timeout_s = connect;
                call.read_timeout_s = read;
                call.timeouts_from = from;
            }
            let (rt, ct) = (call.read_timeout_s, call.connect_timeout_s);
            for at in &mut call.attempts {
                if at.outcome == Outcome::NoResponse
                    && let Some(d) = at.duration_s()
                {
                    if about(d, rt) {
                        at.outcome = Outcome::Transport { error: TransportError::ReadTimeout, inferred: true };
                    } else if matches!(at.connection, Connection::New { .. }) && about(d, ct) {
                        at.outcome = Outcome::Transport { error: TransportError::ConnectTimeout, inferred: true };
                    }
                }
            }
        }
        let mut modes: Vec<String> = self.calls.iter().filter_map(|c| c.retry_mode.clone()).collect();
        modes.sort();
        modes.dedup();
        let mut versions: Vec<String> = self.calls.iter().filter_map(|c| c.botocore_version.clone()).collect();
        versions.sort();
        versions.dedup();
        let notes = ClientNotes {
            correlation: if self.saw_thread { "thread_name" } else { "invocation_id_and_log_order" },
            pool_assumption: POOL_ASSUMPTION,
            timeouts_from: from,
            read_timeout_s: read,
            connect_timeout_s: connect,
            retry_modes: modes,
            botocore_versions: versions,
            unattached_events: self.unattached,
        };
        (self.calls, notes)
    }
}

fn st_mut<'a>(threads: &'a mut HashMap<String, ThreadState>, key: &str) -> &'a mut ThreadState {
    threads.entry(key.to_string()).or_default()
}

/// Whether a failed attempt's duration matches a timeout setting: the timer
/// starts when the request has been sent and the decision is logged a few ms
/// after it fires, so allow 0.5 s below and 5% (at least 2 s) above.
pub fn about(duration_s: f64, timeout_s: f64) -> bool {
    timeout_s.is_finite() && duration_s >= timeout_s - 0.5 && duration_s <= timeout_s + (timeout_s * 0.05).max(2.0)
}

fn infer_timeouts(calls: &[Call]) -> (f64, f64, TimeoutSource) {
    let explicit: Vec<f64> = calls
        .iter()
        .flat_map(|c| &c.attempts)
        .filter(|a| matches!(a.outcome, Outcome::Transport { error: TransportError::ReadTimeout, .. }))
        .filter_map(Attempt::duration_s)
        .collect();
    let silent: Vec<f64> = calls
        .iter()
        .flat_map(|c| &c.attempts)
        .filter(|a| a.outcome == Outcome::NoResponse)
        .filter_map(Attempt::duration_s)
        .filter(|d| *d >= 1.0)
        .collect();
    let pick = if explicit.is_empty() { silent } else { explicit };
    match median(&pick) {
        // Timeouts are configured in whole seconds in practice.
        Some(m) => (BOTOCORE_DEFAULT_TIMEOUT_S, m.floor().max(1.0), TimeoutSource::Inferred),
        None => (BOTOCORE_DEFAULT_TIMEOUT_S, BOTOCORE_DEFAULT_TIMEOUT_S, TimeoutSource::DefaultAssumed),
    }
}

/// The median of a list of numbers (mean of the middle two for even counts).
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

fn resolve_reuse(at: &mut Attempt) {
    if at.conn_resolved {
        return;
    }
    at.conn_resolved = true;
    let t = at.tentative;
    at.connection = Connection::Reused { number: t.and_then(|t| t.number) };
    at.idle_gap_ms = idle(t, at.start_ms);
}

fn idle(t: Option<PooledConn>, start: Option<i64>) -> Option<i64> {
    Some(start? - t?.returned_ms?)
}

fn connection_number(c: Connection) -> Option<u32> {
    match c {
        Connection::New { number } => Some(number),
        Connection::Reused { number } | Connection::ResetAfterDrop { number } => number,
        Connection::Unknown => None,
    }
}

fn status_outcome(status: u16, code: Option<String>) -> Outcome {
    const THROTTLING: [&str; 6] = [
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
    ];
    let throttling_code = code.as_deref().is_some_and(|c| THROTTLING.contains(&c));
    match status {
        200..=399 => Outcome::Success { status },
        429 => Outcome::Throttled { status, code },
        _ if throttling_code => Outcome::Throttled { status, code },
        500..=599 => Outcome::ServerError { status, code },
        _ => Outcome::ClientError { status, code },
    }
}

fn normalize_host(host: &str) -> String {
    host.strip_suffix(":443").or_else(|| host.strip_suffix(":80")).unwrap_or(host).to_string()
}

fn operation_from_path(suffix: &str) -> String {
    match suffix {
        "converse" => "Converse",
        "converse-stream" => "ConverseStream",
        "invoke" => "InvokeModel",
        "invoke-with-response-stream" => "InvokeModelWithResponseStream",
        other => other,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::SendingRequest;

    fn ev(line: u64, ts: i64, kind: EventKind) -> Event {
        Event { line, ts_ms: Some(ts), thread: None, kind }
    }

    fn send(line: u64, ts: i64, inv: &str, attempt: u32) -> Event {
        ev(
            line,
            ts,
            EventKind::Sending(Box::new(SendingRequest {
                invocation_id: Some(inv.into()),
                attempt: Some(attempt),
                max_attempts: Some(5),
                host: "h".into(),
                path: "/model/m/converse".into(),
                model_id: Some("m".into()),
                operation: Some("converse".into()),
                retry_mode: Some("legacy".into()),
                botocore_version: None,
                streaming: false,
            })),
        )
    }

    fn response(line: u64, ts: i64, status: u16) -> Event {
        ev(line, ts, EventKind::HttpResponse { status, host: "h:443".into(), path: "/model/m/converse".into() })
    }

    fn headers(line: u64, ts: i64, rid: &str) -> Event {
        ev(line, ts, EventKind::ResponseHeaders { request_id: Some(rid.into()), error_type: None })
    }

    #[test]
    fn legacy_reached_maximum_marks_call_exhausted_and_swallows_no_retry_needed() {
        let mut b = TimelineBuilder::new(0);
        b.push(send(1, 0, "a", 1));
        b.push(ev(2, 0, EventKind::NewConnection { number: 1, host: "h:443".into() }));
        b.push(response(3, 10, 429));
        b.push(ev(4, 11, EventKind::RetryNeeded { cause: Some(RetryCause::Status(429)) }));
        b.push(ev(5, 11, EventKind::NoRetry { exhausted: true }));
        b.push(ev(6, 11, EventKind::NoRetry { exhausted: false }));
        // A second call in flight must not receive the swallowed line.
        b.push(send(7, 20, "b", 1));
        b.push(response(8, 30, 200));
        b.push(ev(9, 31, EventKind::NoRetry { exhausted: false }));
        let (calls, notes) = b.finish();
        assert!(calls[0].exhausted);
        assert!(!calls[1].exhausted && calls[1].succeeded());
        assert_eq!(calls[1].attempts[0].end_line.map(|l| l.line), Some(8));
        assert_eq!(notes.unattached_events, 0);
    }

    #[test]
    fn concurrent_headers_without_thread_names_pair_fifo_and_are_flagged() {
        let mut b = TimelineBuilder::new(0);
        b.push(send(1, 0, "a", 1));
        b.push(send(2, 0, "b", 1));
        b.push(response(3, 10, 200));
        b.push(response(4, 10, 200));
        b.push(headers(5, 10, "rid-1"));
        b.push(headers(6, 10, "rid-2"));
        let (calls, _) = b.finish();
        assert_eq!(calls[0].attempts[0].request_id.as_deref(), Some("rid-1"));
        assert_eq!(calls[1].attempts[0].request_id.as_deref(), Some("rid-2"));
        assert!(calls.iter().all(|c| c.attempts[0].attributed_by_order));
    }

    #[test]
    fn repeated_error_headers_do_not_move_to_another_call() {
        let mut b = TimelineBuilder::new(0);
        b.push(send(1, 0, "a", 1));
        b.push(response(2, 10, 429));
        b.push(headers(3, 10, "rid-1"));
        b.push(send(4, 10, "b", 1));
        b.push(response(5, 11, 200));
        b.push(headers(6, 11, "rid-1"));
        b.push(headers(7, 11, "rid-2"));
        let (calls, _) = b.finish();
        assert_eq!(calls[1].attempts[0].request_id.as_deref(), Some("rid-2"));
    }

    #[test]
    fn standard_mode_silent_read_timeout_is_inferred_from_the_gap() {
        let mut b = TimelineBuilder::new(0);
        b.push(ev(1, 0, EventKind::TimeoutSetting { connect_s: 60.0, read_s: 60.0 }));
        b.push(send(2, 0, "a", 1));
        b.push(ev(3, 0, EventKind::NewConnection { number: 1, host: "h:443".into() }));
        b.push(response(4, 2_000, 200));
        b.push(ev(5, 2_001, EventKind::NoRetry { exhausted: false }));
        b.push(send(6, 400_000, "b", 1));
        b.push(ev(7, 460_050, EventKind::RetryDelay { delay_s: 0.02 }));
        b.push(ev(8, 460_050, EventKind::Sleeping { delay_s: 0.02 }));
        b.push(send(9, 460_071, "b", 2));
        b.push(ev(10, 460_072, EventKind::NewConnection { number: 2, host: "h:443".into() }));
        b.push(response(11, 462_000, 200));
        let (calls, _) = b.finish();
        let hung = &calls[1].attempts[0];
        assert_eq!(hung.outcome, Outcome::Transport { error: TransportError::ReadTimeout, inferred: true });
        assert_eq!(hung.connection, Connection::Reused { number: Some(1) });
        assert_eq!(hung.idle_gap_ms, Some(398_000));
        assert_eq!(hung.retry_delay_s, Some(0.02));
    }
}
