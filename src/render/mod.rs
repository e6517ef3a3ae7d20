//! Reports: the terminal view and the JSON view of an [`Analysis`], the
//! self-contained HTML report ([`html`]), Markdown ([`markdown`]), and the
//! one-call or one-turn waterfall ([`waterfall`]).

pub mod html;
pub mod markdown;
pub mod waterfall;

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
    if let Some(t) = &a.throttle {
        render_throttle(&mut out, t);
    }
    if let Some(u) = &a.usage {
        render_cost(&mut out, u, &a.findings);
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
            Cell::new(format!(
                "{gz}{}",
                match (s.report.container, fmts.is_empty()) {
                    (Some(k), _) => format!("{k:?}"),
                    (None, true) => "-".into(),
                    (None, false) => fmts.join(", "),
                }
            )),
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
        FindingDetail::CacheWaste(d) => {
            let models: Vec<String> =
                d.by_model.iter().take(3).map(|m| format!("{} ${:.2} ({} req)", m.model, m.usd, m.requests)).collect();
            out.push_str(&format!("   by model: {}\n", models.join("; ")));
            if !d.gap_distribution.is_empty() {
                let g: Vec<String> = d.gap_distribution.iter().map(|(b, n)| format!("{b}: {n}")).collect();
                out.push_str(&format!("   idle gaps before re-writes: {}\n", g.join(", ")));
            }
            if let Some(x) = d.one_hour_ttl_net_saving_usd {
                out.push_str(&format!("   a 1-hour TTL would have saved ${x:.2} net over these groups\n"));
            }
            if let Some(x) = d.unproven_usd {
                out.push_str(&format!(
                    "   plus ${x:.2} in groups whose repetition is unproven (no prompt bodies logged; not counted)\n"
                ));
            }
            for e in d.examples.iter().take(3) {
                out.push_str(&format!(
                    "   {} {} tokens ${:.4} at {}\n",
                    e.request_id.as_deref().unwrap_or("(no request id)"),
                    e.tokens,
                    e.usd,
                    e.at
                ));
            }
        }
        FindingDetail::ThrottleAmplification(d) => {
            out.push_str(&format!(
                "   {:.2} model calls per turn on average; {:.1} s of agent backoff{}\n",
                d.calls_per_turn_mean,
                d.backoff_s,
                d.worst_model
                    .as_ref()
                    .map(|m| format!(
                        "; worst: {} ({}) with {} throttles per success",
                        m.model,
                        m.region,
                        m.throttles_per_success.map(|x| format!("{:.0}%", x * 100.0)).unwrap_or_else(|| "∞".into())
                    ))
                    .unwrap_or_default()
            ));
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

fn render_throttle(out: &mut String, t: &crate::agent::turns::ThrottleReport) {
    out.push_str(&format!("Throttle amplification: {}\n", t.headline));
    let keys: Vec<String> = t.turn_keys.iter().map(|(k, n)| format!("{n} by {k:?}")).collect();
    out.push_str(&format!("   turns grouped: {}; {} turns ended in failure\n", keys.join(", "), t.failed_turns));
    let mut tb = table();
    tb.set_header(vec![
        "model",
        "region",
        "calls",
        "ok",
        "throttled",
        "throttles/ok",
        "retries/call",
        "backoff s",
        "peak rpm",
    ]);
    for m in &t.models {
        tb.add_row(vec![
            Cell::new(&m.model),
            Cell::new(&m.region),
            right(m.calls),
            right(m.successes),
            right(m.throttles),
            right(m.throttles_per_success.map(|x| format!("{:.0}%", x * 100.0)).unwrap_or_else(|| "∞".into())),
            right(format!("{:.2}", m.retries_per_call)),
            right(format!("{:.1}", m.backoff_s)),
            right(match m.quota_rpm {
                Some(q) => format!("{} / quota {q}", m.peak_rpm),
                None => m.peak_rpm.to_string(),
            }),
        ]);
    }
    out.push_str(&tb.to_string());
    out.push('\n');
    let dist = |d: &[(u64, u64)]| d.iter().map(|(v, n)| format!("{v}:{n}")).collect::<Vec<_>>().join("  ");
    out.push_str(&format!(
        "   calls per turn (calls:turns): {}  (mean {:.2})\n",
        dist(&t.calls_per_turn),
        t.calls_per_turn_mean
    ));
    out.push_str(&format!("   fallback hops per turn (hops:turns): {}\n", dist(&t.hops_per_turn)));
    for (from, to, reason, n) in &t.hop_edges {
        out.push_str(&format!("   hop {from} → {to} ({reason}): {n}\n"));
    }
    let mut busiest: Vec<&crate::agent::turns::MinuteRow> = t.per_minute.iter().collect();
    busiest.sort_by(|a, b| b.throttles.cmp(&a.throttles).then(a.minute_ms.cmp(&b.minute_ms)));
    for m in busiest.iter().take(3).filter(|m| m.throttles > 0) {
        out.push_str(&format!(
            "   minute {} UTC {}: {} calls, {} throttles, {} hops away\n",
            crate::format::prefix::format_ms(m.minute_ms),
            m.model,
            m.calls,
            m.throttles,
            m.hops
        ));
    }
    for l in &t.latency {
        out.push_str(&format!(
            "   latency {}: mean {:.0} ms = TTFT {:.0} + generation {:.0}; p50/p95/p99 total {:.0}/{:.0}/{:.0}, TTFT {:.0}/{:.0}/{:.0}, generation {:.0}/{:.0}/{:.0} ms\n",
            l.model, l.mean_total_ms, l.mean_ttft_ms, l.mean_generation_ms,
            l.total.p50, l.total.p95, l.total.p99, l.ttft.p50, l.ttft.p95, l.ttft.p99,
            l.generation.p50, l.generation.p95, l.generation.p99
        ));
    }
    out.push('\n');
}

fn render_cost(out: &mut String, u: &crate::usage::cost::CostReport, findings: &[Finding]) {
    let c = &u.totals.cost;
    out.push_str(&format!(
        "Cost: {} requests, ${:.2} billed; ${:.2} without caching, so caching saved ${:.2} (prices: {})\n",
        u.totals.requests, c.total, c.without_caching, c.caching_savings, u.price_table
    ));
    let h = html::headline_of(findings);
    let (paid, forgone) = (h.cache_paid_usd, h.cache_forgone_usd);
    out.push_str(&format!(
        "   prompt cache: ${paid:.2} paid for nothing (never-read, expired, duplicate, cross-region and needless 1-hour writes); ${forgone:.2} of savings forgone\n"
    ));
    for s in &u.sources {
        for (_, n, words) in &s.conventions {
            out.push_str(&format!("   {:?}: {n} records, {words}\n", s.kind));
        }
    }
    out.push_str(&format!(
        "   de-duplicated by request id: {} duplicates dropped, {} records without a request id kept\n",
        u.dedup.duplicates_dropped, u.dedup.without_request_id
    ));
    let mut t = table();
    t.set_header(vec![
        "day",
        "model",
        "region",
        "req",
        "input",
        "output",
        "cache read",
        "cache write",
        "cost $",
        "no-cache $",
        "saved $",
    ]);
    for r in &u.rows {
        let d = r.cost.unwrap_or_default();
        t.add_row(vec![
            Cell::new(&r.day),
            Cell::new(&r.model),
            Cell::new(&r.region),
            right(r.requests),
            right(r.tokens.input),
            right(r.tokens.output),
            right(r.tokens.cache_read),
            right(r.tokens.cache_write_5m + r.tokens.cache_write_1h),
            right(format!("{:.2}", d.total)),
            right(format!("{:.2}", d.without_caching)),
            right(format!("{:.2}", d.caching_savings)),
        ]);
    }
    out.push_str(&t.to_string());
    out.push('\n');
    for m in &u.unpriced {
        out.push_str(&format!(
            "   unpriced: {} ({} requests, {} input / {} output tokens): {}\n",
            m.model, m.requests, m.tokens.input, m.tokens.output, m.reason
        ));
    }
    if u.long_context_requests > 0 {
        out.push_str(&format!(
            "   {} requests exceed 200k input tokens; long-context rates are not applied to them\n",
            u.long_context_requests
        ));
    }
    if let Some(r) = &u.reconciliation {
        out.push_str(&format!(
            "   CUR reconciliation: {} of {} (day, model, token type) keys agree to the cent\n",
            r.matching, r.compared
        ));
        for d in &r.differences {
            out.push_str(&format!(
                "   CUR differs: {} {} {:?}: computed ${:.2}, billed ${:.2} (diff ${:+.2}) at {}\n",
                d.day,
                d.family,
                d.token_type,
                d.computed_usd,
                d.cur_usd,
                d.difference_usd,
                d.cur_rows.join(", ")
            ));
        }
    }
    out.push('\n');
}
