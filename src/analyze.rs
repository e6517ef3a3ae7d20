//! The pipeline: sources → formats → events → timelines → detectors → report.

use std::collections::BTreeMap;
use std::io::BufRead;

use rayon::prelude::*;
use serde::Serialize;

use crate::agent::turns::{self as agent_turns, ThrottleReport};
use crate::agent::{AgentRecord, FieldMap};
use crate::container;
use crate::event::{Event, EventKind};
use crate::format::EventSink;
use crate::format::prefix::LineFormat;
use crate::payload::{self, PayloadKind};
use crate::prices::PriceTable;
use crate::usage::cost::{self, CostReport};
use crate::usage::cur::{self, CurRow};
use crate::usage::{self as usage_mod, UsageRecord};

use crate::detect::{self, DetectorInput, DetectorSettings, Finding};
use crate::format::{self, ParseOptions, SourceReport};
use crate::source::{self, Compression, Input};
use crate::timeline::{Call, ClientNotes, TimelineBuilder};

/// Version of the JSON report schema (`docs/json-schema.md`). Bumped on any
/// change that removes or renames a field.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything `bfx analyze` needs besides its inputs.
#[derive(Debug, Clone, Default)]
pub struct AnalyzeOptions {
    /// Parsing options.
    pub parse: ParseOptions,
    /// Detector thresholds.
    pub detect: DetectorSettings,
    /// Agent-log options.
    pub agent: AgentOptions,
    /// Price table (`--prices`); the embedded one when `None`.
    pub prices: Option<PriceTable>,
    /// Told of raw bytes read, for a progress bar.
    pub progress: Option<source::ByteProgress>,
    /// Told (with 1) each time an input has been parsed, for a progress bar.
    pub on_input_done: Option<source::ByteProgress>,
    /// `--since` / `--until` (UTC ms): container events and usage records
    /// outside are dropped after parsing (and counted as noise). Plain
    /// botocore logs are not filtered: their asctime has no zone.
    pub window: (Option<i64>, Option<i64>),
}

impl AnalyzeOptions {
    fn outside(&self, ts_ms: i64) -> bool {
        self.window.0.is_some_and(|s| ts_ms < s) || self.window.1.is_some_and(|u| ts_ms > u)
    }
}

/// How agent logs are read and grouped.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// JSON field names per meaning (`--field`).
    pub fields: FieldMap,
    /// Records of one stream with no turn id belong to one turn while they
    /// are no more than this far apart (ms).
    pub turn_gap_ms: i64,
    /// Requests-per-minute quotas by model (`--quota model=RPM`).
    pub quotas: BTreeMap<String, u64>,
}

impl Default for AgentOptions {
    fn default() -> Self {
        AgentOptions { fields: FieldMap::default(), turn_gap_ms: 300_000, quotas: BTreeMap::new() }
    }
}

/// One source's results: its accounting and the client it describes.
#[derive(Debug, Clone, Serialize)]
pub struct SourceSummary {
    /// Accounting and warnings.
    #[serde(flatten)]
    pub report: SourceReport,
    /// Calls rebuilt from it.
    pub calls: usize,
    /// What was inferred or assumed about its client.
    pub client: Option<ClientNotes>,
}

/// The result of an analysis.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// bfx's version.
    pub bfx_version: &'static str,
    /// Thresholds used.
    pub settings: DetectorSettings,
    /// Every input, in the order given (folders and globs sorted).
    pub sources: Vec<SourceSummary>,
    /// Inputs that could not be read, and why.
    pub errors: Vec<String>,
    /// Totals over all sources.
    pub totals: Totals,
    /// Findings, highest impact first.
    pub findings: Vec<Finding>,
    /// Throttle amplification over agent model calls, when agent logs were found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttle: Option<ThrottleReport>,
    /// Usage, cost and cache billing, when usage records were found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<CostReport>,
    /// Every call's timeline, only when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timelines: Option<Vec<CallTimeline>>,
    /// Not serialized: the calls themselves.
    #[serde(skip)]
    pub calls: Vec<Call>,
    /// Not serialized: de-duplicated usage records.
    #[serde(skip)]
    pub usage_records: Vec<UsageRecord>,
    /// Not serialized: agent turns.
    #[serde(skip)]
    pub turns: Vec<crate::agent::turns::Turn>,
    /// Not serialized: agent model calls (`turn` indexes `turns`).
    #[serde(skip)]
    pub agent_calls: Vec<crate::agent::turns::AgentCall>,
    /// Not serialized: the price table used.
    #[serde(skip)]
    pub prices: Option<PriceTable>,
}

