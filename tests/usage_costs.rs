//! Usage records, prices and cache waste (fixtures/usage/generate.py): every
//! count, token and dollar must equal the generator's ground truth, which it
//! computes from the same price table.

mod common;

use std::collections::BTreeMap;

use bfx::analyze::{Analysis, AnalyzeOptions};
use bfx::detect::FindingDetail;
use bfx::detect::cache_waste::CacheWasteDetail;
use common::*;
use serde_json::Value;

fn truth() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("usage/truth.json")).unwrap()).unwrap()
}

fn inputs() -> Vec<String> {
    ["usage/app", "usage/cloudwatch", "usage/cur", "usage/s3"].iter().map(|p| fixture(p)).collect()
}

fn run() -> Analysis {
    let mut opts = AnalyzeOptions::default();
    opts.detect.max_listed_calls = 100_000;
    analyze_with(&inputs(), opts)
}

fn waste<'a>(a: &'a Analysis, kind: &str) -> &'a CacheWasteDetail {
    a.findings
        .iter()
        .find_map(|f| match &f.detail {
            FindingDetail::CacheWaste(d) if f.kind == kind => Some(d.as_ref()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {kind} finding"))
}

#[test]
fn totals_tokens_and_dollars_match_the_generator() {
    let a = run();
    let t = truth();
    let u = a.usage.as_ref().expect("usage report");
    assert_eq!(u.totals.requests, t["requests"].as_u64().unwrap());
    assert_eq!(u.totals.priced_requests, t["priced_requests"].as_u64().unwrap());
    assert_eq!(u.dedup.duplicates_dropped, t["duplicates_dropped"].as_u64().unwrap());
    assert_eq!(u.dedup.without_request_id, t["without_request_id"].as_u64().unwrap());
    let tok = serde_json::to_value(u.totals.tokens).unwrap();
    assert_eq!(tok, t["tokens"]);
    let cost = serde_json::to_value(u.totals.cost).unwrap();
    assert_eq!(cost, t["cost_usd"]);
    // The exact figures, so that a generator change is a visible diff too.
    assert_eq!(u.totals.cost.total, 5.336432);
    assert_eq!(u.totals.cost.caching_savings, 0.92647);
}

#[test]
fn every_source_kind_and_token_convention_is_counted() {
    let a = run();
    let t = truth();
    let u = a.usage.as_ref().unwrap();
    let mut got: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for s in &u.sources {
        let kind = serde_json::to_value(s.kind).unwrap().as_str().unwrap().to_string();
        for (c, n, _) in &s.conventions {
            got.entry(kind.clone())
                .or_default()
                .insert(serde_json::to_value(c).unwrap().as_str().unwrap().to_string(), *n);
        }
    }
    assert_eq!(serde_json::to_value(&got).unwrap(), t["records_by_kind"]);
    // All five source kinds bfx reads: invocation logs, Converse usage (dropped as
    // duplicates of the invocation logs, see below), Anthropic bodies, invocation
    // metrics, spans, and CUR rows in the reconciliation.
    assert!(got.contains_key("otel_span") && got.contains_key("anthropic_body"));
    assert!(got.contains_key("invocation_metrics") && got.contains_key("invocation_log"));
    let converse = a.sources.iter().find(|s| s.report.name.ends_with("converse-usage.jsonl")).unwrap();
    assert_eq!(converse.report.lines.parsed, 8);
}

#[test]
fn double_counted_cache_tokens_are_normalized() {
    // Strands spans count cache tokens inside gen_ai.usage.input_tokens; summing
    // them as Bedrock does would bill 6,000 cache tokens twice per span.
    let a = run();
    let u = a.usage.as_ref().unwrap();
    let spans = u
        .rows
        .iter()
        .find(|r| r.region.is_empty() && r.model == "us.anthropic.claude-sonnet-4-5-20250929-v1:0")
        .unwrap();
    assert_eq!(spans.requests, 7);
    assert_eq!(spans.tokens.input, 100 + 4 * 150 + 150 + 150);
    assert_eq!(spans.tokens.cache_read, 6 * 6000);
    assert_eq!(spans.tokens.cache_write_5m, 6000);
}

#[test]
fn rows_per_day_model_and_region_match() {
    let a = run();
    let t = truth();
    let u = a.usage.as_ref().unwrap();
    let got: BTreeMap<String, (u64, f64)> = u
        .rows
        .iter()
        .map(|r| (format!("{}|{}|{}", r.day, r.model, r.region), (r.requests, r.cost.unwrap().total)))
        .collect();
    let want: BTreeMap<String, (u64, f64)> = t["rows"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), (v["requests"].as_u64().unwrap(), v["total_usd"].as_f64().unwrap())))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn unpriced_models_are_reported_never_priced_at_zero() {
    let a = run();
    let t = truth();
    let u = a.usage.as_ref().unwrap();
    let got: BTreeMap<String, (u64, u64)> =
        u.unpriced.iter().map(|m| (m.model.clone(), (m.requests, m.tokens.input))).collect();
    let want: BTreeMap<String, (u64, u64)> = t["unpriced"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), (v["requests"].as_u64().unwrap(), v["input"].as_u64().unwrap())))
        .collect();
    assert_eq!(got, want);
    assert!(u.rows.iter().all(|r| !r.model.contains("jamba")), "an unpriced model must not get a $0 row");
}

