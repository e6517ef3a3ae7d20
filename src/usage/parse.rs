//! Parsers for each usage source. Prompt and completion bodies are never
//! copied: invocation-log bodies are borrowed as raw JSON, searched for
//! cache markers and hashed, then dropped.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::{Name, TokenConvention, UsageRecord, UsageSourceKind};
use crate::agent::{FieldMap, first_str};
use crate::format::prefix::days_from_civil;
use crate::timeline::Loc;

/// The fields bfx keeps of an invocation-log record, borrowed from it. Read
/// by serde, or by [`super::scan`]'s faster walk over the same text.
#[derive(Deserialize, Default, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(super) struct InvRecord<'a> {
    #[serde(borrow)]
    pub timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub request_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub model_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub region: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub inference_region: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub identity: Option<Identity<'a>>,
    #[serde(borrow)]
    pub error_code: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub schema_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub input: Option<InvInput<'a>>,
    pub output: Option<InvOutput>,
}

#[derive(Deserialize, Default, Debug, PartialEq)]
pub(super) struct Identity<'a> {
    #[serde(borrow)]
    pub arn: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(super) struct InvInput<'a> {
    pub input_token_count: Option<u64>,
    pub cache_read_input_token_count: Option<u64>,
    pub cache_write_input_token_count: Option<u64>,
    #[serde(borrow)]
    pub input_body_json: Option<InputBody<'a>>,
}

#[derive(Deserialize, Default, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(super) struct InvOutput {
    pub output_token_count: Option<u64>,
    pub output_body_json: Option<OutputBody>,
}

/// A `usage` block in any of its spellings: Converse (`inputTokens`,
/// `cacheReadInputTokens`, `cacheDetails`), its raw aliases
/// (`cacheReadInputTokenCount`), and Anthropic's (`input_tokens`,
/// `cache_creation_input_tokens`, `cache_creation.ephemeral_1h_input_tokens`).
#[derive(Deserialize, Default, Debug, PartialEq)]
pub(super) struct UsageBlock {
    #[serde(rename = "inputTokens")]
    pub input_tokens: Option<u64>,
    #[serde(rename = "input_tokens")]
    pub input_tokens_a: Option<u64>,
    #[serde(rename = "outputTokens")]
    pub output_tokens: Option<u64>,
    #[serde(rename = "output_tokens")]
    pub output_tokens_a: Option<u64>,
    #[serde(rename = "cacheReadInputTokens")]
    pub cache_read: Option<u64>,
    #[serde(rename = "cacheReadInputTokenCount")]
    pub cache_read_count: Option<u64>,
    #[serde(rename = "cache_read_input_tokens")]
    pub cache_read_a: Option<u64>,
    #[serde(rename = "cacheWriteInputTokens")]
    pub cache_write: Option<u64>,
    #[serde(rename = "cacheWriteInputTokenCount")]
    pub cache_write_count: Option<u64>,
    #[serde(rename = "cache_creation_input_tokens")]
    pub cache_write_a: Option<u64>,
    #[serde(rename = "cacheDetails")]
    pub cache_details: Option<Vec<CacheDetail>>,
    pub cache_creation: Option<AnthropicCacheCreation>,
}

#[derive(Deserialize, Default, Debug, PartialEq)]
pub(super) struct CacheDetail {
    pub ttl: Option<String>,
    #[serde(rename = "inputTokens")]
    pub input_tokens: Option<u64>,
}

#[derive(Deserialize, Default, Debug, PartialEq)]
pub(super) struct AnthropicCacheCreation {
    pub ephemeral_1h_input_tokens: Option<u64>,
}

impl UsageBlock {
    fn input(&self) -> Option<u64> {
        self.input_tokens.or(self.input_tokens_a)
    }
    fn output(&self) -> Option<u64> {
        self.output_tokens.or(self.output_tokens_a)
    }
    fn read(&self) -> Option<u64> {
        self.cache_read.or(self.cache_read_count).or(self.cache_read_a)
    }
    fn write(&self) -> Option<u64> {
        self.cache_write.or(self.cache_write_count).or(self.cache_write_a)
    }
    fn write_1h(&self) -> u64 {
        let details: u64 = self
            .cache_details
            .iter()
            .flatten()
            .filter(|d| d.ttl.as_deref() == Some("1h"))
            .filter_map(|d| d.input_tokens)
            .sum();
        details + self.cache_creation.as_ref().and_then(|c| c.ephemeral_1h_input_tokens).unwrap_or(0)
    }
}

