//! `bfx analyze --format markdown`: the report as Markdown, for tickets and
//! postmortems. Same content as the terminal view, in pipe tables.

use std::fmt::Write as _;

use crate::analyze::Analysis;
use crate::detect::FindingDetail;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The analysis as Markdown.
pub fn markdown(a: &Analysis) -> String {
    let h = super::html::headline(a);
    let mut o = String::new();
    let _ = writeln!(o, "## bfx report\n");
    let _ = writeln!(
        o,
        "{} sources · {} lines · {} SDK calls · {} HTTP attempts\n",
        a.totals.sources, a.totals.lines_read, a.totals.calls, a.totals.attempts
    );
    let _ = writeln!(o, "| | |\n|---|---|");
    let _ = writeln!(o, "| Stale-socket hangs | {:.1} s lost over {} calls |", h.stale_seconds, h.stale_calls);
    let _ = writeln!(
        o,
        "| Throttles absorbed | {} |",
        h.throttle_sentence.as_deref().map(cell).unwrap_or_else(|| h.throttles.to_string())
    );
    let _ = writeln!(
        o,
        "| Prompt-cache waste | ${:.2} paid for nothing; ${:.2} of savings forgone |\n",
        h.cache_paid_usd, h.cache_forgone_usd
    );
    if a.findings.is_empty() {
        o.push_str("No findings.\n\n");
    }
    for f in &a.findings {
        let _ = writeln!(o, "### {}. `{}`: {}\n", f.rank, f.kind, f.title);
        for fix in &f.fix {
            let _ = writeln!(o, "- fix: {fix}");
        }
        let evidence: Vec<String> = match &f.detail {
            FindingDetail::StaleSocket(d) => d
                .calls
                .iter()
                .take(5)
                .map(|c| {
                    format!(
                        "`{}` idle {:.1} s, hung {:.1} s, caller saw {} s — `{}`",
                        c.invocation_id,
                        c.idle_gap_s,
                        c.hang_s,
                        c.caller_latency_s.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into()),
                        c.evidence.first().map(|e| e.at.as_str()).unwrap_or("")
                    )
                })
                .collect(),
            FindingDetail::HiddenRetries(d) => d
                .listed_calls
                .iter()
                .take(5)
                .map(|c| {
                    format!(
                        "`{}` {} attempts ({}) — `{}`",
                        c.invocation_id,
                        c.attempts,
                        c.causes.join(", "),
                        c.evidence.first().map(|e| e.at.as_str()).unwrap_or("")
                    )
                })
                .collect(),
            FindingDetail::CacheWaste(d) => d
                .examples
                .iter()
                .take(5)
                .map(|e| {
                    format!(
                        "`{}` {} tokens ${:.4} — `{}`",
                        e.request_id.as_deref().unwrap_or("-"),
                        e.tokens,
                        e.usd,
                        e.at
                    )
                })
                .collect(),
            FindingDetail::ThrottleAmplification(_) => Vec::new(),
        };
        for e in evidence {
            let _ = writeln!(o, "- {e}");
        }
        o.push('\n');
    }
    if let Some(t) = &a.throttle {
        let _ = writeln!(o, "### Throttle amplification\n\n{}\n", t.headline);
        o.push_str(
            "| model | region | calls | ok | throttled | throttles/ok | retries/call | backoff s | peak rpm |\n",
        );
        o.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for m in &t.models {
            let _ = writeln!(
                o,
                "| `{}` | {} | {} | {} | {} | {} | {:.2} | {:.1} | {} |",
                m.model,
                m.region,
                m.calls,
                m.successes,
                m.throttles,
                m.throttles_per_success.map(|x| format!("{:.0}%", x * 100.0)).unwrap_or_else(|| "∞".into()),
                m.retries_per_call,
                m.backoff_s,
                m.peak_rpm
            );
        }
        o.push('\n');
    }
    if let Some(u) = &a.usage {
        let c = &u.totals.cost;
        let _ = writeln!(
            o,
            "### Cost\n\n{} requests, ${:.2} billed; ${:.2} without caching (caching saved ${:.2}). Prices: {}.\n",
            u.totals.requests,
            c.total,
            c.without_caching,
            c.caching_savings,
            cell(&u.price_table)
        );
        o.push_str(
            "| day | model | region | requests | input | output | cache read | cache write | cost $ | saved $ |\n",
        );
        o.push_str("|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for r in &u.rows {
            let d = r.cost.unwrap_or_default();
            let _ = writeln!(
                o,
                "| {} | `{}` | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} |",
                r.day,
                r.model,
                r.region,
                r.requests,
                r.tokens.input,
                r.tokens.output,
                r.tokens.cache_read,
                r.tokens.cache_write_5m + r.tokens.cache_write_1h,
                d.total,
                d.caching_savings
            );
        }
        for m in &u.unpriced {
            let _ = writeln!(o, "\nUnpriced: `{}` ({} requests): {}", m.model, m.requests, cell(&m.reason));
        }
        o.push('\n');
    }
    o.push_str("### Sources\n\n| source | lines | parsed | noise | unrecognized | duplicates |\n|---|---:|---:|---:|---:|---:|\n");
    for s in &a.sources {
        let l = &s.report.lines;
        let _ = writeln!(
            o,
            "| `{}` | {} | {} | {} | {} | {} |",
            s.report.name, l.lines_read, l.parsed, l.noise, l.unrecognized, l.duplicates
        );
    }
    if !a.errors.is_empty() {
        o.push_str("\n**Inputs not fully read (analysis is partial):**\n\n");
        for e in &a.errors {
            let _ = writeln!(o, "- {}", cell(e));
        }
    }
    o
}