#[test]
fn each_waste_kind_has_its_dollars_and_request_ids() {
    let a = run();
    let t = truth();
    for (kind, want) in t["waste"].as_object().unwrap() {
        let d = waste(&a, kind);
        assert_eq!(d.usd, want["usd"].as_f64().unwrap(), "{kind} dollars");
        let mut ids: Vec<String> = d.examples.iter().map(|e| e.request_id.clone().unwrap()).collect();
        ids.sort();
        let want_ids: Vec<String> =
            want["request_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
        assert_eq!(ids, want_ids, "{kind} request ids");
        assert_eq!(d.requests, want_ids.len(), "{kind} request count");
    }
    let expiry = waste(&a, "cache_ttl_expiry");
    let mut gaps: BTreeMap<String, u64> = BTreeMap::new();
    for e in &expiry.examples {
        *gaps.entry(format!("{}", e.gap_s.unwrap() as u64)).or_default() += 1;
    }
    assert_eq!(serde_json::to_value(&gaps).unwrap(), t["ttl_expiry_gaps_s"]);
    assert_eq!(
        expiry.gap_distribution,
        vec![("5-10 min".to_string(), 1), ("10-30 min".to_string(), 1), ("30-60 min".to_string(), 1)]
    );
    assert_eq!(
        expiry.one_hour_ttl_net_saving_usd,
        Some(t["waste"]["cache_five_minute_too_short"]["usd"].as_f64().unwrap())
    );
    let never = waste(&a, "cache_never_enabled");
    assert_eq!(never.unproven_usd, Some(t["never_enabled_unproven_usd"].as_f64().unwrap()));
}

#[test]
fn cur_rows_reconcile_with_one_disagreement() {
    let a = run();
    let t = truth();
    let r = a.usage.as_ref().unwrap().reconciliation.as_ref().expect("reconciliation");
    assert_eq!(r.compared as u64, t["cur"]["compared"].as_u64().unwrap());
    assert_eq!(r.matching as u64, t["cur"]["matching"].as_u64().unwrap());
    assert_eq!(r.differences.len(), 1);
    let d = &r.differences[0];
    let want = &t["cur"]["difference"];
    assert_eq!(d.day, want["day"].as_str().unwrap());
    assert_eq!(d.family, want["family"].as_str().unwrap());
    assert_eq!(serde_json::to_value(d.token_type).unwrap(), want["token_type"]);
    assert_eq!(d.computed_usd, want["computed_usd"].as_f64().unwrap());
    assert_eq!(d.cur_usd, want["cur_usd"].as_f64().unwrap());
    assert_eq!(d.difference_usd, 1.23);
    assert_eq!(d.cur_tokens, Some(d.computed_tokens));
    assert!(d.cur_rows[0].ends_with("cur2-bedrock-2026-11.csv:7"), "{:?}", d.cur_rows);
    let cur = a.sources.iter().find(|s| s.report.name.ends_with(".csv")).unwrap();
    let l = &cur.report.lines;
    assert_eq!(
        (l.lines_read, l.parsed, l.noise, l.unrecognized),
        (t["cur"]["compared"].as_u64().unwrap() + 2, t["cur"]["compared"].as_u64().unwrap(), 1, 1)
    );
}

#[test]
fn every_line_is_accounted_for_and_data_objects_are_ignored() {
    let a = run();
    for s in &a.sources {
        let l = &s.report.lines;
        assert_eq!(l.lines_read, l.parsed + l.noise + l.unrecognized + l.duplicates, "{}", s.report.name);
        if !s.report.name.ends_with(".csv") {
            assert_eq!(l.unrecognized, 0, "{}", s.report.name);
        }
    }
    let data = a.sources.iter().find(|s| s.report.name.contains("/data/")).unwrap();
    assert_eq!((data.report.lines.parsed, data.report.lines.noise), (0, 1));
    assert_eq!(a.sources.len(), 2 + 2 + 1 + truth()["s3_objects"].as_u64().unwrap() as usize + 1);
}

#[test]
fn prompts_and_completions_never_appear_in_reports() {
    let a = run();
    for text in [bfx::render::json(&a), bfx::render::terminal(&a)] {
        assert!(!text.contains("SECRET-"), "prompt or completion text leaked");
    }
}

#[test]
fn each_cache_finding_matches_its_snapshot() {
    let mut opts = AnalyzeOptions::default();
    opts.detect.max_listed_calls = 3;
    let a = analyze_with(&inputs(), opts);
    for f in a.findings.iter().filter(|f| f.kind.starts_with("cache_")) {
        let json = relative(serde_json::to_string_pretty(f).unwrap());
        insta::assert_snapshot!(f.kind, json);
    }
}

#[test]
fn litellm_price_file_gives_the_same_dollars_for_the_same_prices() {
    // The shared LiteLLM entries (per-token prices) parse to the same
    // picodollar figures as the embedded table's rows derived from them.
    let Some(path) = shared("pricing/litellm_bedrock_selected_entries.json") else { return };
    let lite = bfx::prices::PriceTable::from_file(&path).unwrap();
    let embedded = bfx::prices::PriceTable::embedded();
    let id = bfx::prices::ModelRef::parse("us.anthropic.claude-haiku-4-5-20251001-v1:0");
    let (a, b) = (lite.lookup(&id).unwrap().row, embedded.lookup(&id).unwrap().row);
    assert_eq!(
        (a.input, a.output, a.cache_read, a.cache_write_5m),
        (b.input, b.output, b.cache_read, b.cache_write_5m)
    );
}

fn bfx(args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bfx")).args(args).output().unwrap();
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap())
}