/// What bfx needs of `outputBodyJson`: an object for Converse and
/// InvokeModel (usage and latency), an array of stream events for the
/// streaming operations (skipped: the record's own counts cover them).
#[derive(Default, Debug, PartialEq)]
pub(super) struct OutputBody {
    pub usage: Option<UsageBlock>,
    pub latency_ms: Option<u64>,
}

impl<'de> Deserialize<'de> for OutputBody {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OutputBodyVisitor)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
enum OutputKey {
    Usage,
    Metrics,
    #[serde(other)]
    Other,
}

struct OutputBodyVisitor;

impl<'de> serde::de::Visitor<'de> for OutputBodyVisitor {
    type Value = OutputBody;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an output body")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<OutputBody, A::Error> {
        let mut out = OutputBody::default();
        while let Some(k) = m.next_key::<OutputKey>()? {
            match k {
                OutputKey::Usage => out.usage = m.next_value()?,
                OutputKey::Metrics => out.latency_ms = m.next_value::<Option<Metrics>>()?.and_then(|x| x.latency_ms),
                OutputKey::Other => {
                    m.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut s: A) -> Result<OutputBody, A::Error> {
        while s.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(OutputBody::default())
    }

    fn visit_str<E>(self, _: &str) -> Result<OutputBody, E> {
        Ok(OutputBody::default())
    }

    fn visit_unit<E>(self) -> Result<OutputBody, E> {
        Ok(OutputBody::default())
    }
}

#[derive(Deserialize)]
struct Metrics {
    #[serde(rename = "latencyMs")]
    latency_ms: Option<u64>,
}

/// The parts of a request body that make up its cacheable prefix, as raw
/// JSON text (`null` reads as absent).
#[derive(Deserialize, Default, Debug, PartialEq)]
pub(super) struct InputBody<'a> {
    #[serde(borrow, default, deserialize_with = "raw_text")]
    pub system: Option<&'a str>,
    #[serde(borrow, default, rename = "toolConfig", deserialize_with = "raw_text")]
    pub tool_config: Option<&'a str>,
    #[serde(borrow, default, deserialize_with = "raw_text")]
    pub tools: Option<&'a str>,
}

/// A value's raw JSON text, as serde_json's `RawValue` borrows it. (With
/// `deserialize_with`, a missing field needs `default` to read as `None`.)
fn raw_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de str>, D::Error> {
    Ok(Option::<&'de RawValue>::deserialize(d)?.map(RawValue::get))
}

/// What a logged request body says about caching, without keeping it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BodyFacts {
    /// xxh3 of the system prompt and tool definitions (`None` if neither).
    pub prefix_hash: Option<u64>,
    /// The body has a `cachePoint` or `cache_control` marker.
    pub cache_requested: bool,
    /// A marker asks for the 1-hour TTL.
    pub ttl_1h: bool,
}

/// Reads the cache-relevant facts of a Converse or Anthropic request body.
pub fn body_facts(raw: &str) -> BodyFacts {
    let (cache_requested, ttl_1h) = cache_markers(raw);
    let prefix_hash = serde_json::from_str::<InputBody<'_>>(raw).ok().and_then(|b| b.prefix_hash());
    BodyFacts { prefix_hash, cache_requested, ttl_1h }
}

impl InputBody<'_> {
    fn prefix_hash(&self) -> Option<u64> {
        let tools = self.tool_config.or(self.tools);
        if self.system.is_none() && tools.is_none() {
            return None;
        }
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(self.system.unwrap_or("").as_bytes());
        h.update(b"\0");
        h.update(tools.unwrap_or("").as_bytes());
        Some(h.digest())
    }
}

