//! The HTML incident report: one self-contained file (inline CSS and SVG, no
//! scripts, fonts or network fetches) that opens offline in any browser.
//!
//! Every chart has a bounded number of marks, whatever the input size: the
//! scatter samples calls deterministically (and says so), the per-minute
//! series are re-bucketed to at most [`MAX_BUCKETS`] buckets, and only the top
//! models and cost rows are drawn. Evidence lines are re-read from their
//! files and redacted, so the page never carries prompt or completion text.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::BufRead;

use crate::analyze::Analysis;
use crate::detect::{Evidence, Finding, FindingDetail};
use crate::source::{self, Input, Origin};

/// At most this many points in the idle-gap scatter.
pub const MAX_POINTS: usize = 2_000;
/// At most this many time buckets per series.
pub const MAX_BUCKETS: usize = 240;
/// At most this many models drawn per chart.
pub const MAX_MODELS: usize = 6;
/// At most this many raw evidence lines in the page.
pub const MAX_RAW_LINES: usize = 400;

const PALETTE: [&str; 6] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Headline numbers, shared with the Markdown report and the tests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Headline {
    /// Seconds lost to stale-socket hangs.
    pub stale_seconds: f64,
    /// Calls that hung on a stale socket.
    pub stale_calls: usize,
    /// Throttles absorbed by retries and fallbacks (agent logs, else SDK retries).
    pub throttles: u64,
    /// The throttle headline sentence, when agent logs were found.
    pub throttle_sentence: Option<String>,
    /// Cache dollars paid for nothing.
    pub cache_paid_usd: f64,
    /// Cache savings forgone.
    pub cache_forgone_usd: f64,
}

/// Computes the headline numbers of an analysis.
pub fn headline(a: &Analysis) -> Headline {
    let mut h = headline_of_findings(&a.findings, a.throttle.is_none());
    if let Some(t) = &a.throttle {
        h.throttles = t.throttles;
        h.throttle_sentence = Some(t.headline.clone());
    }
    h
}

/// The headline numbers the findings alone give (no agent throttle report).
pub fn headline_of(findings: &[Finding]) -> Headline {
    headline_of_findings(findings, true)
}

fn headline_of_findings(findings: &[Finding], sdk_throttles: bool) -> Headline {
    let mut h = Headline::default();
    for f in findings {
        match &f.detail {
            FindingDetail::StaleSocket(d) => {
                h.stale_seconds = d.seconds_lost;
                h.stale_calls = d.calls_hit;
            }
            FindingDetail::HiddenRetries(d) if sdk_throttles => {
                h.throttles = d.by_cause.iter().filter(|c| c.cause == "throttle").map(|c| c.retries as u64).sum();
            }
            FindingDetail::CacheWaste(d) => {
                if d.category == "paid_for_nothing" {
                    h.cache_paid_usd += d.usd;
                } else if d.waste != crate::detect::cache_waste::WasteKind::FiveMinuteTooShort {
                    h.cache_forgone_usd += d.usd;
                }
            }
            _ => {}
        }
    }
    h.cache_paid_usd = (h.cache_paid_usd * 1e6).round() / 1e6;
    h.cache_forgone_usd = (h.cache_forgone_usd * 1e6).round() / 1e6;
    h
}

fn fixes<'a>(a: &'a Analysis, kinds: &[&str]) -> Vec<&'a String> {
    let mut out: Vec<&String> = Vec::new();
    for f in a.findings.iter().filter(|f| kinds.contains(&f.kind)) {
        for x in &f.fix {
            if !out.contains(&x) {
                out.push(x);
            }
        }
    }
    out.truncate(4);
    out
}