#[test]
fn usage_output_is_byte_identical_for_any_thread_count() {
    let ins = inputs();
    let mut args1 = vec!["analyze", "--threads", "1", "--format", "json"];
    let mut args3 = vec!["analyze", "--threads", "3", "--format", "json"];
    args1.extend(ins.iter().map(String::as_str));
    args3.extend(ins.iter().map(String::as_str));
    let (c1, one) = bfx(&args1);
    let (c3, three) = bfx(&args3);
    assert_eq!((c1, c3), (0, 0));
    assert!(one.contains("\"cache_ttl_expiry\""));
    assert_eq!(one, three);
}

#[test]
fn bundled_sample_shows_the_cost_and_cache_waste_section() {
    // The README's main command.
    let (code, text) = bfx(&["analyze", &fixture("sample/incident")]);
    assert_eq!(code, 0);
    assert!(text.contains("Cost: 390 requests, $5.34 billed; $6.26 without caching, so caching saved $0.93"), "{text}");
    assert!(text.contains("prompt cache: $0.82 paid for nothing"), "{text}");
    assert!(text.contains("[cache_write_never_read] 12 cache writes were never read"), "{text}");
    assert!(text.contains("CUR differs: 2026-11-02 claude-sonnet-4.5 CacheWrite"), "{text}");
}