/// A call with its source named, for `--timelines`.
#[derive(Debug, Clone, Serialize)]
pub struct CallTimeline {
    /// Source name.
    pub source: String,
    /// The call.
    #[serde(flatten)]
    pub call: Call,
}

/// Totals over all sources.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    /// Inputs analyzed.
    pub sources: usize,
    /// Lines read.
    pub lines_read: u64,
    /// Lines parsed.
    pub parsed: u64,
    /// Known-noise lines.
    pub noise: u64,
    /// Unrecognized lines.
    pub unrecognized: u64,
    /// Calls rebuilt.
    pub calls: usize,
    /// HTTP attempts.
    pub attempts: usize,
}

impl Analysis {
    /// Whether some input could not be read fully (the exit code says so).
    pub fn is_partial(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Fills `timelines` with every call.
    pub fn with_timelines(mut self) -> Self {
        self.timelines = Some(
            self.calls
                .iter()
                .map(|c| CallTimeline { source: self.sources[c.source].report.name.clone(), call: c.clone() })
                .collect(),
        );
        self
    }
}

/// Expands INPUT arguments and analyzes them.
pub fn analyze_args(args: &[String], opts: &AnalyzeOptions) -> Analysis {
    let (inputs, errors) = source::expand_inputs(args);
    analyze_expanded(&inputs, errors, opts)
}

/// Analyzes inputs already expanded, reporting the expansion's errors first.
pub fn analyze_expanded(inputs: &[Input], errors: Vec<crate::error::SourceError>, opts: &AnalyzeOptions) -> Analysis {
    let mut a = analyze(inputs, opts);
    let mut errs: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    errs.append(&mut a.errors);
    a.errors = errs;
    a
}

/// What parsing one input produced, before the cross-source stage.
enum Parsed {
    /// A plain log: its calls are rebuilt within the file.
    Text(SourceSummary, Vec<Call>),
    /// A CloudWatch container: its events wait for de-duplication and
    /// per-stream ordering across all inputs.
    /// The usage records are in event order, one per event whose `usage` is set.
    Container(SourceReport, Vec<StreamEvent>, Vec<String>, Vec<UsageRecord>),
    /// CUR 2.0 rows.
    Cur(SourceReport, Vec<CurRow>),
}

/// A botocore event of a log stream: (time, source, line, event, thread).
type StreamItem = (i64, usize, u64, EventKind, Option<String>);

/// One container event, reduced to what the later stages need (no message).
struct StreamEvent {
    /// Index into the source's stream table.
    stream: u32,
    ts_ms: i64,
    line: u64,
    dedup: u64,
    kind: PayloadKind,
    event: Option<Box<(EventKind, Option<String>)>>,
    agent: Option<Box<payload::AgentPart>>,
    /// The event carries the next of the source's usage records. (Records
    /// are kept in one vector, not boxed per event: a box per record until
    /// the merge doubled the memory, and page faults, of an invocation-log
    /// run.)
    usage: bool,
}

/// Stream names of one source, interned.
#[derive(Default)]
struct StreamTable {
    names: Vec<String>,
    index: std::collections::HashMap<(Option<String>, String), u32>,
    last: Option<(Option<String>, String, u32)>,
}

impl StreamTable {
    fn intern(&mut self, group: Option<&str>, stream: &str) -> u32 {
        // Events of one stream come in runs: compare with the last one first.
        if let Some((g, st, i)) = &self.last
            && g.as_deref() == group
            && st == stream
        {
            return *i;
        }
        let i = self.lookup(group, stream);
        self.last = Some((group.map(str::to_string), stream.to_string(), i));
        i
    }