const CSS: &str = "body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}\
main{max-width:1180px;margin:0 auto;padding:24px}h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}\
.sub{color:#5b6475;margin:0 0 16px}.cards{display:grid;grid-template-columns:repeat(3,1fr);gap:14px}\
.card{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:14px}.card .n{font-size:28px;font-weight:650}\
.card ul{margin:8px 0 0;padding-left:18px;color:#39414f}.bad{color:#b42318}.ok{color:#067647}\
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}th,td{border:1px solid #e3e6eb;padding:4px 8px;text-align:left;vertical-align:top}\
th{background:#eef1f5}td.r{text-align:right;font-variant-numeric:tabular-nums}\
details{margin:4px 0}summary{cursor:pointer}pre{background:#0f1420;color:#e6e9ef;padding:8px;overflow-x:auto;font-size:12px;white-space:pre-wrap;word-break:break-all}\
svg{background:#fff;border:1px solid #dde1e8;border-radius:8px}.note{color:#5b6475;font-size:12px}\
.legend span{display:inline-block;margin-right:14px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}";

/// The whole report.
pub fn html(a: &Analysis) -> String {
    let h = headline(a);
    let mut o = String::with_capacity(64 * 1024);
    o.push_str("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">");
    o.push_str("<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">");
    // No network: forbid every fetch, so a stray URL could never load.
    o.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">");
    let _ = write!(o, "<title>bfx incident report</title><style>{CSS}</style></head><body><main>");
    let _ = write!(
        o,
        "<h1>Bedrock incident report</h1><p class=\"sub\">bfx {} · {} sources · {} lines · {} SDK calls · {} HTTP attempts</p>",
        esc(a.bfx_version),
        a.totals.sources,
        a.totals.lines_read,
        a.totals.calls,
        a.totals.attempts
    );
    summary(&mut o, a, &h);
    o.push_str("<h2>Idle gap before each call vs the latency its caller saw</h2>");
    o.push_str(&scatter(a));
    o.push_str("<h2>Call latency</h2>");
    o.push_str(&histogram(a));
    if let Some(t) = &a.throttle {
        o.push_str("<h2>Calls, throttles and fallback hops per minute, by model</h2>");
        o.push_str(&per_minute(t));
    }
    if let Some(u) = &a.usage {
        o.push_str("<h2>Cost by model and day</h2>");
        o.push_str(&cost_chart(a, u));
    }
    findings(&mut o, a);
    inputs(&mut o, a);
    o.push_str("</main></body></html>\n");
    o
}

fn summary(o: &mut String, a: &Analysis, h: &Headline) {
    o.push_str("<h2>Summary</h2><div class=\"cards\">");
    let list = |fx: Vec<&String>| -> String {
        if fx.is_empty() {
            return String::new();
        }
        let items: String = fx.iter().map(|f| format!("<li>{}</li>", esc(f))).collect();
        format!("<ul>{items}</ul>")
    };
    let _ = write!(
        o,
        "<div class=\"card\"><div>Stale-socket hangs</div><div class=\"n {}\"><span id=\"stale-seconds\">{:.1}</span> s lost</div>\
         <div>{} calls waited for read_timeout on a connection a NAT/NLB dropped</div>{}</div>",
        if h.stale_calls > 0 { "bad" } else { "ok" },
        h.stale_seconds,
        h.stale_calls,
        list(fixes(a, &["stale_socket"]))
    );
    let _ = write!(
        o,
        "<div class=\"card\"><div>Throttles absorbed</div><div class=\"n {}\"><span id=\"throttles-absorbed\">{}</span></div>\
         <div>{}</div>{}</div>",
        if h.throttles > 0 { "bad" } else { "ok" },
        h.throttles,
        esc(h.throttle_sentence.as_deref().unwrap_or("throttles retried silently by the SDK")),
        list(fixes(a, &["throttle_amplification", "hidden_retries"]))
    );
    let cache_kinds: Vec<&str> = crate::detect::cache_waste::WasteKind::ALL.iter().map(|k| k.name()).collect();
    let _ = write!(
        o,
        "<div class=\"card\"><div>Prompt-cache waste</div><div class=\"n {}\">$<span id=\"cache-waste-usd\">{:.2}</span></div>\
         <div>paid for nothing; ${:.2} of savings forgone</div>{}</div>",
        if h.cache_paid_usd > 0.0 { "bad" } else { "ok" },
        h.cache_paid_usd,
        h.cache_forgone_usd,
        list(fixes(a, &cache_kinds))
    );
    o.push_str("</div>");
}

/// Linear axis mapping.
struct Axis {
    min: f64,
    max: f64,
    px0: f64,
    px1: f64,
}

impl Axis {
    fn at(&self, v: f64) -> f64 {
        let span = (self.max - self.min).max(1e-9);
        self.px0 + (v.clamp(self.min, self.max) - self.min) / span * (self.px1 - self.px0)
    }
}

fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if v <= m * p {
            return m * p;
        }
    }
    10.0 * p
}