#[test]
fn prices_command_prints_the_table_and_round_trips_through_csv() {
    let (code, table) = bfx(&["prices", "haiku-4-5"]);
    assert_eq!(code, 0);
    let row = table.lines().find(|l| l.contains("│ us.anthropic.claude-haiku-4-5-20251001-v1:0 ")).unwrap();
    let cells: Vec<&str> = row.split(['│', '┆']).map(str::trim).filter(|c| !c.is_empty()).collect();
    assert_eq!(cells[1..], ["1.1", "5.5", "0.11", "1.375", "2.2", "4096", "5m, 1h", "+10%"]);
    let (_, csv) = bfx(&["prices", "--format", "csv"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prices.csv");
    std::fs::write(&path, &csv).unwrap();
    // The same table read back gives the same dollars.
    let opts = AnalyzeOptions {
        prices: Some(bfx::prices::PriceTable::from_file(path.to_str().unwrap()).unwrap()),
        ..Default::default()
    };
    let a = analyze_with(&inputs(), opts);
    assert_eq!(a.usage.unwrap().totals.cost, run().usage.unwrap().totals.cost);
}

#[test]
fn cur_parquet_export_reconciles_like_the_csv() {
    // Data Exports write CUR 2.0 as Parquet with typed columns: write the
    // fixture's rows that way (dates as datetimes, amounts and costs as
    // doubles) and require the same reconciliation as from the CSV.
    use polars::prelude::*;
    use polars_io::SerReader;
    let csv = fixture("usage/cur/cur2-bedrock-2026-11.csv");
    let mut df = polars_io::csv::read::CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0)) // all text first
        .try_into_reader_with_file_path(Some(csv.into()))
        .unwrap()
        .finish()
        .unwrap();
    for c in ["line_item_usage_amount", "line_item_unblended_cost"] {
        let typed = df.column(c).unwrap().cast(&DataType::Float64).unwrap();
        df.with_column(typed).unwrap();
    }
    let text = df.column("line_item_usage_start_date").unwrap().str().unwrap().clone();
    let dates: Vec<Option<i64>> =
        (0..text.len()).map(|i| text.get(i).and_then(bfx::usage::parse::parse_iso_ms)).collect();
    let dates = Column::new("line_item_usage_start_date".into(), dates)
        .cast(&DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC)))
        .unwrap();
    df.with_column(dates).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cur2-bedrock-2026-11.parquet");
    polars_io::parquet::write::ParquetWriter::new(std::fs::File::create(&path).unwrap()).finish(&mut df).unwrap();
    let mut ins: Vec<String> = ["usage/app", "usage/cloudwatch", "usage/s3"].iter().map(|p| fixture(p)).collect();
    ins.push(path.display().to_string());
    let a = analyze(&ins);
    let from_parquet = a.usage.as_ref().unwrap().reconciliation.as_ref().unwrap();
    let b = run();
    let from_csv = b.usage.as_ref().unwrap().reconciliation.as_ref().unwrap();
    assert_eq!(from_parquet.compared, from_csv.compared);
    assert_eq!(from_parquet.matching, from_csv.matching);
    assert_eq!(from_parquet.differences.len(), 1);
    let (p, c) = (&from_parquet.differences[0], &from_csv.differences[0]);
    assert_eq!((p.day.as_str(), p.difference_usd, p.cur_tokens), (c.day.as_str(), c.difference_usd, c.cur_tokens));
    // Evidence names the Parquet row (1-based): the disagreeing row is the CSV's line 7 - 1.
    assert!(p.cur_rows[0].ends_with(".parquet:6"), "{:?}", p.cur_rows);
}

#[test]
fn since_and_until_drop_records_outside_the_window() {
    let t = truth();
    let day2 = |k: &str| k.starts_with("2026-11-03|");
    let want: u64 = t["rows"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| day2(k))
        .map(|(_, v)| v["requests"].as_u64().unwrap())
        .sum();
    let opts = AnalyzeOptions {
        window: (
            bfx::usage::parse::parse_iso_ms("2026-11-03T00:00:00Z"),
            bfx::usage::parse::parse_iso_ms("2026-11-03T23:59:59Z"),
        ),
        ..Default::default()
    };
    let a = analyze_with(&inputs(), opts);
    let u = a.usage.as_ref().unwrap();
    let priced_timed: u64 = u.rows.iter().filter(|r| r.day != "unknown").map(|r| r.requests).sum();
    assert_eq!(priced_timed, want);
    assert!(u.rows.iter().all(|r| r.day == "2026-11-03" || r.day == "unknown"));
    // Untimed records (Anthropic bodies) are kept: nothing says they are outside.
    assert!(u.rows.iter().any(|r| r.day == "unknown"));
    let skipped: u64 =
        a.sources.iter().flat_map(|s| &s.report.warnings).filter(|w| w.contains("outside --since/--until")).count()
            as u64;
    assert!(skipped > 0);
}
