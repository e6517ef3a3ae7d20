//! The pipeline: sources → formats → events → timelines → detectors → report.

use rayon::prelude::*;
use serde::Serialize;

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
    /// Every call's timeline, only when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timelines: Option<Vec<CallTimeline>>,
    /// Not serialized: the calls themselves.
    #[serde(skip)]
    pub calls: Vec<Call>,
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
    let mut a = analyze(&inputs, opts);
    let mut errs: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    errs.append(&mut a.errors);
    a.errors = errs;
    a
}

/// Analyzes inputs in parallel. The result does not depend on the number of
/// threads: sources are processed independently and collected in order.
pub fn analyze(inputs: &[Input], opts: &AnalyzeOptions) -> Analysis {
    let per_source: Vec<(SourceSummary, Vec<Call>, Option<String>)> = inputs
        .par_iter()
        .enumerate()
        .map(|(i, input)| {
            let mut builder = TimelineBuilder::new(i);
            match format::parse_source(i, input, &opts.parse, &mut builder) {
                Ok(report) => {
                    let (calls, notes) = builder.finish();
                    let err = report.error.clone();
                    let summary = SourceSummary {
                        calls: calls.len(),
                        client: if calls.is_empty() { None } else { Some(notes) },
                        report,
                    };
                    (summary, calls, err)
                }
                Err(e) => {
                    let report = SourceReport {
                        name: input.name.clone(),
                        compression: Compression::None,
                        formats: Vec::new(),
                        lines: Default::default(),
                        warnings: Vec::new(),
                        error: Some(e.to_string()),
                    };
                    (SourceSummary { report, calls: 0, client: None }, Vec::new(), Some(e.to_string()))
                }
            }
        })
        .collect();
    let mut sources = Vec::with_capacity(per_source.len());
    let mut calls = Vec::new();
    let mut errors = Vec::new();
    for (s, c, e) in per_source {
        sources.push(s);
        calls.extend(c);
        errors.extend(e);
    }
    let reports: Vec<SourceReport> = sources.iter().map(|s| s.report.clone()).collect();
    let input = DetectorInput { sources: &reports, calls: &calls, settings: &opts.detect };
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
        timelines: None,
        calls,
    }
}