fn ticks(o: &mut String, x: &Axis, y: &Axis, x_label: &str, y_label: &str) {
    for i in 0..=5 {
        let v = x.min + (x.max - x.min) * i as f64 / 5.0;
        let px = x.at(v);
        let _ = write!(
            o,
            "<line x1=\"{px:.1}\" y1=\"{:.1}\" x2=\"{px:.1}\" y2=\"{:.1}\" stroke=\"#eef0f3\"/><text x=\"{px:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
            y.px0,
            y.px1,
            y.px0 + 14.0,
            fmt_num(v)
        );
        let w = y.min + (y.max - y.min) * i as f64 / 5.0;
        let py = y.at(w);
        let _ = write!(
            o,
            "<line x1=\"{:.1}\" y1=\"{py:.1}\" x2=\"{:.1}\" y2=\"{py:.1}\" stroke=\"#eef0f3\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            x.px0,
            x.px1,
            x.px0 - 4.0,
            py + 4.0,
            fmt_num(w)
        );
    }
    let _ = write!(
        o,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\">{}</text>\
         <text x=\"14\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 14 {:.1})\">{}</text>",
        (x.px0 + x.px1) / 2.0,
        y.px0 + 32.0,
        esc(x_label),
        (y.px0 + y.px1) / 2.0,
        (y.px0 + y.px1) / 2.0,
        esc(y_label)
    );
}

fn fmt_num(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.trunc() { format!("{v:.0}") } else { format!("{v:.1}") }
}

fn scatter(a: &Analysis) -> String {
    let idle = a.settings.idle_threshold_s;
    let stale: std::collections::HashSet<&str> = a
        .findings
        .iter()
        .filter_map(|f| match &f.detail {
            FindingDetail::StaleSocket(d) => Some(d.calls.iter().map(|c| c.invocation_id.as_str())),
            _ => None,
        })
        .flatten()
        .collect();
    let mut pts: Vec<(f64, f64, bool)> = Vec::new();
    let mut read_timeouts: Vec<f64> = Vec::new();
    for c in &a.calls {
        let (Some(lat), Some(first)) = (c.latency_ms(), c.attempts.first()) else { continue };
        let gap = first.idle_gap_ms.unwrap_or(0) as f64 / 1000.0;
        pts.push((gap, lat as f64 / 1000.0, stale.contains(c.invocation_id.as_str())));
        read_timeouts.push(c.read_timeout_s);
    }
    if pts.is_empty() {
        return "<p class=\"note\">No SDK calls with timings in these inputs (botocore DEBUG logs give them).</p>"
            .into();
    }
    read_timeouts.sort_by(f64::total_cmp);
    let read_timeout = read_timeouts[read_timeouts.len() / 2];
    let total = pts.len();
    // Deterministic sample: every k-th call, and every stale-socket call.
    let k = total.div_ceil(MAX_POINTS).max(1);
    let shown: Vec<(f64, f64, bool)> =
        pts.iter().enumerate().filter(|(i, p)| p.2 || i % k == 0).map(|(_, p)| *p).collect();
    let x =
        Axis { min: 0.0, max: nice_max(pts.iter().map(|p| p.0).fold(idle * 1.2, f64::max)), px0: 60.0, px1: 1120.0 };
    let y = Axis {
        min: 0.0,
        max: nice_max(pts.iter().map(|p| p.1).fold(read_timeout * 1.2, f64::max)),
        px0: 380.0,
        px1: 20.0,
    };
    let mut o =
        String::from("<svg role=\"img\" aria-label=\"idle gap vs latency\" viewBox=\"0 0 1160 420\" width=\"100%\">");
    ticks(&mut o, &x, &y, "idle seconds of the pooled connection before the call", "latency the caller saw (s)");
    let _ = write!(
        o,
        "<line x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{0:.1}\" y2=\"{2:.1}\" stroke=\"#b42318\" stroke-dasharray=\"6 4\"/>\
         <text x=\"{3:.1}\" y=\"32\" font-size=\"12\" fill=\"#b42318\">NAT/NLB idle timeout {4:.0} s</text>",
        x.at(idle),
        y.px0,
        y.px1,
        x.at(idle) + 6.0,
        idle
    );
    let _ = write!(
        o,
        "<line x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{2:.1}\" y2=\"{1:.1}\" stroke=\"#6941c6\" stroke-dasharray=\"6 4\"/>\
         <text x=\"{3:.1}\" y=\"{4:.1}\" font-size=\"12\" fill=\"#6941c6\">read_timeout {5:.0} s</text>",
        x.px0,
        y.at(read_timeout),
        x.px1,
        x.px0 + 6.0,
        y.at(read_timeout) - 6.0,
        read_timeout
    );
    for (gx, ly, hit) in &shown {
        let _ = write!(
            o,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{}\" fill=\"{}\" fill-opacity=\"0.7\"/>",
            x.at(*gx),
            y.at(*ly),
            if *hit { 5 } else { 3 },
            if *hit { "#b42318" } else { "#1f77b4" }
        );
    }
    o.push_str("</svg>");
    let _ = write!(
        o,
        "<p class=\"note\">{} of {} calls shown{}; red: calls that hung on a stale socket. Calls right of the red line reused a connection idle past the NAT timeout.</p>",
        shown.len(),
        total,
        if k > 1 { format!(" (1 in every {k} calls, plus every stale-socket call)") } else { String::new() }
    );
    o
}

