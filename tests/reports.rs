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

/// `(table, [(column, type)])` from docs/schema.md.
fn documented_schema() -> Vec<(String, Vec<(String, String)>)> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/schema.md")).unwrap();
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in doc.lines() {
        if let Some(t) = line.strip_prefix("## ") {
            out.push((t.trim().to_string(), Vec::new()));
        } else if line.starts_with("| ") && !line.starts_with("| column") && !out.is_empty() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            out.last_mut().unwrap().1.push((cells[1].to_string(), cells[2].to_string()));
        }
    }
    out
}

#[test]
fn tables_round_trip_through_polars_with_the_documented_schema() {
    use polars_io::SerReader;
    let a = analyze(&[fixture("sample/incident")]);
    let dir = tempfile::tempdir().unwrap();
    let parquet = bfx::tables::write(&a, dir.path(), bfx::tables::TableFormat::Parquet).unwrap();
    let csv_dir = dir.path().join("csv");
    let csv = bfx::tables::write(&a, &csv_dir, bfx::tables::TableFormat::Csv).unwrap();
    let built = bfx::tables::build(&a).unwrap();
    let doc = documented_schema();
    assert_eq!(doc.iter().map(|t| t.0.as_str()).collect::<Vec<_>>(), bfx::tables::TABLES);
    for (((name, df), (doc_name, cols)), (pq, cv)) in built.iter().zip(&doc).zip(parquet.iter().zip(&csv)) {
        assert_eq!(name, doc_name);
        let schema: Vec<(String, String)> = df.schema().iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
        assert_eq!(&schema, cols, "table {name} differs from docs/schema.md");
        // Parquet keeps every type and value.
        let back = polars_io::parquet::read::ParquetReader::new(std::fs::File::open(pq).unwrap()).finish().unwrap();
        assert!(back.equals_missing(df), "{name}.parquet does not round-trip");
        // CSV keeps every row and column name.
        let csv_back = polars_io::csv::read::CsvReadOptions::default()
            .with_has_header(true)
            .try_into_reader_with_file_path(Some(cv.clone()))
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(csv_back.shape(), df.shape(), "{name}.csv");
        assert_eq!(csv_back.get_column_names(), df.get_column_names(), "{name}.csv");
    }
    let rows: Vec<usize> = built.iter().map(|(_, df)| df.height()).collect();
    assert_eq!(rows, vec![a.calls.len(), a.totals.attempts, 420, 390, a.findings.len(), a.sources.len()]);
}