/// Whether text holds a `cachePoint` / `cache_control` key, and a `"ttl"`
/// of `"1h"`. Inside a JSON string the quotes would be escaped, so
/// prompt text that mentions these words does not match.
fn cache_markers(raw: &str) -> (bool, bool) {
    let b = raw.as_bytes();
    let f = &*FINDERS;
    let cache_requested = f.cache_point.find(b).is_some() || f.cache_control.find(b).is_some();
    let ttl_1h = cache_requested
        && f.ttl.find_iter(b).any(|i| {
            let rest = b[i + 5..].trim_ascii_start();
            rest.strip_prefix(b":").is_some_and(|r| r.trim_ascii_start().starts_with(b"\"1h\""))
        });
    (cache_requested, ttl_1h)
}

/// Searchers built once: building one per record is measurable.
struct Finders {
    cache_point: memchr::memmem::Finder<'static>,
    cache_control: memchr::memmem::Finder<'static>,
    ttl: memchr::memmem::Finder<'static>,
}

static FINDERS: std::sync::LazyLock<Finders> = std::sync::LazyLock::new(|| Finders {
    cache_point: memchr::memmem::Finder::new(b"\"cachePoint\""),
    cache_control: memchr::memmem::Finder::new(b"\"cache_control\""),
    ttl: memchr::memmem::Finder::new(b"\"ttl\""),
});

/// Parses an ISO-8601 UTC time (`2026-04-19T13:28:51Z`, with optional
/// fraction, `Z` or `+00:00`) into UTC ms.
pub fn parse_iso_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, mo, d, h, mi, se) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    let mut ms = 0;
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        let digits = &frac[..n];
        let mut v: i64 = 0;
        for (i, c) in digits.bytes().take(3).enumerate() {
            v += (c - b'0') as i64 * [100, 10, 1][i];
        }
        ms = v;
        rest = &frac[n..];
    }
    let offset_min = match rest {
        "" | "Z" => 0,
        r if r.len() == 6 && (r.starts_with('+') || r.starts_with('-')) => {
            let sign = if r.starts_with('-') { -1 } else { 1 };
            sign * (r[1..3].parse::<i64>().ok()? * 60 + r[4..6].parse::<i64>().ok()?)
        }
        _ => return None,
    };
    Some(((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60_000 + se * 1000 + ms - offset_min * 60_000)
}

/// The shared allocation for a name (model, region, identity), from a
/// per-thread table. The table is emptied when it reaches 4,096 names, so
/// memory stays bounded however many identities a log holds.
pub fn intern(name: &str) -> Name {
    thread_local! {
        static NAMES: std::cell::RefCell<crate::hash::FxHashSet<Name>> = Default::default();
    }
    NAMES.with_borrow_mut(|names| {
        if let Some(n) = names.get(name) {
            return n.clone();
        }
        if names.len() >= 4096 {
            names.clear();
        }
        let n: Name = name.into();
        names.insert(n.clone());
        n
    })
}

fn empty_record(kind: UsageSourceKind, convention: TokenConvention, model: &str) -> UsageRecord {
    UsageRecord {
        kind,
        convention,
        request_id: None,
        ts_ms: None,
        model: intern(model),
        region: None,
        inference_region: None,
        identity: None,
        input: 0,
        output: 0,
        cache_read: None,
        cache_write: None,
        cache_write_1h: 0,
        error_code: None,
        latency_ms: None,
        prefix_hash: None,
        cache_requested: None,
        complete: false,
        loc: Loc::default(),
    }
}

/// Parses a Bedrock model-invocation log record: `Ok(None)` for well-formed
/// JSON whose top-level `schemaType` is not `ModelInvocationLog`.
///
/// The common shape is read by [`super::scan`], a walk over the text that
/// keeps a handful of fields; anything it does not handle exactly as serde
/// would (escapes in kept strings, odd types, duplicate keys, bad JSON) is
/// read by serde, which also words the error.
pub fn invocation_log(msg: &str) -> Result<Option<UsageRecord>, String> {
    let msg = msg.trim();
    let r = match super::scan::invocation_record(msg) {
        Some(r) => r,
        None => invocation_record_serde(msg)?,
    };
    if r.schema_type.as_deref() != Some("ModelInvocationLog") {
        return Ok(None);
    }
    Ok(Some(usage_of(r, msg)))
}

/// The serde reading of an invocation-log record: the reference the fast
/// walk is tested against.
pub(super) fn invocation_record_serde(msg: &str) -> Result<InvRecord<'_>, String> {
    serde_json::from_str(msg).map_err(|e| format!("invocation-log record: {e}"))
}