fn histogram(a: &Analysis) -> String {
    let lat: Vec<f64> = a.calls.iter().filter_map(|c| c.latency_ms()).map(|l| l.max(1) as f64 / 1000.0).collect();
    if lat.is_empty() {
        return "<p class=\"note\">No SDK call latencies in these inputs.</p>".into();
    }
    // Four bins per decade from 10 ms to 1,000 s.
    let bins = 20usize;
    let bin_of = |v: f64| (((v.log10() + 2.0) * 4.0).floor().max(0.0) as usize).min(bins - 1);
    let mut counts = vec![0u64; bins];
    for v in &lat {
        counts[bin_of(*v)] += 1;
    }
    let max = *counts.iter().max().unwrap_or(&1) as f64;
    let mut o =
        String::from("<svg role=\"img\" aria-label=\"latency histogram\" viewBox=\"0 0 1160 260\" width=\"100%\">");
    let (x0, x1, y0, y1) = (60.0, 1120.0, 220.0, 20.0);
    let w = (x1 - x0) / bins as f64;
    for (i, n) in counts.iter().enumerate() {
        let h = if *n == 0 { 0.0 } else { (y0 - y1) * (*n as f64 / max) };
        let _ = write!(
            o,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#1f77b4\"><title>{n} calls</title></rect>",
            x0 + w * i as f64 + 1.0,
            y0 - h,
            w - 2.0
        );
        if *n > 0 {
            let _ = write!(
                o,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{n}</text>",
                x0 + w * (i as f64 + 0.5),
                y0 - h - 3.0
            );
        }
    }
    for (d, label) in ["0.01 s", "0.1 s", "1 s", "10 s", "100 s", "1000 s"].iter().enumerate() {
        let px = x0 + w * 4.0 * d as f64;
        let _ = write!(
            o,
            "<text x=\"{px:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{label}</text>",
            y0 + 14.0
        );
    }
    let _ = write!(
        o,
        "<text x=\"{:.1}\" y=\"252\" font-size=\"12\" text-anchor=\"middle\">latency, log scale (4 bins per decade)</text></svg>",
        (x0 + x1) / 2.0
    );
    let _ = write!(
        o,
        "<p class=\"note\">{} SDK calls; a second mode near read_timeout is the stale-socket signature.</p>",
        lat.len()
    );
    o
}