#[test]
fn documented_sql_gives_the_reports_numbers_in_duckdb() {
    let ok = Command::new("python3").args(["-c", "import duckdb"]).status().is_ok_and(|s| s.success());
    if !ok {
        // .ci/run installs the duckdb wheel and sets BFX_REQUIRE_DUCKDB=1.
        assert!(std::env::var_os("BFX_REQUIRE_DUCKDB").is_none(), "python3 with duckdb is required but missing");
        eprintln!("skipped: python3 -c 'import duckdb' failed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (code, json, err) =
        bfx(&["analyze", &fixture("sample/incident"), "--format", "json", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let runner = r#"
import duckdb, json, sys
con = duckdb.connect()
con.execute("SET VARIABLE dir = '%s'" % sys.argv[2].replace("'", "''"))
sql = "\n".join(l for l in open(sys.argv[1]).read().splitlines() if not l.lstrip().startswith("--"))
out = []
for st in [s.strip() for s in sql.split(";") if s.strip()]:
    out.append([[v if isinstance(v, (int, float, str, type(None))) else str(v) for v in row] for row in con.execute(st).fetchall()])
print(json.dumps(out))
"#;
    let out = Command::new("python3")
        .args(["-c", runner, concat!(env!("CARGO_MANIFEST_DIR"), "/docs/queries.sql"), dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let q: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let finding =
        |kind: &str| report["findings"].as_array().unwrap().iter().find(|f| f["kind"] == kind).unwrap().clone();
    let r6 = |v: &serde_json::Value| (v.as_f64().unwrap() * 1e6).round() / 1e6;
    // q1: stale sockets.
    let stale = finding("stale_socket");
    assert_eq!(q[0][0][0], stale["calls_hit"]);
    assert_eq!(r6(&q[0][0][1]), r6(&stale["seconds_lost"]));
    // q2: failed attempts by outcome = retries plus final failures per cause.
    let retried = finding("hidden_retries");
    let by_cause = |c: &str| -> u64 {
        let row = retried["by_cause"].as_array().unwrap().iter().find(|r| r["cause"] == c).unwrap();
        row["retries"].as_u64().unwrap() + row["final_failures"].as_u64().unwrap()
    };
    let failed = |outcome: &str| -> u64 {
        q[1].as_array().unwrap().iter().filter(|r| r[0] == outcome).map(|r| r[2].as_u64().unwrap()).sum()
    };
    assert_eq!(failed("throttled"), by_cause("throttle"));
    assert_eq!(failed("transport"), by_cause("timeout"));
    assert_eq!(failed("server_error"), by_cause("5xx"));
    // q3: throttle amplification headline.
    let t = &report["throttle"];
    assert_eq!((&q[2][0][0], &q[2][0][1], &q[2][0][2]), (&t["turns"], &t["calls"], &t["throttles"]));
    // q4: billed, no-cache, savings, unpriced.
    let cost = &report["usage"]["totals"]["cost"];
    assert_eq!(r6(&q[3][0][0]), r6(&cost["total"]));
    assert_eq!(r6(&q[3][0][1]), r6(&cost["without_caching"]));
    assert_eq!(r6(&q[3][0][2]), r6(&cost["caching_savings"]));
    let unpriced: u64 =
        report["usage"]["unpriced"].as_array().unwrap().iter().map(|u| u["requests"].as_u64().unwrap()).sum();
    assert_eq!(q[3][0][3].as_u64().unwrap(), unpriced);
    // q5: per day and model, summed over regions.
    let mut want: std::collections::BTreeMap<(String, String), f64> = Default::default();
    for row in report["usage"]["rows"].as_array().unwrap() {
        if row["day"] != "unknown" {
            *want.entry((row["day"].as_str().unwrap().into(), row["model"].as_str().unwrap().into())).or_default() +=
                row["cost"]["total"].as_f64().unwrap();
        }
    }
    let got: std::collections::BTreeMap<(String, String), f64> = q[4]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| ((r[0].as_str().unwrap().into(), r[1].as_str().unwrap().into()), r[3].as_f64().unwrap()))
        .collect();
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
    for (k, v) in &got {
        assert!((v - want[k]).abs() < 5e-6, "{k:?}: {v} vs {}", want[k]);
    }
    // q6: cache dollars paid for nothing.
    let paid: f64 = q[5].as_array().unwrap().iter().map(|r| r[1].as_f64().unwrap()).sum();
    assert_eq!((paid * 100.0).round() / 100.0, 0.82);
}

#[test]
fn progress_bar_only_on_a_terminal() {
    // Piped: no bar, nothing on stderr.
    let (code, _, err) = bfx(&["analyze", &fixture("sample/incident")]);
    assert_eq!((code, err.as_str()), (0, ""));
    // On a pseudo-terminal (util-linux `script`): the bar draws on stderr,
    // and --quiet turns it off.
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped the terminal half: no `script`");
        return;
    }
    let run = |extra: &str| {
        let cmd = format!(
            "{} analyze {} --format json {extra} > /dev/null",
            env!("CARGO_BIN_EXE_bfx"),
            fixture("sample/incident")
        );
        let out = Command::new("script").args(["-qec", &cmd, "/dev/null"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(run("").contains("reading"), "no progress bar on a terminal");
    assert!(!run("--quiet").contains("reading"));
}