fn usage_of(r: InvRecord<'_>, msg: &str) -> UsageRecord {
    let s = |c: Option<Cow<'_, str>>| c.map(Cow::into_owned);
    let name = |c: Option<Cow<'_, str>>| c.as_deref().map(intern);
    let mut u = empty_record(
        UsageSourceKind::InvocationLog,
        TokenConvention::CacheSeparate,
        r.model_id.as_deref().unwrap_or_default(),
    );
    u.ts_ms = r.timestamp.as_deref().and_then(parse_iso_ms);
    u.request_id = s(r.request_id);
    u.region = name(r.region);
    u.inference_region = name(r.inference_region);
    u.identity = r.identity.and_then(|i| name(i.arn));
    u.error_code = s(r.error_code);
    let (mut input, mut output) = (None, None);
    let mut ttl_1h = false;
    if let Some(i) = r.input {
        input = i.input_token_count;
        u.cache_read = i.cache_read_input_token_count;
        u.cache_write = i.cache_write_input_token_count;
        if let Some(body) = i.input_body_json {
            // The markers are searched in the whole record, one SIMD pass:
            // only the request body can hold them unescaped (cacheDetails'
            // `"ttl": "1h"` in the output says the same thing).
            let (requested, one_hour) = cache_markers(msg);
            u.prefix_hash = body.prefix_hash();
            u.cache_requested = Some(requested);
            ttl_1h = one_hour;
        }
    }
    if let Some(o) = r.output {
        output = o.output_token_count;
        if let Some(ob) = o.output_body_json {
            u.latency_ms = ob.latency_ms;
            if let Some(usage) = ob.usage {
                // The record's own input fields are authoritative; the body
                // fills in what an older record lacks, and the TTL split.
                u.cache_read = u.cache_read.or(usage.read());
                u.cache_write = u.cache_write.or(usage.write());
                u.cache_write_1h = usage.write_1h();
                input = input.or(usage.input());
                output = output.or(usage.output());
            }
        }
    }
    if u.cache_write_1h == 0 && ttl_1h {
        // No TTL split logged: the body's 1-hour marker says which TTL.
        u.cache_write_1h = u.write();
    }
    u.cache_write_1h = u.cache_write_1h.min(u.write());
    u.complete = input.is_some() && output.is_some();
    u.input = input.unwrap_or(0);
    u.output = output.unwrap_or(0);
    u
}

fn num(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0).round() as u64)),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str().filter(|s| !s.is_empty())
}