fn per_minute(t: &crate::agent::turns::ThrottleReport) -> String {
    if t.per_minute.is_empty() {
        return String::new();
    }
    let mut by_model: BTreeMap<&str, u64> = BTreeMap::new();
    for m in &t.per_minute {
        *by_model.entry(m.model.as_str()).or_default() += m.calls;
    }
    let mut models: Vec<(&str, u64)> = by_model.into_iter().collect();
    models.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    models.truncate(MAX_MODELS);
    let first = t.per_minute.iter().map(|m| m.minute_ms).min().unwrap_or(0);
    let last = t.per_minute.iter().map(|m| m.minute_ms).max().unwrap_or(0);
    let minutes = ((last - first) / 60_000 + 1) as usize;
    let per = minutes.div_ceil(MAX_BUCKETS).max(1);
    let buckets = minutes.div_ceil(per);
    let mut series: Vec<(Vec<u64>, Vec<u64>, Vec<u64>)> =
        vec![(vec![0; buckets], vec![0; buckets], vec![0; buckets]); models.len()];
    for m in &t.per_minute {
        if let Some(i) = models.iter().position(|(name, _)| *name == m.model) {
            let b = ((m.minute_ms - first) / 60_000) as usize / per;
            series[i].0[b] += m.calls;
            series[i].1[b] += m.throttles;
            series[i].2[b] += m.hops;
        }
    }
    let max = series.iter().flat_map(|s| s.0.iter()).copied().max().unwrap_or(1).max(1) as f64;
    let x = Axis { min: 0.0, max: (buckets.max(2) - 1) as f64, px0: 60.0, px1: 1120.0 };
    let y = Axis { min: 0.0, max: nice_max(max), px0: 300.0, px1: 20.0 };
    let unit = if per == 1 { "minute".to_string() } else { format!("{per}-minute bucket") };
    let mut o =
        String::from("<svg role=\"img\" aria-label=\"per-minute series\" viewBox=\"0 0 1160 340\" width=\"100%\">");
    ticks(
        &mut o,
        &x,
        &y,
        &format!("{unit}s since {} UTC", crate::format::prefix::format_ms(first)),
        &format!("per {unit}"),
    );
    let line = |vals: &[u64], color: &str, dash: &str| -> String {
        let pts: Vec<String> =
            vals.iter().enumerate().map(|(i, v)| format!("{:.1},{:.1}", x.at(i as f64), y.at(*v as f64))).collect();
        format!("<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" {dash} points=\"{}\"/>", pts.join(" "))
    };
    let mut legend = String::from("<p class=\"legend\">");
    for (i, (name, _)) in models.iter().enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        o.push_str(&line(&series[i].0, c, ""));
        o.push_str(&line(&series[i].1, c, "stroke-dasharray=\"5 3\""));
        o.push_str(&line(&series[i].2, c, "stroke-dasharray=\"1 3\""));
        let _ = write!(legend, "<span><i style=\"background:{c}\"></i>{}</span>", esc(name));
    }
    o.push_str("</svg>");
    legend
        .push_str("</p><p class=\"note\">solid: calls; dashed: throttles; dotted: fallback hops away from the model.");
    if per > 1 {
        let _ = write!(
            legend,
            " Minutes aggregated into {per}-minute buckets to keep the chart under {MAX_BUCKETS} points."
        );
    }
    legend.push_str("</p>");
    o + &legend
}