    fn lookup(&mut self, group: Option<&str>, stream: &str) -> u32 {
        if let Some(&i) = self.index.get(&(group.map(str::to_string), stream.to_string())) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(match group {
            Some(g) => format!("{g}/{stream}"),
            None => stream.to_string(),
        });
        self.index.insert((group.map(str::to_string), stream.to_string()), i);
        i
    }
}

fn error_report(name: &str, e: String) -> SourceReport {
    SourceReport { error: Some(e), ..SourceReport::new(name, Compression::None) }
}

/// Parses input `i`; `fetched` is its raw bytes when they were opened ahead
/// (S3 objects).
fn parse_one(i: usize, input: &Input, opts: &AnalyzeOptions, fetched: Option<crate::s3::Body>) -> Parsed {
    let progress = opts.progress.as_ref();
    let opened = match fetched {
        Some(raw) => raw.and_then(|raw| source::decode(input, raw, progress)),
        None => source::open_with_progress(input, progress),
    };
    let (mut reader, compression) = match opened {
        Ok(r) => r,
        Err(e) => {
            return Parsed::Text(
                SourceSummary { report: error_report(&input.name, e.to_string()), calls: 0, client: None },
                Vec::new(),
            );
        }
    };
    let (kind, marker, is_cur, is_parquet) = match reader.fill_buf() {
        Ok(head) => {
            let head = &head[..head.len().min(source::SNIFF_BYTES)];
            (
                container::sniff(head),
                head.trim_ascii() == b"Permission Check Successful",
                cur::sniff(head),
                cur::is_parquet(head),
            )
        }
        Err(_) => (None, false, false, false),
    };
    if is_cur || is_parquet {
        let mut report = SourceReport::new(&input.name, compression);
        let rows = match (&input.origin, is_parquet) {
            (_, false) => cur::read_csv(reader, i),
            (source::Origin::File(path), true) if compression == Compression::None => cur::read_parquet(path, i),
            _ => Err("a Parquet file must be read from an uncompressed local file".to_string()),
        };
        match rows {
            Ok((rows, stats)) => {
                report.lines.lines_read = stats.rows;
                report.lines.parsed = stats.parsed;
                report.lines.noise = stats.other;
                report.lines.unrecognized = stats.unmatched.iter().map(|u| u.1).sum();
                for (ut, n) in &stats.unmatched {
                    report.warnings.push(format!(
                        "{}: {n} CUR rows of usage type {ut} name no model bfx can match; not reconciled",
                        input.name
                    ));
                }
                return Parsed::Cur(report, rows);
            }
            Err(e) => {
                report.error = Some(format!("{}: {e}", input.name));
                return Parsed::Cur(report, Vec::new());
            }
        }
    }
    if marker {
        // CloudWatch's `aws-logs-write-test` object, written by CreateExportTask.
        let mut report = SourceReport::new(&input.name, compression);
        report.lines.lines_read = 1;
        report.lines.noise = 1;
        report.warnings.push(format!("{}: CloudWatch export permission-check marker, ignored", input.name));
        return Parsed::Text(SourceSummary { report, calls: 0, client: None }, Vec::new());
    }
    match kind {
        None => {
            let mut builder = TimelineBuilder::new(i);
            match format::parse_reader(i, &input.name, reader, compression, &opts.parse, &mut builder) {
                Ok(report) => {
                    let (calls, notes) = builder.finish();
                    let client = if calls.is_empty() { None } else { Some(notes) };
                    Parsed::Text(SourceSummary { calls: calls.len(), client, report }, calls)
                }
                Err(e) => Parsed::Text(
                    SourceSummary { report: error_report(&input.name, e.to_string()), calls: 0, client: None },
                    Vec::new(),
                ),
            }
        }
        Some(kind) => {
            let formats: Vec<LineFormat> = match &opts.parse.custom {
                Some(f) => vec![f.clone()],
                None => LineFormat::builtins().to_vec(),
            };
            let hint = container::export_stream_name(&input.name);
            let mut report = SourceReport::new(&input.name, compression);
            report.container = Some(kind);
            let mut events = Vec::new();
            let mut usage = Vec::new();
            let mut table = StreamTable::default();
            let mut routed: Vec<(payload::Routed, u64)> = Vec::new();
            let result = container::read_events(kind, reader, &hint, &mut |evs| {
                // Routing is the costly part: classify the batch in parallel,
                // then record it in file order.
                routed.clear();
                routed.par_extend(
                    evs.par_iter()
                        .with_min_len(256)
                        .map(|e| (payload::route(&e.message, &formats, &opts.agent.fields), dedup_key(e))),
                );
                for (e, (r, dedup)) in evs.iter().zip(routed.drain(..)) {
                    events.push(StreamEvent {
                        stream: table.intern(e.group.as_deref(), &e.stream),
                        ts_ms: e.ts_ms,
                        line: e.line,
                        dedup,
                        kind: r.kind,
                        event: r.event,
                        agent: r.agent,
                        usage: r.usage.is_some(),
                    });
                    if let Some(u) = r.usage {
                        usage.push(*u);
                    }
                }
            });
            if events.is_empty() && result.as_ref().is_ok_and(|st| st.control_messages == 0) {
                // Shaped like a container but holding no log event (e.g. a
                // schema document): say so rather than count nothing.
                report.lines.lines_read += 1;
                report.lines.unrecognized += 1;
                report.warnings.push(format!(
                    "{}: looks like a CloudWatch {kind:?} document but holds no log events; counted as 1 unrecognized document",
                    input.name
                ));
            }
            match result {
                Ok(stats) => {
                    report.lines.noise += stats.control_messages;
                    report.lines.lines_read += stats.control_messages + stats.stray_lines;
                    report.lines.unrecognized += stats.stray_lines;
                    if stats.control_messages > 0 {
                        report.warnings.push(format!(
                            "{}: {} CONTROL_MESSAGE payloads ignored",
                            input.name, stats.control_messages
                        ));
                    }
                }
                Err(e) => report.error = Some(format!("{}: {e}; the events before it were analyzed", input.name)),
            }
            Parsed::Container(report, events, table.names, usage)
        }
    }
}

/// CloudWatch event ids are unique per event; containers without ids
/// (exports, Insights) fall back to stream, time and message.
fn dedup_key(e: &container::CwEvent<'_>) -> u64 {
    // xxh3: fast over whole messages, and 64 bits keep accidental
    // collisions (which would drop a real event) out of reach in practice.
    use crate::hash::xxh3;
    match &e.id {
        Some(id) => xxh3(id.as_bytes(), 1),
        None => {
            let mut h = xxh3(e.group.as_deref().unwrap_or("").as_bytes(), 2);
            h = xxh3(e.stream.as_bytes(), h);
            h = xxh3(&e.ts_ms.to_le_bytes(), h);
            xxh3(e.message.as_bytes(), h)
        }
    }
}

/// Parses every input into its slot inside `scope`: local ones straight
/// away, S3 objects (`s3`) as [`crate::s3::fetch_all`] delivers them.
fn parse_in_scope<'a>(
    scope: &rayon::Scope<'a>,
    inputs: &'a [Input],
    s3: Vec<crate::s3::Fetch>,
    slots: &'a [std::sync::OnceLock<Parsed>],
    parse: &'a (impl Fn(usize, Option<crate::s3::Body>) -> Parsed + Sync),
) {
    for (i, input) in inputs.iter().enumerate() {
        if !matches!(input.origin, source::Origin::S3 { .. }) {
            scope.spawn(move |_| {
                let _ = slots[i].set(parse(i, None));
            });
        }
    }
    crate::s3::fetch_all(s3, |i, body| {
        scope.spawn(move |_| {
            let _ = slots[i].set(parse(i, Some(body)));
        });
    });
}

