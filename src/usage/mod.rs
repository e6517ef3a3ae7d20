//! Usage records: token counts per Bedrock request, from every source that
//! carries them, normalized to one convention.
//!
//! Sources disagree on what "input tokens" means. Bedrock's own records
//! (`inputTokenCount`, Converse `inputTokens`, Anthropic `input_tokens`)
//! count only the uncached input, with cache reads and writes beside it;
//! OpenTelemetry GenAI spans from Strands ≥ 1.x count cache tokens inside
//! `gen_ai.usage.input_tokens`. Every record keeps the convention its source
//! used, and [`UsageRecord::input`] is always the uncached input.

pub mod cost;
pub mod cur;
pub mod parse;
mod scan;

use crate::hash::FxHashMap;
use serde::Serialize;

use crate::prices::CacheTtl;
use crate::timeline::Loc;

/// Which kind of source a usage record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageSourceKind {
    /// A Bedrock model-invocation log record (`schemaType: ModelInvocationLog`).
    InvocationLog,
    /// A Converse / ConverseStream `usage` block (with `metrics.latencyMs`).
    ConverseUsage,
    /// An Anthropic Messages body from InvokeModel (`usage.input_tokens`, ...).
    AnthropicBody,
    /// `amazon-bedrock-invocationMetrics` from a streaming InvokeModel.
    InvocationMetrics,
    /// An OpenTelemetry GenAI span (`gen_ai.usage.*`).
    OtelSpan,
}

/// How a source counts cache tokens relative to input tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenConvention {
    /// Input tokens exclude cache reads and writes (Bedrock's own fields).
    CacheSeparate,
    /// Input tokens include cache reads and writes, proven by the record's
    /// own total (`total = input + output`).
    CacheIncluded,
    /// Input tokens were taken to include cache tokens because the record has
    /// no total to prove either way (Strands ≥ 1.x spans do include them).
    CacheIncludedAssumed,
}

impl TokenConvention {
    /// Words for reports.
    pub fn describe(self) -> &'static str {
        match self {
            TokenConvention::CacheSeparate => "input excludes cache tokens (Bedrock convention)",
            TokenConvention::CacheIncluded => "input includes cache tokens (OTel convention, proven by total)",
            TokenConvention::CacheIncludedAssumed => "input includes cache tokens (OTel convention, assumed: no total)",
        }
    }
}

/// A model, region or identity name. Records repeat a few of them many
/// times over, so parsers share one allocation per name ([`parse::intern`]).
pub type Name = std::sync::Arc<str>;

/// Token usage of one Bedrock request, normalized.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageRecord {
    /// Source kind.
    pub kind: UsageSourceKind,
    /// The convention the source used (the counts below are normalized).
    pub convention: TokenConvention,
    /// Bedrock request id (`x-amzn-RequestId`), when the source has one.
    pub request_id: Option<String>,
    /// Request time, UTC ms.
    pub ts_ms: Option<i64>,
    /// Model id as the caller passed it (profile id or ARN).
    pub model: Name,
    /// Region the API was called in.
    pub region: Option<Name>,
    /// Region that served a cross-region request.
    pub inference_region: Option<Name>,
    /// Caller identity (IAM ARN).
    pub identity: Option<Name>,
    /// Uncached input tokens.
    pub input: u64,
    /// Output tokens.
    pub output: u64,
    /// Cache-read tokens; `None` when the source has no such field.
    pub cache_read: Option<u64>,
    /// Cache-write tokens (all TTLs); `None` when absent.
    pub cache_write: Option<u64>,
    /// The part of `cache_write` written with the 1-hour TTL.
    pub cache_write_1h: u64,
    /// Error code of a failed invocation.
    pub error_code: Option<String>,
    /// End-to-end latency, ms.
    pub latency_ms: Option<u64>,
    /// Hash of the request's system prompt and tools, when the body was
    /// logged: equal hashes prove a repeated prefix without keeping it.
    #[serde(skip)]
    pub prefix_hash: Option<u64>,
    /// Whether the logged body asked for caching (`cachePoint` /
    /// `cache_control`); `None` when no body was logged.
    pub cache_requested: Option<bool>,
    /// Whether the record carries complete token counts.
    pub complete: bool,
    /// Evidence location.
    #[serde(skip)]
    pub loc: Loc,
}

