//! Reports: the terminal view and the JSON view of an [`Analysis`].

use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

use crate::analyze::Analysis;
use crate::detect::{Finding, FindingDetail};
use crate::timeline::TimeoutSource;

/// The JSON report (schema in `docs/json-schema.md`).
pub fn json(a: &Analysis) -> String {
    let mut s = serde_json::to_string_pretty(a).expect("analysis serializes");
    s.push('\n');
    s
}

fn table() -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    // On a terminal comfy-table fits its width; piped output gets a fixed
    // width so that reports are identical wherever they are produced.
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        t.set_width(120);
    }
    t
}

fn right(v: impl ToString) -> Cell {
    Cell::new(v.to_string()).set_alignment(CellAlignment::Right)
}

fn opt_s(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into())
}

/// The terminal report.
pub fn terminal(a: &Analysis) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "bfx {}: {} source(s), {} lines, {} calls, {} HTTP attempts\n\n",
        a.bfx_version, a.totals.sources, a.totals.lines_read, a.totals.calls, a.totals.attempts
    ));
    if a.findings.is_empty() {
        out.push_str("No findings: no retries, timeouts or stale connections in these calls.\n\n");
    }
    for f in &a.findings {
        render_finding(&mut out, f);
    }
    out.push_str("Sources (every line accounted for)\n");
    let mut t = table();
    t.set_header(vec!["source", "format", "lines", "parsed", "noise", "unrecognized", "calls", "timeouts (c, r)"]);
    for s in &a.sources {
        let fmts: Vec<String> = s.report.formats.iter().map(|(f, _)| format!("{f:?}")).collect();
        let gz = if matches!(s.report.compression, crate::source::Compression::Gzip) { "gzip " } else { "" };
        let timeouts = s.client.as_ref().map(|c| {
            let from = match c.timeouts_from {
                TimeoutSource::Log => "from log",
                TimeoutSource::Inferred => "inferred",
                TimeoutSource::DefaultAssumed => "default assumed",
            };
            format!("({}, {}) {from}", c.connect_timeout_s, c.read_timeout_s)
        });
        t.add_row(vec![
            Cell::new(&s.report.name),
            Cell::new(format!("{gz}{}", if fmts.is_empty() { "-".into() } else { fmts.join(", ") })),
            right(s.report.lines.lines_read),
            right(s.report.lines.parsed),
            right(s.report.lines.noise),
            right(s.report.lines.unrecognized),
            right(s.calls),
            Cell::new(timeouts.unwrap_or_else(|| "-".into())),
        ]);
    }
    out.push_str(&t.to_string());
    out.push('\n');
    let notes: Vec<_> = a.sources.iter().filter_map(|s| s.client.as_ref().map(|c| (&s.report.name, c))).collect();
    if !notes.is_empty() {
        out.push_str("\nAssumptions: ");
        out.push_str(crate::timeline::POOL_ASSUMPTION);
        out.push_str(".\n");
        for (name, c) in notes {
            out.push_str(&format!(
                "  {name}: correlated by {}; retry mode {}; botocore {}\n",
                c.correlation.replace('_', " "),
                if c.retry_modes.is_empty() { "unknown".into() } else { c.retry_modes.join("/") },
                if c.botocore_versions.is_empty() { "unknown".into() } else { c.botocore_versions.join("/") },
            ));
        }
    }
    let warnings: Vec<&String> = a.sources.iter().flat_map(|s| &s.report.warnings).collect();
    if !warnings.is_empty() {
        out.push_str("\nWarnings:\n");
        for w in warnings {
            out.push_str(&format!("  {w}\n"));
        }
    }
    if !a.errors.is_empty() {
        out.push_str("\nInputs not fully read (analysis is partial):\n");
        for e in &a.errors {
            out.push_str(&format!("  {e}\n"));
        }
    }
    out
}

fn render_finding(out: &mut String, f: &Finding) {
    out.push_str(&format!("#{} [{}] {}\n", f.rank, f.kind, f.title));
    match &f.detail {
        FindingDetail::StaleSocket(d) => {
            if let Some(m) = d.median_normal_latency_s {
                out.push_str(&format!(
                    "   median latency of {} normal calls: {m:.3} s; reuses after ≥{:.0} s idle that did not hang: {}; other read timeouts: {}\n",
                    d.normal_calls, d.idle_threshold_s, d.long_idle_reuses_without_hang, d.other_read_timeouts
                ));
            }
            if !d.calls.is_empty() {
                let mut t = table();
                t.set_header(vec![
                    "invocation id / request id",
                    "model",
                    "idle gap s",
                    "hang s",
                    "caller saw s",
                    "evidence (start, hang, retry)",
                ]);
                for h in &d.calls {
                    t.add_row(vec![
                        Cell::new(format!("{}\n{}", h.invocation_id, h.request_id.as_deref().unwrap_or("-"))),
                        Cell::new(h.model_id.as_deref().unwrap_or("-")),
                        right(format!("{:.3}", h.idle_gap_s)),
                        right(format!("{:.3}", h.hang_s)),
                        right(format!(
                            "{}{}",
                            opt_s(h.caller_latency_s),
                            h.slowdown_vs_median.map(|x| format!(" ({x}×)")).unwrap_or_default()
                        )),
                        Cell::new(evidence_cell(&h.evidence)),
                    ]);
                }
                out.push_str(&t.to_string());
                out.push('\n');
            }
        }
        FindingDetail::HiddenRetries(d) => {
            let mut t = table();
            t.set_header(vec!["cause", "retries", "final failures", "calls", "sleep s", "failed attempts s"]);
            for r in &d.by_cause {
                t.add_row(vec![
                    Cell::new(r.cause),
                    right(r.retries),
                    right(r.final_failures),
                    right(r.calls),
                    right(format!("{:.3}", r.sleep_s)),
                    right(format!("{:.3}", r.failed_attempt_s)),
                ]);
            }
            out.push_str(&t.to_string());
            out.push('\n');
            let top: Vec<String> = d
                .listed_calls
                .iter()
                .take(5)
                .map(|c| {
                    format!(
                        "   {} attempts={} causes={} latency={} s at {}",
                        c.invocation_id,
                        c.attempts,
                        c.causes.join(","),
                        opt_s(c.latency_s),
                        c.evidence[0].at
                    )
                })
                .collect();
            if !top.is_empty() {
                out.push_str("   slowest retried calls:\n");
                out.push_str(&top.join("\n"));
                out.push('\n');
            }
        }
    }
    for fix in &f.fix {
        out.push_str(&format!("   fix: {fix}\n"));
    }
    out.push('\n');
}

/// `file:12` then `  hang :40`, `  retry :57`: the file once, then lines.
fn evidence_cell(evidence: &[crate::detect::Evidence]) -> String {
    let mut out = Vec::new();
    let mut last_file = None;
    for e in evidence {
        let (file, line) = e.at.rsplit_once(':').unwrap_or((e.at.as_str(), ""));
        if last_file == Some(file) {
            out.push(format!("{} :{line}", e.role));
        } else {
            out.push(format!("{}\n{} :{line}", file, e.role));
            last_file = Some(file);
        }
    }
    out.join("\n")
}
