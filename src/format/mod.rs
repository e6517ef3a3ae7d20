//! Formats: recognising records inside a source and turning them into
//! [`Event`]s, with every physical line accounted for.
//!
//! Framing and parsing are separate: a batch of lines is parsed in parallel
//! (each line on its own), then a sequential pass attaches continuation lines
//! to their records, counts every line, and pushes events, in file order,
//! into an [`EventSink`].

pub mod botocore;
pub mod prefix;

use rayon::prelude::*;
use serde::Serialize;

use crate::error::SourceError;
use crate::event::Event;
use crate::source::{Compression, LineBatch, LineReader};
use botocore::{Continuation, Message};
use prefix::{FormatName, LineFormat};

/// Receives the events of one source, in file order.
pub trait EventSink {
    /// One event.
    fn event(&mut self, source: usize, event: Event);
}

/// How every line of one source was accounted for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LineAccount {
    /// Physical lines read.
    pub lines_read: u64,
    /// Lines of records bfx used (with their continuation lines).
    pub parsed: u64,
    /// Lines of records known and not needed: other loggers, hooks, auth,
    /// bodies, tracebacks of noise records.
    pub noise: u64,
    /// Lines that are not part of any record bfx recognised.
    pub unrecognized: u64,
    /// Of the unrecognized lines, those longer than the line limit.
    pub oversized: u64,
    /// Lines holding bytes that are not valid UTF-8 (still parsed where possible).
    pub invalid_utf8: u64,
    /// Container events dropped as duplicates of an event already read (same
    /// CloudWatch event id, or same stream, time and message where the
    /// container has no ids). Not included in parsed/noise/unrecognized.
    pub duplicates: u64,
}

/// What parsing one source produced, besides its events.
#[derive(Debug, Clone, Serialize)]
pub struct SourceReport {
    /// The input's name, as evidence cites it.
    pub name: String,
    /// Container compression detected from magic bytes.
    pub compression: Compression,
    /// Line formats seen, with how many records each framed.
    pub formats: Vec<(FormatName, u64)>,
    /// Line accounting.
    pub lines: LineAccount,
    /// Problems worth a look that did not stop the analysis, each naming a line.
    pub warnings: Vec<String>,
    /// The error that stopped reading this input early, if any.
    pub error: Option<String>,
    /// The CloudWatch container shape, when the input is one. Then `lines`
    /// counts log events (and control messages), not physical lines.
    pub container: Option<crate::container::ContainerKind>,
    /// For containers: events by payload kind (after de-duplication).
    pub payloads: Vec<(crate::payload::PayloadKind, u64)>,
    /// For containers: streams with unrecognized events, and how many.
    pub unrecognized_streams: Vec<(String, u64)>,
}

impl SourceReport {
    /// An empty report for the input named `name`.
    pub fn new(name: &str, compression: Compression) -> Self {
        SourceReport {
            name: name.to_string(),
            compression,
            formats: Vec::new(),
            lines: LineAccount::default(),
            warnings: Vec::new(),
            error: None,
            container: None,
            payloads: Vec::new(),
            unrecognized_streams: Vec::new(),
        }
    }
}

/// Options for parsing.
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// A user-given line format, replacing the built-in ones.
    pub custom: Option<LineFormat>,
    /// Bytes per parse batch (memory per source is about twice this).
    pub batch_bytes: usize,
}

const MAX_WARNINGS: usize = 20;

enum LineKind {
    Record { format: usize, ts_ms: Option<i64>, thread: Option<String>, message: Message, continuation: Continuation },
    Other { traceback_start: bool },
}

struct Parsed {
    kind: LineKind,
    invalid_utf8: bool,
}

/// Parses an already opened, decompressed byte stream named `name`.
pub fn parse_reader(
    index: usize,
    name: &str,
    reader: Box<dyn std::io::BufRead + Send + '_>,
    compression: Compression,
    opts: &ParseOptions,
    sink: &mut (dyn EventSink + Send),
) -> Result<SourceReport, SourceError> {
    let formats: Vec<LineFormat> = match &opts.custom {
        Some(f) => vec![f.clone()],
        None => LineFormat::builtins().to_vec(),
    };
    let mut report = SourceReport::new(name, compression);
    let mut framer = Framer {
        format_counts: vec![0u64; formats.len()],
        formats,
        preferred: None,
        state: Accounting::default(),
        extra_warnings: 0,
    };
    let mut lines = LineReader::new(reader);
    let batch_bytes = if opts.batch_bytes == 0 { 4 << 20 } else { opts.batch_bytes };
    let mut binary_at = None;
    let mut lines_read = 0u64;
    // The lines read before a failure are analyzed, then the error is kept.
    let read = lines.for_each_batch(batch_bytes, |batch| {
        if lines_read == 0 {
            let head = &batch.data[..batch.data.len().min(8192)];
            binary_at = memchr::memchr(0, head);
            if binary_at.is_some() {
                return false;
            }
        }
        lines_read += batch.lines.len() as u64;
        framer.process_batch(index, batch, &mut report, sink);
        true
    });
    if let Some(offset) = binary_at {
        return Err(SourceError::Binary { input: name.to_string(), offset: offset as u64 });
    }
    if let Err(e) = read {
        report.error =
            Some(SourceError::Read { input: name.to_string(), line: lines_read, message: e.to_string() }.to_string());
    }
    if framer.extra_warnings > 0 {
        report.warnings.push(format!("{name}: {} more warnings not shown", framer.extra_warnings));
    }
    if report.lines.lines_read == 0 && report.error.is_none() {
        report.warnings.push(format!("{name}: empty input"));
    } else if report.lines.parsed + report.lines.noise == 0 {
        report.warnings.push(format!(
            "{}: no Python logging record in a known format ({} lines unrecognized); \
             not a botocore/urllib3 DEBUG log, or pass --log-format",
            name, report.lines.unrecognized
        ));
    }
    report.formats =
        framer.formats.iter().zip(framer.format_counts).filter(|(_, n)| *n > 0).map(|(f, n)| (f.name(), n)).collect();
    Ok(report)
}