/// Recognises a usage record in a JSON document from an application log,
/// a response dump or a span: Converse / ConverseStream usage blocks,
/// Anthropic InvokeModel bodies, `amazon-bedrock-invocationMetrics`, and
/// OpenTelemetry GenAI spans. Returns `None` for anything else.
pub fn from_json(doc: &Value, fields: &FieldMap) -> Option<UsageRecord> {
    if let Some(attrs) = doc.get("attributes").filter(|a| a.is_object())
        && (attrs.get("gen_ai.usage.input_tokens").is_some() || attrs.get("gen_ai.usage.prompt_tokens").is_some())
    {
        return Some(otel_span(doc, attrs));
    }
    let metrics = doc.get("amazon-bedrock-invocationMetrics");
    let usage_v = doc.get("usage").or_else(|| doc.get("metadata").and_then(|m| m.get("usage")));
    let (kind, usage) = match (metrics, usage_v) {
        (Some(m), _) => (UsageSourceKind::InvocationMetrics, m),
        (None, Some(u)) if u.get("inputTokens").is_some() => (UsageSourceKind::ConverseUsage, u),
        (None, Some(u)) if u.get("input_tokens").is_some() => (UsageSourceKind::AnthropicBody, u),
        _ => return None,
    };
    let model = first_str(doc, &fields.model).unwrap_or_default();
    let mut u = empty_record(kind, TokenConvention::CacheSeparate, &model);
    let (input, output) = if kind == UsageSourceKind::InvocationMetrics {
        u.cache_read = num(usage.get("cacheReadInputTokenCount"));
        u.cache_write = num(usage.get("cacheWriteInputTokenCount"));
        u.latency_ms = num(usage.get("invocationLatency"));
        (num(usage.get("inputTokenCount")), num(usage.get("outputTokenCount")))
    } else {
        let block = UsageBlock::deserialize(usage).unwrap_or_default();
        u.cache_read = block.read();
        u.cache_write = block.write();
        u.cache_write_1h = block.write_1h().min(u.write());
        let metrics = doc.get("metrics").or_else(|| doc.get("metadata").and_then(|m| m.get("metrics")));
        u.latency_ms = metrics.and_then(|m| num(m.get("latencyMs")));
        (block.input(), block.output())
    };
    u.request_id =
        str_at(doc, &["ResponseMetadata", "RequestId"]).map(str::to_string).or_else(|| first_str(doc, &fields.request));
    u.ts_ms = doc.get("timestamp").and_then(|t| match t {
        Value::String(s) => parse_iso_ms(s),
        Value::Number(n) => n.as_i64(),
        _ => None,
    });
    u.region = first_str(doc, &fields.region).as_deref().map(intern);
    u.inference_region = str_at(doc, &["inferenceRegion"]).map(intern);
    u.identity = str_at(doc, &["identity", "arn"])
        .or_else(|| str_at(doc, &["identity"]))
        .or_else(|| str_at(doc, &["service"]))
        .map(intern);
    u.complete = input.is_some() && output.is_some();
    u.input = input.unwrap_or(0);
    u.output = output.unwrap_or(0);
    Some(u)
}