/// Analyzes inputs in parallel. The result does not depend on the number of
/// threads: sources are parsed independently and collected in input order,
/// then container events are de-duplicated in input order and each log
/// stream is rebuilt in time order.
pub fn analyze(inputs: &[Input], opts: &AnalyzeOptions) -> Analysis {
    let parse = |i: usize, fetched: Option<crate::s3::Body>| {
        let p = parse_one(i, &inputs[i], opts, fetched);
        if let Some(done) = &opts.on_input_done {
            (done.0)(1);
        }
        p
    };
    let s3: Vec<crate::s3::Fetch> = inputs
        .iter()
        .enumerate()
        .filter_map(|(index, input)| match &input.origin {
            source::Origin::S3 { bucket, key, size } => {
                Some(crate::s3::Fetch { index, bucket: bucket.clone(), key: key.clone(), size: *size })
            }
            _ => None,
        })
        .collect();
    let parsed: Vec<Parsed> = if s3.is_empty() {
        (0..inputs.len()).into_par_iter().map(|i| parse(i, None)).collect()
    } else {
        // S3 objects are parsed in the order their bodies arrive, each into
        // its input's slot, so the result's order is the inputs' order. A
        // streamed (large) object's parser waits on the network as it
        // reads, so those get threads of their own, as many as may stream
        // at once; small objects arrive whole and only need CPU.
        let slots: Vec<std::sync::OnceLock<Parsed>> = inputs.iter().map(|_| Default::default()).collect();
        let streamed = s3.iter().filter(|f| crate::s3::is_streamed(f.size)).count();
        let wanted = crate::s3::streamed_concurrency().min(streamed);
        let pool = (wanted > rayon::current_num_threads())
            .then(|| {
                rayon::ThreadPoolBuilder::new().num_threads(wanted).thread_name(|i| format!("bfx-s3-{i}")).build().ok()
            })
            .flatten();
        match &pool {
            Some(pool) => pool.in_place_scope(|scope| parse_in_scope(scope, inputs, s3, &slots, &parse)),
            None => rayon::in_place_scope(|scope| parse_in_scope(scope, inputs, s3, &slots, &parse)),
        }
        slots
            .into_iter()
            .map(|slot| slot.into_inner().expect("every input is parsed exactly once in the scope"))
            .collect()
    };
    let mut sources = Vec::with_capacity(parsed.len());
    let mut calls = Vec::new();
    let mut errors = Vec::new();
    let mut seen: std::collections::HashSet<u64, crate::hash::PrehashedState> = Default::default();
    // stream -> (ts, source, line, event)
    // Streams merge across inputs by name; each source's table is mapped to
    // global ids once, so events carry a number, not a name.
    let mut stream_names: Vec<String> = Vec::new();
    let mut stream_ids: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut streams: Vec<Vec<StreamItem>> = Vec::new();
    let mut agent_records = Vec::new();
    let mut usage_records: Vec<UsageRecord> = Vec::new();
    let mut cur_rows: Vec<CurRow> = Vec::new();
    for (i, p) in parsed.into_iter().enumerate() {
        match p {
            Parsed::Cur(report, rows) => {
                errors.extend(report.error.clone());
                sources.push(SourceSummary { report, calls: 0, client: None });
                cur_rows.extend(rows);
            }
            Parsed::Text(s, c) => {
                errors.extend(s.report.error.clone());
                sources.push(s);
                calls.extend(c);
            }
            Parsed::Container(mut report, events, names, mut usage) => {
                let global: Vec<usize> = names
                    .iter()
                    .map(|n| {
                        *stream_ids.entry(n.clone()).or_insert_with(|| {
                            stream_names.push(n.clone());
                            streams.push(Vec::new());
                            streams.len() - 1
                        })
                    })
                    .collect();
                let mut kinds: BTreeMap<PayloadKind, u64> = BTreeMap::new();
                let mut unrec: BTreeMap<String, u64> = BTreeMap::new();
                let mut outside = 0u64;
                seen.reserve(events.len());
                // Which of the source's usage records are kept, in order.
                let mut usage_kept = Vec::with_capacity(usage.len());
                for e in events {
                    report.lines.lines_read += 1;
                    let u = e.usage.then(|| &mut usage[usage_kept.len()]);
                    // A record's own time first; events without any time are kept.
                    let ts = u.as_ref().and_then(|u| u.ts_ms).or((e.ts_ms > 0).then_some(e.ts_ms));
                    let outside_window = ts.is_some_and(|t| opts.outside(t));
                    let keep = !outside_window && seen.insert(e.dedup);
                    if let Some(u) = u {
                        usage_kept.push(keep);
                        if keep {
                            u.loc = crate::timeline::Loc { source: i, line: e.line };
                            if u.ts_ms.is_none() && e.ts_ms > 0 {
                                u.ts_ms = Some(e.ts_ms);
                            }
                        }
                    }
                    if outside_window {
                        report.lines.noise += 1;
                        outside += 1;
                        continue;
                    }
                    if !keep {
                        report.lines.duplicates += 1;
                        continue;
                    }
                    *kinds.entry(e.kind).or_default() += 1;
                    match e.kind {
                        PayloadKind::Unrecognized => {
                            report.lines.unrecognized += 1;
                            *unrec.entry(names[e.stream as usize].clone()).or_default() += 1;
                        }
                        PayloadKind::BotocoreNoise
                        | PayloadKind::OtherLogRecord
                        | PayloadKind::LambdaPlatform
                        | PayloadKind::RequestBody => report.lines.noise += 1,
                        _ => report.lines.parsed += 1,
                    }
                    if let Some(agent) = e.agent {
                        let (kind, turn) = *agent;
                        agent_records.push(AgentRecord {
                            stream: names[e.stream as usize].clone(),
                            ts_ms: e.ts_ms,
                            loc: crate::timeline::Loc { source: i, line: e.line },
                            turn,
                            kind,
                        });
                    }
                    if let Some(ev) = e.event {
                        let (kind, thread) = *ev;
                        streams[global[e.stream as usize]].push((e.ts_ms, i, e.line, kind, thread));
                    }
                }
                let mut kept = usage_kept.into_iter();
                usage.retain(|_| kept.next().unwrap_or(false));
                if usage_records.is_empty() {
                    usage_records = usage;
                } else {
                    usage_records.append(&mut usage);
                }
                if outside > 0 {
                    report.warnings.push(format!("{}: {outside} events outside --since/--until, skipped", report.name));
                }
                for (stream, n) in &unrec {
                    report
                        .warnings
                        .push(format!("{}: stream {stream}: {n} events with an unrecognized payload", report.name));
                }
                report.payloads = kinds.into_iter().collect();
                report.unrecognized_streams = unrec.into_iter().collect();
                errors.extend(report.error.clone());
                sources.push(SourceSummary { report, calls: 0, client: None });
            }
        }
    }
    // Each stream is one process: rebuild its calls in time order (export
    // chunks are not sorted), across every input that holds part of it.
    let mut by_name: Vec<(String, Vec<StreamItem>)> = stream_names.into_iter().zip(streams).collect();
    by_name.sort_by(|a, b| a.0.cmp(&b.0));
    let rebuilt: Vec<(Vec<Call>, ClientNotes)> = by_name
        .into_par_iter()
        .filter(|(_, evs)| !evs.is_empty())
        .map(|(_, mut evs)| {
            evs.sort_by_key(|e| (e.0, e.1, e.2));
            let mut b = TimelineBuilder::new(evs.first().map_or(0, |e| e.1));
            for (ts, src, line, kind, thread) in evs {
                b.event(src, Event { line, ts_ms: Some(ts), thread, kind });
            }
            b.finish()
        })
        .collect();
    for (c, notes) in rebuilt {
        for call in &c {
            let s = &mut sources[call.source];
            s.calls += 1;
            if s.client.is_none() {
                s.client = Some(notes.clone());
            }
        }
        calls.extend(c);
    }
    let (turns, agent_calls) = agent_turns::build(agent_records, opts.agent.turn_gap_ms);
    let throttle = match agent_turns::report(&turns, &agent_calls, &opts.agent.quotas) {
        Ok(t) => t,
        Err(e) => {
            errors.push(format!("throttle report: {e}"));
            None
        }
    };
    let reports: Vec<SourceReport> = sources.iter().map(|s| s.report.clone()).collect();
    let embedded;
    let prices = match &opts.prices {
        Some(p) => p,
        None => {
            embedded = PriceTable::embedded();
            &embedded
        }
    };
    let (usage_records, dedup) = usage_mod::dedup(usage_records);
    let usage = (!usage_records.is_empty() || !cur_rows.is_empty()).then(|| {
        let at = |r: &CurRow| format!("{}:{}", reports[r.loc.source].name, r.loc.line);
        cost::report(&usage_records, dedup, prices, &cur_rows, &at)
    });
    let input = DetectorInput {
        sources: &reports,
        calls: &calls,
        settings: &opts.detect,
        throttle: throttle.as_ref(),
        usage: usage.as_ref().map(|_| detect::UsageInput { records: &usage_records, prices }),
    };
    let findings = detect::run_all(&input);
    let totals = Totals {
        sources: sources.len(),
        lines_read: sources.iter().map(|s| s.report.lines.lines_read).sum(),
        parsed: sources.iter().map(|s| s.report.lines.parsed).sum(),
        noise: sources.iter().map(|s| s.report.lines.noise).sum(),
        unrecognized: sources.iter().map(|s| s.report.lines.unrecognized).sum(),
        calls: calls.len(),
        attempts: calls.iter().map(|c| c.attempts.len()).sum(),
    };
    Analysis {
        schema_version: SCHEMA_VERSION,
        bfx_version: env!("CARGO_PKG_VERSION"),
        settings: opts.detect.clone(),
        sources,
        errors,
        totals,
        findings,
        throttle,
        usage,
        timelines: None,
        calls,
        usage_records,
        turns,
        agent_calls,
        prices: Some(prices.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Read};

    /// Hands out its bytes in reads of 1 to `max` bytes, in turn, as a slow
    /// pipe or a network stream may.
    struct Ragged {
        bytes: Cursor<Vec<u8>>,
        max: usize,
        last: usize,
    }

    impl Ragged {
        fn new(bytes: Vec<u8>, max: usize) -> Self {
            Ragged { bytes: Cursor::new(bytes), max, last: 0 }
        }
    }

    impl Read for Ragged {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.last = self.last % self.max + 1;
            let n = buf.len().min(self.last);
            self.bytes.read(&mut buf[..n])
        }
    }

    /// The source's report, and its calls (a log) or its events and usage
    /// records (a container) or its rows (CUR).
    fn outcome(p: &Parsed) -> (String, usize, usize) {
        match p {
            Parsed::Text(s, calls) => (serde_json::to_string(&s.report).unwrap(), calls.len(), s.calls),
            Parsed::Container(r, events, _, usage) => (serde_json::to_string(r).unwrap(), events.len(), usage.len()),
            Parsed::Cur(r, rows) => (serde_json::to_string(r).unwrap(), rows.len(), 0),
        }
    }

    /// Regression: the format was sniffed from a single `fill_buf`, which
    /// holds only what has arrived so far. A gzip object whose first half
    /// came in one network chunk (or one pipe write) was sniffed from a
    /// partial first line and read as an unknown text log: 0 of 3 records
    /// parsed.
    #[test]
    fn gzip_arriving_a_byte_at_a_time_is_sniffed_as_when_read_whole() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/usage/s3/AWSLogs/111122223333/BedrockModelInvocationLogs/us-east-1/2026/11/03/00/",
            "20261103T005901234Z_7de8fab6ae193e58.json.gz"
        );
        let gz = std::fs::read(path).unwrap();
        let input = Input { name: "object.json.gz".into(), origin: source::Origin::Stdin };
        let opts = AnalyzeOptions::default();
        let whole = parse_one(0, &input, &opts, Some(Ok(Box::new(Cursor::new(gz.clone())))));
        let trickled = parse_one(0, &input, &opts, Some(Ok(Box::new(Ragged::new(gz, 1)))));
        let Parsed::Container(report, ..) = &whole else { panic!("not read as a container") };
        assert_eq!(
            (report.compression, report.container),
            (Compression::Gzip, Some(container::ContainerKind::JsonLines))
        );
        // Two invocation-log records: two events, each with its usage.
        let (_, events, usage) = outcome(&whole);
        assert_eq!((events, usage), (2, 2));
        assert_eq!(outcome(&trickled), outcome(&whole));
    }

    /// Output must not depend on how a source's bytes arrive (network
    /// chunks, pipe writes): every committed fixture and shared sample gives
    /// the same report, calls, events and usage records read in ragged
    /// pieces as read whole.
    #[test]
    fn every_fixture_parses_the_same_however_its_bytes_arrive() {
        let opts = AnalyzeOptions::default();
        let mut checked = 0;
        // The committed fixtures, and the shared real samples where present.
        let roots = [
            concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures"),
            concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/formats"),
        ];
        let present = roots.iter().filter(|r| std::path::Path::new(r).exists());
        // Not the generators' Python environments and scripts.
        let generator = |name: &str| name.starts_with(".venv") || name == "__pycache__";
        let walk = |r: &&str| {
            walkdir::WalkDir::new(r)
                .sort_by_file_name()
                .into_iter()
                .filter_entry(|e| !generator(&e.file_name().to_string_lossy()))
        };
        for entry in present.flat_map(walk) {
            let entry = entry.unwrap();
            let path = entry.path();
            let script = path.extension().is_some_and(|e| ["py", "sh", "md", "pyc"].iter().any(|x| e == *x));
            if !entry.file_type().is_file() || script {
                continue;
            }
            let input = Input { name: path.display().to_string(), origin: source::Origin::File(path.to_path_buf()) };
            let whole = parse_one(0, &input, &opts, None);
            let bytes = std::fs::read(path).unwrap();
            let ragged = parse_one(0, &input, &opts, Some(Ok(Box::new(Ragged::new(bytes, 7)))));
            assert_eq!(outcome(&ragged), outcome(&whole), "{}", path.display());
            checked += 1;
        }
        assert!(checked >= 76, "{checked} fixtures");
    }
}