fn cost_chart(a: &Analysis, u: &crate::usage::cost::CostReport) -> String {
    let mut bars: Vec<(&str, &str, [f64; 4])> = Vec::new();
    let mut per: BTreeMap<(&str, &str), [f64; 4]> = BTreeMap::new();
    for r in &u.rows {
        if let Some(c) = &r.cost {
            let e = per.entry((r.day.as_str(), r.model.as_str())).or_default();
            e[0] += c.input;
            e[1] += c.output;
            e[2] += c.cache_read;
            e[3] += c.cache_write;
        }
    }
    for ((d, m), v) in per {
        bars.push((d, m, v));
    }
    let total_bars = bars.len();
    bars.sort_by(|a, b| {
        b.2.iter().sum::<f64>().total_cmp(&a.2.iter().sum::<f64>()).then(a.0.cmp(b.0)).then(a.1.cmp(b.1))
    });
    bars.truncate(24);
    bars.sort_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(b.1)));
    let mut waste: BTreeMap<&str, f64> = BTreeMap::new();
    for f in &a.findings {
        if let FindingDetail::CacheWaste(d) = &f.detail
            && d.category == "paid_for_nothing"
        {
            for m in &d.by_model {
                *waste.entry(m.model.as_str()).or_default() += m.usd;
            }
        }
    }
    if bars.is_empty() {
        return "<p class=\"note\">No priced usage.</p>".into();
    }
    let max = bars.iter().map(|b| b.2.iter().sum::<f64>()).fold(0.0, f64::max);
    let y = Axis { min: 0.0, max: nice_max(max), px0: 300.0, px1: 20.0 };
    let x = Axis { min: 0.0, max: 1.0, px0: 60.0, px1: 1120.0 };
    let w = (x.px1 - x.px0) / bars.len() as f64;
    let colors = ["#1f77b4", "#2ca02c", "#9edae5", "#ff7f0e"];
    let mut o =
        String::from("<svg role=\"img\" aria-label=\"cost by model and day\" viewBox=\"0 0 1160 420\" width=\"100%\">");
    for i in 0..=5 {
        let v = y.max * i as f64 / 5.0;
        let _ = write!(
            o,
            "<line x1=\"60\" y1=\"{0:.1}\" x2=\"1120\" y2=\"{0:.1}\" stroke=\"#eef0f3\"/><text x=\"56\" y=\"{1:.1}\" font-size=\"11\" text-anchor=\"end\">${2:.2}</text>",
            y.at(v),
            y.at(v) + 4.0,
            v
        );
    }
    for (i, (day, model, v)) in bars.iter().enumerate() {
        let mut base = 0.0;
        let bx = x.px0 + w * i as f64 + 2.0;
        for (k, part) in v.iter().enumerate() {
            let top = y.at(base + part);
            let h = y.at(base) - top;
            let _ = write!(
                o,
                "<rect x=\"{bx:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\"><title>{} {} {}: ${part:.4}</title></rect>",
                (w - 4.0).max(1.0),
                colors[k],
                esc(day),
                esc(model),
                ["input", "output", "cache read", "cache write"][k]
            );
            base += part;
        }
        if let Some(wu) = waste.get(model)
            && *wu > 0.0
        {
            let _ = write!(
                o,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"#b42318\" text-anchor=\"middle\">waste</text>",
                bx + w / 2.0 - 2.0,
                y.at(base) - 4.0
            );
        }
        let label: String = model.chars().rev().take(26).collect::<Vec<_>>().into_iter().rev().collect();
        let _ = write!(
            o,
            "<text font-size=\"10\" transform=\"translate({:.1},{:.1}) rotate(40)\">{} {}</text>",
            bx + 2.0,
            y.px0 + 10.0,
            esc(&day[5.min(day.len())..]),
            esc(&label)
        );
    }
    o.push_str("</svg><p class=\"legend\">");
    for (k, name) in ["input", "output", "cache read", "cache write"].iter().enumerate() {
        let _ = write!(o, "<span><i style=\"background:{}\"></i>{name}</span>", colors[k]);
    }
    let _ = write!(
        o,
        "</p><p class=\"note\">{} (day, model) bars{}; \"waste\" marks models with cache writes paid for nothing (see findings). Total billed ${:.2}; without caching ${:.2}. Prices: {}.</p>",
        bars.len(),
        if total_bars > bars.len() { format!(" of {total_bars}, the most expensive shown") } else { String::new() },
        u.totals.cost.total,
        u.totals.cost.without_caching,
        esc(&u.price_table)
    );
    o
}

