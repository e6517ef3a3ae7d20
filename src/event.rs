//! Normalized events: what a parser extracts from one log record, free of any
//! prompt or completion text.

use serde::Serialize;

/// Why an attempt failed without an HTTP response, as botocore named it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportError {
    /// `Read timeout on endpoint URL`.
    ReadTimeout,
    /// `Connect timeout on endpoint URL`.
    ConnectTimeout,
    /// `Connection was closed before we received a valid response`.
    ConnectionClosed,
    /// `Could not connect to the endpoint URL`.
    EndpointConnection,
    /// Any other exception text.
    Other,
}

/// One SDK or urllib3 lifecycle event, taken from one log record.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// `Setting <service> timeout as (connect, read)`.
    TimeoutSetting {
        /// Connect timeout, seconds.
        connect_s: f64,
        /// Read timeout, seconds.
        read_s: f64,
    },
    /// `Making request for OperationModel(name=X)`: the operation only, never the params.
    MakingRequest {
        /// The API operation name.
        operation: String,
    },
    /// `Sending http request: <AWSPreparedRequest ...>`: one attempt starts.
    Sending(Box<SendingRequest>),
    /// urllib3 `Starting new HTTP(S) connection (N): host:port`.
    NewConnection {
        /// urllib3's per-pool connection counter.
        number: u32,
        /// `host:port`.
        host: String,
    },
    /// urllib3 `Resetting dropped connection: host`.
    ResetDropped {
        /// The host urllib3 names.
        host: String,
    },
    /// urllib3 `scheme://host:port "METHOD path HTTP/1.1" status length`.
    HttpResponse {
        /// HTTP status code.
        status: u16,
        /// `host:port` of the pool.
        host: String,
        /// The request path, still percent-encoded.
        path: String,
    },
    /// `Response headers: {...}`: the request id and error type only.
    ResponseHeaders {
        /// `x-amzn-RequestId`.
        request_id: Option<String>,
        /// `x-amzn-ErrorType`, reduced to its code.
        error_type: Option<String>,
    },
    /// A retry was decided; the cause, where the line names one.
    RetryNeeded {
        /// What botocore named as the reason (legacy mode only).
        cause: Option<RetryCause>,
    },
    /// The backoff botocore chose: `Retry needed, action of: X` (legacy) or
    /// `Retry needed, retrying request after delay of: X` (standard/adaptive).
    RetryDelay {
        /// Seconds.
        delay_s: f64,
    },
    /// `Response received to retry, sleeping for X seconds`.
    Sleeping {
        /// Seconds.
        delay_s: f64,
    },
    /// The call ends here: `No retry needed.`, `Not retrying request.`,
    /// `Reached the maximum number of retry attempts` or a retry quota refusal.
    NoRetry {
        /// Retries were exhausted or refused.
        exhausted: bool,
    },
    /// `Max attempts of N reached.` (standard mode logs it even on success).
    MaxAttemptsReached,
    /// botocore.retries.adaptive `Throttling response received, new send rate: ...`.
    AdaptiveThrottle,
    /// urllib3 `Connection pool is full, discarding connection`.
    PoolFull,
}

/// Why botocore said a retry was needed (legacy mode lines name it).
#[derive(Debug, Clone, PartialEq)]
pub enum RetryCause {
    /// `retryable HTTP status code received: N`.
    Status(u16),
    /// `matching HTTP status and error code seen: N, Code`.
    StatusAndCode(u16, String),
    /// `retryable exception caught: ...`.
    Exception(TransportError),
}

/// The fields of one `Sending http request` line.
#[derive(Debug, Clone, PartialEq)]
pub struct SendingRequest {
    /// `amz-sdk-invocation-id`: one per call, kept across retries.
    pub invocation_id: Option<String>,
    /// `attempt=N` from `amz-sdk-request`.
    pub attempt: Option<u32>,
    /// `max=N` from `amz-sdk-request`.
    pub max_attempts: Option<u32>,
    /// `host:port` of the URL.
    pub host: String,
    /// The URL path, still percent-encoded.
    pub path: String,
    /// The model id decoded from `/model/<id>/...`, if the URL has one.
    pub model_id: Option<String>,
    /// The operation implied by the URL suffix (`converse`, `invoke`, ...).
    pub operation: Option<String>,
    /// `cfg/retry-mode#X` from the User-Agent.
    pub retry_mode: Option<String>,
    /// `Botocore/X.Y.Z` from the User-Agent.
    pub botocore_version: Option<String>,
    /// Whether `stream_output=True`.
    pub streaming: bool,
}

/// One event with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// 1-based line number of the record's first line in its source.
    pub line: u64,
    /// Record time in ms since the epoch, as written (asctime is local time
    /// with no zone, so this is only good for differences within one log).
    pub ts_ms: Option<i64>,
    /// The key that separates interleaved work: thread name, else none.
    pub thread: Option<String>,
    /// What happened.
    pub kind: EventKind,
}