fn otel_span(doc: &Value, attrs: &Value) -> UsageRecord {
    let a = |k: &str| num(attrs.get(k));
    let model = attrs.get("gen_ai.request.model").and_then(Value::as_str).unwrap_or("").to_string();
    let input = a("gen_ai.usage.input_tokens").or(a("gen_ai.usage.prompt_tokens"));
    let output = a("gen_ai.usage.output_tokens").or(a("gen_ai.usage.completion_tokens"));
    let total = a("gen_ai.usage.total_tokens");
    let read = a("gen_ai.usage.cache_read.input_tokens").or(a("gen_ai.usage.cache_read_input_tokens"));
    let write = a("gen_ai.usage.cache_creation.input_tokens").or(a("gen_ai.usage.cache_write_input_tokens"));
    let cache = read.unwrap_or(0) + write.unwrap_or(0);
    let (i, o) = (input.unwrap_or(0), output.unwrap_or(0));
    // The span's own total says whether input counted the cache tokens.
    let convention = match total {
        _ if cache == 0 => TokenConvention::CacheSeparate,
        Some(t) if t == i + o + cache => TokenConvention::CacheSeparate,
        Some(t) if t == i + o => TokenConvention::CacheIncluded,
        _ if i < cache => TokenConvention::CacheSeparate,
        _ => TokenConvention::CacheIncludedAssumed,
    };
    let mut u = empty_record(UsageSourceKind::OtelSpan, convention, &model);
    u.input = if convention == TokenConvention::CacheSeparate { i } else { i - cache };
    u.output = o;
    u.cache_read = read;
    u.cache_write = write;
    u.complete = input.is_some() && output.is_some();
    u.request_id =
        attrs.get("aws.request_id").or_else(|| attrs.get("aws.requestId")).and_then(Value::as_str).map(str::to_string);
    let start_ns = num(doc.get("startTimeUnixNano"));
    u.ts_ms = start_ns.map(|n| (n / 1_000_000) as i64);
    u.latency_ms = a("gen_ai.server.request.duration").or_else(|| num(doc.get("durationNano")).map(|n| n / 1_000_000));
    u.identity = str_at(doc, &["resource", "attributes", "service.name"]).map(intern);
    u.region = attrs.get("cloud.region").and_then(Value::as_str).map(intern);
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times() {
        assert_eq!(parse_iso_ms("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_iso_ms("1970-01-01T00:00:01.25Z"), Some(1250));
        assert_eq!(parse_iso_ms("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_iso_ms("nope"), None);
    }

    #[test]
    fn shared_2026_capture_records() {
        // From shared/formats/bedrock_invocation_logs/captured_format_reference_2026.md (compacted).
        let rec = r#"{"timestamp":"2026-04-19T23:57:01Z","accountId":"123456789012","region":"us-west-2","requestId":"5346af27-8f56-4fb8-a6de-058be7a50818","operation":"ConverseStream","modelId":"global.anthropic.claude-opus-4-6-v1","input":{"inputContentType":"application/json","inputBodyJson":{"messages":"[...truncated...]"},"inputTokenCount":3,"cacheReadInputTokenCount":0,"cacheWriteInputTokenCount":24479},"output":{"outputContentType":"application/json","outputBodyJson":{"output":"[...truncated...]","stopReason":"end_turn","metrics":{"latencyMs":7460},"usage":{"inputTokens":3,"cacheReadInputTokens":0,"cacheWriteInputTokens":24479,"outputTokens":52,"totalTokens":24534}},"outputTokenCount":52},"identity":{"arn":"arn:aws:iam::123456789012:user/your-br-api-key"},"inferenceRegion":"us-east-2","schemaType":"ModelInvocationLog","schemaVersion":"1.0"}"#;
        let u = invocation_log(rec).unwrap().unwrap();
        assert_eq!((u.input, u.output, u.cache_read, u.cache_write), (3, 52, Some(0), Some(24479)));
        assert_eq!(u.inference_region.as_deref(), Some("us-east-2"));
        assert_eq!(u.latency_ms, Some(7460));
        assert_eq!(u.cache_requested, Some(false));
        assert!(u.complete);
    }

    #[test]
    fn converse_usage_with_cache_details_and_aliases() {
        // tensorzero#5688's raw usage (shared/formats/bedrock_runtime_responses).
        let doc: Value = serde_json::from_str(r#"{"modelId":"us.anthropic.claude-haiku-4-5-20251001-v1:0","usage":{"cacheDetails":[{"inputTokens":7502,"ttl":"5m"}],"cacheReadInputTokenCount":0,"cacheReadInputTokens":0,"cacheWriteInputTokenCount":7502,"cacheWriteInputTokens":7502,"inputTokens":18,"outputTokens":386,"serverToolUsage":{},"totalTokens":7906}}"#).unwrap();
        let u = from_json(&doc, &FieldMap::default()).unwrap();
        assert_eq!(u.kind, UsageSourceKind::ConverseUsage);
        assert_eq!((u.input, u.output, u.read(), u.write(), u.cache_write_1h), (18, 386, 0, 7502, 0));
    }

    #[test]
    fn otel_convention_is_proven_by_total() {
        let span = |total: &str| -> UsageRecord {
            let doc: Value = serde_json::from_str(&format!(
                r#"{{"traceId":"t","spanId":"s","name":"chat","attributes":{{"gen_ai.request.model":"m","gen_ai.usage.input_tokens":1100,"gen_ai.usage.output_tokens":10,{total}"gen_ai.usage.cache_read.input_tokens":1000}}}}"#
            ))
            .unwrap();
            from_json(&doc, &FieldMap::default()).unwrap()
        };
        let inc = span(r#""gen_ai.usage.total_tokens":1110,"#);
        assert_eq!((inc.convention, inc.input), (TokenConvention::CacheIncluded, 100));
        let sep = span(r#""gen_ai.usage.total_tokens":2110,"#);
        assert_eq!((sep.convention, sep.input), (TokenConvention::CacheSeparate, 1100));
        let assumed = span("");
        assert_eq!((assumed.convention, assumed.input), (TokenConvention::CacheIncludedAssumed, 100));
    }

    #[test]
    fn body_markers() {
        let f = body_facts(
            r#"{"system":[{"text":"x"},{"cachePoint":{"type":"default","ttl": "1h"}}],"messages":[],"toolConfig":{"tools":[]}}"#,
        );
        assert!(f.cache_requested && f.ttl_1h && f.prefix_hash.is_some());
        let g = body_facts(r#"{"messages":[{"role":"user","content":[{"text":"ttl \"1h\""}]}]}"#);
        assert_eq!(g, BodyFacts { prefix_hash: None, cache_requested: false, ttl_1h: false });
    }
}