fn findings(o: &mut String, a: &Analysis) {
    o.push_str("<h2>Findings</h2>");
    if a.findings.is_empty() {
        o.push_str("<p>No findings.</p>");
        return;
    }
    let mut budget = MAX_RAW_LINES;
    let raw = raw_lines(a, &mut budget);
    o.push_str("<table><tr><th>#</th><th>kind</th><th>finding</th><th>impact</th></tr>");
    for f in &a.findings {
        let impact = if f.impact_seconds > 0.0 {
            format!("{:.1} s", f.impact_seconds)
        } else if f.impact_usd > 0.0 {
            format!("${:.2}", f.impact_usd)
        } else {
            "-".into()
        };
        let _ = write!(
            o,
            "<tr><td class=\"r\">{}</td><td>{}</td><td><details><summary>{}</summary>",
            f.rank,
            esc(f.kind),
            esc(&f.title)
        );
        for fix in &f.fix {
            let _ = write!(o, "<div>fix: {}</div>", esc(fix));
        }
        let ev = evidence_of(f);
        if !ev.is_empty() {
            o.push_str("<pre>");
            for (role, at) in ev.iter().take(12) {
                let _ = writeln!(o, "{} {}", esc(role), esc(at));
                if let Some(line) = raw.get(at.as_str()) {
                    let _ = writeln!(o, "    {}", esc(line));
                }
            }
            o.push_str("</pre>");
        }
        let _ = write!(o, "</details></td><td class=\"r\">{impact}</td></tr>");
    }
    o.push_str("</table><p class=\"note\">Evidence lines are re-read from the inputs; request bodies and message text are redacted.</p>");
}

/// (role, `file:line`) pairs a finding cites.
fn evidence_of(f: &Finding) -> Vec<(String, String)> {
    let from = |e: &[Evidence]| e.iter().map(|e| (e.role.to_string(), e.at.clone())).collect::<Vec<_>>();
    match &f.detail {
        FindingDetail::StaleSocket(d) => d.calls.iter().take(4).flat_map(|c| from(&c.evidence)).collect(),
        FindingDetail::HiddenRetries(d) => d.listed_calls.iter().take(4).flat_map(|c| from(&c.evidence)).collect(),
        FindingDetail::CacheWaste(d) => d
            .examples
            .iter()
            .take(6)
            .map(|e| (format!("request {}", e.request_id.as_deref().unwrap_or("-")), e.at.clone()))
            .collect(),
        FindingDetail::ThrottleAmplification(_) => Vec::new(),
    }
}

/// Re-reads cited lines (line-oriented sources only), redacted.
fn raw_lines(a: &Analysis, budget: &mut usize) -> std::collections::HashMap<String, String> {
    let mut wanted: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    let line_based: std::collections::HashSet<&str> = a
        .sources
        .iter()
        .filter(|s| {
            matches!(
                s.report.container,
                None | Some(crate::container::ContainerKind::ExportTask | crate::container::ContainerKind::JsonLines)
            )
        })
        .map(|s| s.report.name.as_str())
        .collect();
    let mut all: Vec<(String, String)> = a.findings.iter().flat_map(evidence_of).collect();
    all.truncate(*budget);
    for (_, at) in &all {
        if let Some((file, line)) = at.rsplit_once(':')
            && let Ok(n) = line.parse::<u64>()
            && line_based.contains(file)
        {
            wanted.entry(file).or_default().push(n);
        }
    }
    let mut out = std::collections::HashMap::new();
    for (file, mut lines) in wanted {
        lines.sort_unstable();
        lines.dedup();
        let input = Input { name: file.to_string(), origin: Origin::File(file.into()) };
        let Ok((mut reader, _)) = source::open(&input) else { continue };
        let mut buf = Vec::new();
        let mut n = 0u64;
        let mut next = 0;
        while next < lines.len() {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            n += 1;
            if n == lines[next] {
                out.insert(format!("{file}:{n}"), redact(&String::from_utf8_lossy(&buf)));
                next += 1;
                *budget = budget.saturating_sub(1);
            }
        }
    }
    out
}