#[derive(Default)]
struct Accounting {
    /// Class of the record the next continuation line would join: Some(true)
    /// parsed, Some(false) noise, None no record yet.
    record_parsed: Option<bool>,
    continuation: Option<Continuation>,
    in_traceback: bool,
}

/// Per-source framing state that lives across batches.
struct Framer {
    formats: Vec<LineFormat>,
    format_counts: Vec<u64>,
    /// The format most lines matched in the first batch: tried first.
    preferred: Option<usize>,
    state: Accounting,
    extra_warnings: u64,
}

impl Framer {
    fn process_batch(&mut self, index: usize, batch: &LineBatch, report: &mut SourceReport, sink: &mut dyn EventSink) {
        let (formats, preferred, format_counts, state, extra_warnings) =
            (&self.formats, &mut self.preferred, &mut self.format_counts, &mut self.state, &mut self.extra_warnings);
        let pref = *preferred;
        let parsed: Vec<Parsed> = (0..batch.lines.len())
            .into_par_iter()
            .with_min_len(512)
            .map(|i| parse_line(batch.line(i), formats, pref))
            .collect();
        if preferred.is_none() {
            let mut counts = vec![0u64; formats.len()];
            for p in &parsed {
                if let LineKind::Record { format, .. } = p.kind {
                    counts[format] += 1;
                }
            }
            if let Some((i, n)) = counts.iter().enumerate().max_by_key(|(i, n)| (**n, usize::MAX - *i))
                && *n > 0
            {
                *preferred = Some(i);
            }
        }
        let mut warn = |report: &mut SourceReport, msg: String| {
            if report.warnings.len() < MAX_WARNINGS {
                report.warnings.push(msg);
            } else {
                *extra_warnings += 1;
            }
        };
        for (i, p) in parsed.into_iter().enumerate() {
            report.lines.lines_read += 1;
            let line_no = report.lines.lines_read;
            let span = batch.lines[i];
            if p.invalid_utf8 {
                report.lines.invalid_utf8 += 1;
                if report.lines.invalid_utf8 == 1 {
                    warn(
                        report,
                        format!("{}:{line_no}: invalid UTF-8 (first such line; parsed where possible)", report.name),
                    );
                }
            }
            if span.oversized {
                report.lines.unrecognized += 1;
                report.lines.oversized += 1;
                warn(
                    report,
                    format!(
                        "{}:{line_no}: line longer than {} bytes skipped",
                        report.name,
                        crate::source::MAX_LINE_BYTES
                    ),
                );
                continue;
            }
            match p.kind {
                LineKind::Record { format, ts_ms, thread, message, continuation } => {
                    format_counts[format] += 1;
                    state.continuation = Some(continuation);
                    state.in_traceback = false;
                    match message {
                        Message::Event(kind) => {
                            report.lines.parsed += 1;
                            state.record_parsed = Some(true);
                            sink.event(index, Event { line: line_no, ts_ms, thread, kind });
                        }
                        Message::Noise => {
                            report.lines.noise += 1;
                            state.record_parsed = Some(false);
                        }
                    }
                }
                LineKind::Other { traceback_start } => {
                    let joins = match (state.record_parsed, state.continuation) {
                        (None, _) | (_, None) => false,
                        (_, Some(Continuation::Any)) => true,
                        (_, Some(Continuation::TracebackOnly)) => {
                            if traceback_start {
                                state.in_traceback = true;
                            }
                            state.in_traceback
                        }
                    };
                    match (joins, state.record_parsed) {
                        (true, Some(true)) => report.lines.parsed += 1,
                        (true, _) => report.lines.noise += 1,
                        (false, _) => report.lines.unrecognized += 1,
                    }
                }
            }
        }
    }
}

fn parse_line(line: &[u8], formats: &[LineFormat], preferred: Option<usize>) -> Parsed {
    let invalid_utf8 = !line.is_ascii() && std::str::from_utf8(line).is_err();
    let order = preferred.into_iter().chain((0..formats.len()).filter(move |i| Some(*i) != preferred));
    for fi in order {
        if let Some(p) = formats[fi].split(line) {
            let (message, continuation) = botocore::parse_message(p.logger, p.message);
            // Only events need the thread; most records are noise.
            let thread = match message {
                Message::Event(_) => p.thread.map(|t| String::from_utf8_lossy(t).into_owned()),
                Message::Noise => None,
            };
            return Parsed {
                kind: LineKind::Record { format: fi, ts_ms: p.ts_ms, thread, message, continuation },
                invalid_utf8,
            };
        }
    }
    Parsed {
        kind: LineKind::Other { traceback_start: line.starts_with(b"Traceback (most recent call last):") },
        invalid_utf8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slicing bugs hide in prefix and message parsers: cut every line of real
    /// logs at many positions and parse each piece.
    #[test]
    fn no_panic_on_any_truncation_of_real_lines() {
        let formats = LineFormat::builtins().to_vec();
        for name in ["stale_v140_legacy", "throttle_v144_standard", "stale_v144_standard", "throttle_v140_legacy"] {
            let path = format!("{}/fixtures/botocore/{name}.log", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read(path).unwrap();
            for line in text.split(|&b| b == b'\n') {
                let step = (line.len() / 40).max(1);
                for cut in (0..=line.len()).step_by(step) {
                    parse_line(&line[..cut], &formats, None);
                    parse_line(&line[cut..], &formats, Some(0));
                }
            }
        }
    }
}