impl UsageRecord {
    /// Cache-read tokens, 0 when absent.
    pub fn read(&self) -> u64 {
        self.cache_read.unwrap_or(0)
    }

    /// Cache-write tokens, 0 when absent.
    pub fn write(&self) -> u64 {
        self.cache_write.unwrap_or(0)
    }

    /// The TTL of this record's cache writes (1 hour when any were 1-hour).
    pub fn write_ttl(&self) -> CacheTtl {
        if self.cache_write_1h > 0 { CacheTtl::OneHour } else { CacheTtl::FiveMinutes }
    }

    /// Every input-side token: uncached input plus cache reads and writes.
    pub fn total_input(&self) -> u64 {
        self.input + self.read() + self.write()
    }

    /// The region whose cache served the request.
    pub fn serving_region(&self) -> &str {
        self.inference_region.as_deref().or(self.region.as_deref()).unwrap_or("")
    }
}

/// What de-duplication did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DedupStats {
    /// Records read.
    pub records: u64,
    /// Records dropped because a later (or more complete) record had the same request id.
    pub duplicates_dropped: u64,
    /// Records with no request id, kept as they are (they cannot be matched).
    pub without_request_id: u64,
}

/// De-duplicates by request id, keeping the last complete record (the last
/// record when none is complete). Records must be in input order; the result
/// keeps the order of the records kept.
pub fn dedup(mut records: Vec<UsageRecord>) -> (Vec<UsageRecord>, DedupStats) {
    let mut stats = DedupStats { records: records.len() as u64, ..Default::default() };
    let mut keep: FxHashMap<&str, usize> = FxHashMap::with_capacity_and_hasher(records.len(), Default::default());
    for (i, r) in records.iter().enumerate() {
        // The ids are separate allocations, cold by now: ask for one a few
        // records ahead so that its bytes are cached when it is hashed.
        #[cfg(target_arch = "x86_64")]
        if let Some(id) = records.get(i + 8).and_then(|r| r.request_id.as_deref()) {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            // SAFETY: a prefetch is a hint; it never faults, whatever the address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(id.as_ptr().cast()) };
        }
        let Some(id) = r.request_id.as_deref() else {
            stats.without_request_id += 1;
            continue;
        };
        match keep.get(id) {
            Some(&j) if records[j].complete && !r.complete => {}
            _ => {
                keep.insert(id, i);
            }
        }
    }
    let mut kept = vec![false; records.len()];
    for &i in keep.values() {
        kept[i] = true;
    }
    // In place: no second copy of what may be millions of records.
    let mut kept = kept.into_iter();
    records.retain(|r| kept.next().unwrap_or(false) || r.request_id.is_none());
    stats.duplicates_dropped = stats.records - records.len() as u64;
    (records, stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: Option<&str>, input: u64, complete: bool) -> UsageRecord {
        UsageRecord {
            kind: UsageSourceKind::InvocationLog,
            convention: TokenConvention::CacheSeparate,
            request_id: id.map(str::to_string),
            ts_ms: Some(0),
            model: "m".into(),
            region: None,
            inference_region: None,
            identity: None,
            input,
            output: 0,
            cache_read: None,
            cache_write: None,
            cache_write_1h: 0,
            error_code: None,
            latency_ms: None,
            prefix_hash: None,
            cache_requested: None,
            complete,
            loc: Loc::default(),
        }
    }

    #[test]
    fn dedup_keeps_the_last_complete_record() {
        let (out, st) = dedup(vec![
            rec(Some("a"), 1, true),
            rec(Some("b"), 2, true),
            rec(Some("a"), 3, true),
            rec(Some("a"), 4, false),
            rec(None, 5, true),
            rec(None, 5, true),
        ]);
        assert_eq!(out.iter().map(|r| r.input).collect::<Vec<_>>(), vec![2, 3, 5, 5]);
        assert_eq!(st, DedupStats { records: 6, duplicates_dropped: 2, without_request_id: 2 });
    }
}