/// Removes prompt and completion text from a raw line: JSON records keep
/// only short scalar fields outside bodies; text lines lose request bodies.
pub fn redact(line: &str) -> String {
    let line = line.trim_end();
    let json_start = line.find('{').filter(|&i| line[i..].trim_end().ends_with('}'));
    if let Some(i) = json_start
        && let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&line[i..])
    {
        scrub(&mut v);
        let mut s = format!("{}{}", &line[..i], v);
        truncate(&mut s, 600);
        return s;
    }
    let mut s = line.to_string();
    if let Some(p) = s.find("'body': b'").or_else(|| s.find("'body': b\"")) {
        let start = p + "'body': b'".len();
        let quote = s.as_bytes()[start - 1];
        let end = s[start..]
            .bytes()
            .enumerate()
            .find(|&(i, b)| b == quote && (i == 0 || s.as_bytes()[start + i - 1] != b'\\'));
        let end = end.map_or(s.len(), |(i, _)| start + i);
        s.replace_range(start..end, "<redacted>");
    }
    truncate(&mut s, 600);
    s
}

fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
}

const BODY_KEYS: [&str; 10] = [
    "inputBodyJson",
    "outputBodyJson",
    "messages",
    "system",
    "content",
    "text",
    "output",
    "message",
    "prompt",
    "completion",
];

fn scrub(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if BODY_KEYS.contains(&k.as_str()) {
                    *val = serde_json::Value::String("<redacted>".into());
                } else {
                    scrub(val);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(scrub),
        serde_json::Value::String(s) if s.len() > 120 => *s = format!("<redacted {} chars>", s.len()),
        _ => {}
    }
}

fn inputs(o: &mut String, a: &Analysis) {
    o.push_str("<h2>Inputs</h2><table><tr><th>source</th><th>bytes</th><th>format</th><th>lines</th><th>parsed</th><th>noise</th><th>unrecognized</th><th>duplicates</th></tr>");
    for s in &a.sources {
        let r = &s.report;
        let size = std::fs::metadata(&r.name).map(|m| m.len().to_string()).unwrap_or_else(|_| "-".into());
        let fmt = match (&r.container, r.formats.is_empty()) {
            (Some(k), _) => format!("{k:?}"),
            (None, false) => r.formats.iter().map(|(f, _)| format!("{f:?}")).collect::<Vec<_>>().join(", "),
            (None, true) => "-".into(),
        };
        let gz = if matches!(r.compression, crate::source::Compression::Gzip) { "gzip " } else { "" };
        let _ = write!(
            o,
            "<tr><td>{}</td><td class=\"r\">{size}</td><td>{gz}{}</td><td class=\"r\">{}</td><td class=\"r\">{}</td><td class=\"r\">{}</td><td class=\"r\">{}</td><td class=\"r\">{}</td></tr>",
            esc(&r.name),
            esc(&fmt),
            r.lines.lines_read,
            r.lines.parsed,
            r.lines.noise,
            r.lines.unrecognized,
            r.lines.duplicates
        );
    }
    o.push_str("</table>");
    if let Some(u) = &a.usage {
        let _ = write!(o, "<p class=\"note\">Price table: {}.</p>", esc(&u.price_table));
    }
    if !a.errors.is_empty() {
        o.push_str("<p class=\"bad\">Inputs not fully read (the analysis is partial):</p><ul>");
        for e in &a.errors {
            let _ = write!(o, "<li>{}</li>", esc(e));
        }
        o.push_str("</ul>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_drops_bodies_and_message_text() {
        let l = "2026-11-21 22:44:34,041 - T1 - botocore.endpoint - DEBUG - Making request for OperationModel(name=Converse) with params: {'url_path': '/model/x/converse', 'body': b'{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"SECRET\"}]}]}', 'headers': {}}";
        let r = redact(l);
        assert!(!r.contains("SECRET") && r.contains("'body': b'<redacted>'"), "{r}");
        let j = r#"{"requestId":"r1","input":{"inputBodyJson":{"messages":[{"content":[{"text":"SECRET"}]}]},"inputTokenCount":3}}"#;
        let r = redact(j);
        assert!(!r.contains("SECRET") && r.contains("\"inputTokenCount\":3"), "{r}");
    }
}
