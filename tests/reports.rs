//! The reports people hand over: the self-contained HTML report (checked in
//! headless Chromium when it is installed), the call and turn waterfalls,
//! and Markdown.

mod common;

use std::process::Command;

use bfx::render::html;
use bfx::render::waterfall as w;
use common::*;

fn bfx(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bfx")).args(args).output().unwrap();
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

fn span<'a>(page: &'a str, id: &str) -> &'a str {
    let start = page.find(&format!("id=\"{id}\">")).unwrap_or_else(|| panic!("no #{id}")) + id.len() + 6;
    &page[start..start + page[start..].find('<').unwrap()]
}

#[test]
fn html_report_is_self_contained_and_its_headline_matches_the_json() {
    let a = analyze(&[fixture("sample/incident")]);
    let page = html::html(&a);
    for banned in ["<script", "<link", "@import", "url(", " src=", "<iframe", "<img"] {
        assert!(!page.contains(banned), "the report must not load anything: found {banned}");
    }
    assert!(!page.contains("SECRET-"), "prompt or completion text leaked into the report");
    assert!(page.len() < 5 << 20);
    let json: serde_json::Value = serde_json::from_str(&bfx::render::json(&a)).unwrap();
    let finding = |kind: &str| json["findings"].as_array().unwrap().iter().find(|f| f["kind"] == kind).unwrap().clone();
    assert_eq!(
        span(&page, "stale-seconds"),
        format!("{:.1}", finding("stale_socket")["seconds_lost"].as_f64().unwrap())
    );
    assert_eq!(span(&page, "throttles-absorbed"), json["throttle"]["throttles"].to_string());
    let paid: f64 = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["category"] == "paid_for_nothing")
        .map(|f| f["usd"].as_f64().unwrap())
        .sum();
    assert_eq!(span(&page, "cache-waste-usd"), format!("{paid:.2}"));
    assert_eq!(span(&page, "cache-waste-usd"), "0.82");
    // Every section is there, with the NAT threshold and read_timeout drawn.
    for text in [
        "NAT/NLB idle timeout 350 s",
        "read_timeout 60 s",
        "Call latency",
        "per minute",
        "Cost by model and day",
        "Inputs",
        "Price table: bfx embedded table",
    ] {
        assert!(page.contains(text), "missing {text}");
    }
}

/// The stale-socket fixture repeated `copies` times, a year apart, with
/// fresh invocation ids: many calls, the same shape.
fn many_calls(copies: usize) -> (tempfile::TempDir, String) {
    let log = std::fs::read_to_string(fixture("botocore/stale_v144_standard.log")).unwrap();
    let uuid = regex::Regex::new(r"\b[0-9a-f]{8}(-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.log");
    let mut out = String::with_capacity(log.len() * copies);
    for k in 0..copies {
        let dated = log.replace("2026-11-21 ", &format!("{:04}-11-21 ", 2026 + k));
        out.push_str(&uuid.replace_all(&dated, |c: &regex::Captures| format!("{k:08x}{}", &c[1])));
    }
    std::fs::write(&path, out).unwrap();
    (dir, path.display().to_string())
}

#[test]
fn html_report_stays_small_and_bounded_on_a_large_input() {
    let (_dir, path) = many_calls(200);
    let a = analyze(&[path]);
    assert_eq!(a.calls.len(), 200 * 11);
    let page = html::html(&a);
    assert!(page.len() < 5 << 20, "{} bytes", page.len());
    let points = page.matches("<circle").count();
    // Every 2nd call, plus the 600 stale-socket calls wherever they fall.
    assert_eq!(points, 1100 + 300);
    assert!(points <= html::MAX_POINTS + 600, "{points} points");
    assert!(
        page.contains("1400 of 2200 calls shown (1 in every 2 calls, plus every stale-socket call)"),
        "note missing"
    );
}

fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().find(|p| std::path::Path::new(p).exists())
}

#[test]
fn html_report_renders_in_headless_chromium_without_errors_or_network() {
    let Some(chrome) = chromium() else {
        // .ci/run installs Debian's chromium and sets BFX_REQUIRE_CHROMIUM=1.
        assert!(std::env::var_os("BFX_REQUIRE_CHROMIUM").is_none(), "chromium is required but not installed");
        eprintln!("skipped: chromium not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.html");
    let netlog = dir.path().join("net.json");
    let (code, _, err) = bfx(&["analyze", &fixture("sample/incident"), "--html", report.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let out = Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--enable-logging=stderr",
            "--v=0",
            &format!("--user-data-dir={}", dir.path().join("profile").display()),
            &format!("--log-net-log={}", netlog.display()),
            "--dump-dom",
            &format!("file://{}", report.display()),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dom = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in stderr.lines() {
        assert!(!line.contains("CONSOLE") && !line.contains("Uncaught"), "console message: {line}");
    }
    // The rendered text carries the same headline as the JSON.
    let a = analyze(&[fixture("sample/incident")]);
    let h = html::headline(&a);
    assert_eq!(span(&dom, "stale-seconds"), format!("{:.1}", h.stale_seconds));
    assert_eq!(span(&dom, "throttles-absorbed"), h.throttles.to_string());
    assert_eq!(span(&dom, "cache-waste-usd"), format!("{:.2}", h.cache_paid_usd));
    // No request but the file itself. Chromium's own background services
    // (updates, accounts) are not the page's and are left out by host.
    let log: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&netlog).unwrap()).unwrap();
    let own = ["google.com/", "googleapis.com/", "gvt1.com/", "gstatic.com/"];
    for e in log["events"].as_array().unwrap() {
        if let Some(url) = e["params"]["url"].as_str() {
            let page = url.starts_with("file://") && url.ends_with("report.html");
            assert!(page || own.iter().any(|h| url.contains(h)), "the report requested {url}");
        }
    }
}

#[test]
fn call_waterfall_fits_80_columns_and_matches_its_snapshots() {
    let a = analyze(&[fixture("botocore/stale_v144_standard.log")]);
    let call = w::find_call(&a, "ff87bea4-df97-4052-8b15-acb2a2f6a902").unwrap();
    // The same call is found by its final request id.
    let by_request = w::find_call(&a, "b7bcad7d-50ab-4d51-b091-8545a971e2c6").unwrap();
    assert_eq!(call.invocation_id, by_request.invocation_id);
    let v = w::call_view(&a, call);
    let text = w::call_text(&v);
    for line in text.lines() {
        assert!(line.chars().count() <= 80, "{} columns: {line}", line.chars().count());
    }
    insta::assert_snapshot!("call_waterfall_text", relative(text));
    insta::assert_snapshot!("call_waterfall_markdown", relative(w::call_markdown(&v)));
    insta::assert_snapshot!("call_waterfall_json", relative(serde_json::to_string_pretty(&v).unwrap()));
}

#[test]
fn turn_waterfall_shows_hops_and_matches_its_snapshot() {
    let a = analyze(&[fixture("agent/firehose")]);
    // The turn with the most calls: a full fallback chain.
    let (i, _) = a.turns.iter().enumerate().max_by_key(|(i, t)| (t.calls, std::cmp::Reverse(*i))).unwrap();
    let v = w::turn_view(&a, &a.turns[i].key.clone()).unwrap();
    assert_eq!(v.calls.len(), a.turns[i].calls);
    let text = w::turn_text(&v);
    for line in text.lines() {
        assert!(line.chars().count() <= 80, "{} columns: {line}", line.chars().count());
    }
    insta::assert_snapshot!("turn_waterfall_text", relative(text));
    insta::assert_snapshot!("turn_waterfall_markdown", relative(w::turn_markdown(&v)));
}

#[test]
fn timeline_command_prints_text_json_and_markdown() {
    let log = fixture("botocore/stale_v144_standard.log");
    let (code, text, _) = bfx(&["timeline", &log, "--call", "ff87bea4-df97-4052-8b15-acb2a2f6a902"]);
    assert_eq!(code, 0);
    assert!(text.contains("reused #3, idle 407.6 s → read timeout (inferred)"), "{text}");
    let (_, json, _) = bfx(&["timeline", &log, "--call", "ff87bea4-df97-4052-8b15-acb2a2f6a902", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["attempts"].as_array().unwrap().len(), 2);
    let (_, md, _) = bfx(&["timeline", &log, "--call", "ff87bea4-df97-4052-8b15-acb2a2f6a902", "--format", "markdown"]);
    assert!(md.starts_with("### Call `ff87bea4-df97-4052-8b15-acb2a2f6a902`"));
    let (code, _, err) = bfx(&["timeline", &log, "--call", "nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("no call with invocation id or request id nope"), "{err}");
}

#[test]
fn call_waterfall_joins_tokens_and_dollars_by_request_id() {
    // A usage record whose request id is the call's final attempt's: the
    // waterfall prices the call (joined on the id, never on time).
    let dir = tempfile::tempdir().unwrap();
    let usage = dir.path().join("usage.jsonl");
    std::fs::write(
        &usage,
        r#"{"modelId":"us.anthropic.claude-sonnet-4-5-20250929-v1:0","ResponseMetadata":{"RequestId":"b7bcad7d-50ab-4d51-b091-8545a971e2c6"},"usage":{"inputTokens":1000,"outputTokens":100,"totalTokens":1100}}
"#,
    )
    .unwrap();
    let a = analyze(&[fixture("botocore/stale_v144_standard.log"), usage.display().to_string()]);
    let v = w::call_view(&a, w::find_call(&a, "ff87bea4-df97-4052-8b15-acb2a2f6a902").unwrap());
    let u = v.usage.unwrap();
    assert_eq!((u.tokens.input, u.tokens.output), (1000, 100));
    // us. Sonnet 4.5: $3.30/M in, $16.50/M out.
    assert_eq!(u.usd, Some(0.00495));
}

#[test]
fn markdown_report_matches_its_snapshot() {
    let a = analyze(&[fixture("botocore/stale_v144_standard.log"), fixture("botocore/throttle_v144_standard.log")]);
    insta::assert_snapshot!("analyze_markdown", relative(bfx::render::markdown::markdown(&a)));
}
