//! `bfx analyze --out DIR`: the normalized tables, written with polars as
//! Parquet (default) or CSV. Column names and types are a stable contract,
//! documented in `docs/schema.md`.
//!
//! Times: container events carry UTC milliseconds, so their columns are UTC
//! datetimes. Python's `asctime` in a plain log has no zone: those times are
//! kept as milliseconds on the log's own clock (`*_ms_log_clock`), and the
//! UTC columns are null rather than guessed.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use polars::prelude::*;
use polars_io::SerWriter;
use polars_io::csv::write::CsvWriter;
use polars_io::parquet::write::ParquetWriter;

use crate::analyze::Analysis;
use crate::detect::FindingDetail;
use crate::detect::stale_socket::is_stale_hang;
use crate::prices::{ModelRef, usd};
use crate::usage::cost::{Tokens, price_tokens, resolve};

/// File format of the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    /// Apache Parquet.
    Parquet,
    /// CSV with a header row.
    Csv,
}

/// The tables, in the order they are written.
pub const TABLES: [&str; 6] = ["calls", "attempts", "turns", "usage", "findings", "sources"];

fn utc(name: &str, v: Vec<Option<i64>>) -> PolarsResult<Column> {
    Column::new(name.into(), v).cast(&DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC)))
}

fn s(name: &str, v: Vec<Option<String>>) -> Column {
    Column::new(name.into(), v)
}

/// Builds every table.
pub fn build(a: &Analysis) -> PolarsResult<Vec<(&'static str, DataFrame)>> {
    Ok(vec![
        ("calls", calls(a)?),
        ("attempts", attempts(a)?),
        ("turns", turns(a)?),
        ("usage", usage(a)?),
        ("findings", findings(a)?),
        ("sources", sources(a)?),
    ])
}

/// Writes every table into `dir` (created if missing) as `<table>.parquet`
/// or `<table>.csv`, and returns the paths written.
pub fn write(a: &Analysis, dir: &Path, format: TableFormat) -> Result<Vec<std::path::PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut out = Vec::new();
    for (name, mut df) in build(a).map_err(|e| format!("building tables: {e}"))? {
        let ext = match format {
            TableFormat::Parquet => "parquet",
            TableFormat::Csv => "csv",
        };
        let path = dir.join(format!("{name}.{ext}"));
        let file = File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let res = match format {
            TableFormat::Parquet => ParquetWriter::new(file).finish(&mut df).map(|_| ()),
            TableFormat::Csv => CsvWriter::new(file).include_header(true).finish(&mut df),
        };
        res.map_err(|e| format!("{}: {e}", path.display()))?;
        out.push(path);
    }
    Ok(out)
}

fn is_utc(a: &Analysis, source: usize) -> bool {
    a.sources[source].report.container.is_some()
}

fn calls(a: &Analysis) -> PolarsResult<DataFrame> {
    let lost: HashMap<&str, f64> = a
        .findings
        .iter()
        .filter_map(|f| match &f.detail {
            FindingDetail::StaleSocket(d) => Some(d.calls.iter().map(|c| (c.invocation_id.as_str(), c.seconds_lost))),
            _ => None,
        })
        .flatten()
        .collect();
    let idle = a.settings.idle_threshold_s;
    let c = &a.calls;
    let start = |x: &crate::timeline::Call| x.attempts.first().and_then(|t| t.start_ms);
    DataFrame::new_infer_height(vec![
        s("source", c.iter().map(|x| Some(a.sources[x.source].report.name.clone())).collect()),
        s("invocation_id", c.iter().map(|x| Some(x.invocation_id.clone())).collect()),
        s("operation", c.iter().map(|x| x.operation.clone()).collect()),
        s("model_id", c.iter().map(|x| x.model_id.clone()).collect()),
        s("thread", c.iter().map(|x| x.thread.clone()).collect()),
        s("retry_mode", c.iter().map(|x| x.retry_mode.clone()).collect()),
        s("botocore_version", c.iter().map(|x| x.botocore_version.clone()).collect()),
        Column::new("connect_timeout_s".into(), c.iter().map(|x| x.connect_timeout_s).collect::<Vec<_>>()),
        Column::new("read_timeout_s".into(), c.iter().map(|x| x.read_timeout_s).collect::<Vec<_>>()),
        utc("start_time", c.iter().map(|x| start(x).filter(|_| is_utc(a, x.source))).collect())?,
        Column::new("start_ms_log_clock".into(), c.iter().map(start).collect::<Vec<_>>()),
        Column::new(
            "latency_s".into(),
            c.iter().map(|x| x.latency_ms().map(|l| l as f64 / 1000.0)).collect::<Vec<_>>(),
        ),
        Column::new("attempts".into(), c.iter().map(|x| x.attempts.len() as u32).collect::<Vec<_>>()),
        Column::new("succeeded".into(), c.iter().map(|x| x.succeeded()).collect::<Vec<_>>()),
        Column::new("exhausted".into(), c.iter().map(|x| x.exhausted).collect::<Vec<_>>()),
        s("request_id", c.iter().map(|x| x.attempts.iter().rev().find_map(|t| t.request_id.clone())).collect()),
        Column::new(
            "stale_socket_hang".into(),
            c.iter().map(|x| (0..x.attempts.len()).any(|i| is_stale_hang(x, i, idle))).collect::<Vec<_>>(),
        ),
        Column::new(
            "stale_socket_seconds_lost".into(),
            c.iter().map(|x| lost.get(x.invocation_id.as_str()).copied()).collect::<Vec<_>>(),
        ),
    ])
}

fn outcome_parts(o: &crate::timeline::Outcome) -> (String, Option<u16>, Option<String>, Option<bool>) {
    let v = serde_json::to_value(o).unwrap_or_default();
    let kind = v.get("kind").and_then(|k| k.as_str()).unwrap_or("unknown").to_string();
    let status = v.get("status").and_then(|x| x.as_u64()).map(|x| x as u16);
    let code = v.get("code").or_else(|| v.get("error")).and_then(|x| x.as_str()).map(str::to_string);
    let inferred = v.get("inferred").and_then(|x| x.as_bool());
    (kind, status, code, inferred)
}

fn attempts(a: &Analysis) -> PolarsResult<DataFrame> {
    let rows: Vec<(&crate::timeline::Call, &crate::timeline::Attempt)> =
        a.calls.iter().flat_map(|c| c.attempts.iter().map(move |t| (c, t))).collect();
    let parts: Vec<_> = rows.iter().map(|(_, t)| outcome_parts(&t.outcome)).collect();
    let conn: Vec<serde_json::Value> =
        rows.iter().map(|(_, t)| serde_json::to_value(t.connection).unwrap_or_default()).collect();
    let line = |l: Option<crate::timeline::Loc>| l.map(|l| l.line);
    DataFrame::new_infer_height(vec![
        s("source", rows.iter().map(|(c, _)| Some(a.sources[c.source].report.name.clone())).collect()),
        s("invocation_id", rows.iter().map(|(c, _)| Some(c.invocation_id.clone())).collect()),
        Column::new("attempt".into(), rows.iter().map(|(_, t)| t.number).collect::<Vec<_>>()),
        utc("start_time", rows.iter().map(|(c, t)| t.start_ms.filter(|_| is_utc(a, c.source))).collect())?,
        utc("end_time", rows.iter().map(|(c, t)| t.end_ms.filter(|_| is_utc(a, c.source))).collect())?,
        Column::new("start_ms_log_clock".into(), rows.iter().map(|(_, t)| t.start_ms).collect::<Vec<_>>()),
        Column::new("end_ms_log_clock".into(), rows.iter().map(|(_, t)| t.end_ms).collect::<Vec<_>>()),
        Column::new("duration_s".into(), rows.iter().map(|(_, t)| t.duration_s()).collect::<Vec<_>>()),
        s("connection", conn.iter().map(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string)).collect()),
        Column::new(
            "connection_number".into(),
            conn.iter().map(|v| v.get("number").and_then(|n| n.as_u64()).map(|n| n as u32)).collect::<Vec<_>>(),
        ),
        Column::new(
            "idle_gap_s".into(),
            rows.iter().map(|(_, t)| t.idle_gap_ms.map(|g| g as f64 / 1000.0)).collect::<Vec<_>>(),
        ),
        s("outcome", parts.iter().map(|p| Some(p.0.clone())).collect()),
        Column::new("status".into(), parts.iter().map(|p| p.1.map(u32::from)).collect::<Vec<_>>()),
        s("error_code", parts.iter().map(|p| p.2.clone()).collect()),
        Column::new("inferred".into(), parts.iter().map(|p| p.3).collect::<Vec<_>>()),
        Column::new("retry_delay_s".into(), rows.iter().map(|(_, t)| t.retry_delay_s).collect::<Vec<_>>()),
        s("request_id", rows.iter().map(|(_, t)| t.request_id.clone()).collect()),
        Column::new(
            "stale_socket_hang".into(),
            rows.iter()
                .map(|(c, t)| {
                    let i = c.attempts.iter().position(|x| std::ptr::eq(x, *t)).unwrap_or(0);
                    is_stale_hang(c, i, a.settings.idle_threshold_s)
                })
                .collect::<Vec<_>>(),
        ),
        Column::new("start_line".into(), rows.iter().map(|(_, t)| t.start_line.line).collect::<Vec<_>>()),
        Column::new("end_line".into(), rows.iter().map(|(_, t)| line(t.end_line)).collect::<Vec<_>>()),
    ])
}

fn turns(a: &Analysis) -> PolarsResult<DataFrame> {
    let t = &a.turns;
    let mut throttles = vec![0u32; t.len()];
    let mut backoff = vec![0f64; t.len()];
    let mut first = vec![None::<i64>; t.len()];
    for c in &a.agent_calls {
        if c.outcome == crate::agent::CallOutcome::Throttled {
            throttles[c.turn] += 1;
        }
        backoff[c.turn] += c.backoff_s;
        first[c.turn] = Some(first[c.turn].map_or(c.ts_ms, |f: i64| f.min(c.ts_ms)));
    }
    DataFrame::new_infer_height(vec![
        Column::new("turn".into(), (0..t.len() as u32).collect::<Vec<_>>()),
        s("key", t.iter().map(|x| Some(x.key.clone())).collect()),
        s(
            "key_kind",
            t.iter()
                .map(|x| serde_json::to_value(x.key_kind).ok().and_then(|v| v.as_str().map(str::to_string)))
                .collect(),
        ),
        s("stream", t.iter().map(|x| Some(x.stream.clone())).collect()),
        utc("start_time", first)?,
        Column::new("model_calls".into(), t.iter().map(|x| x.calls as u32).collect::<Vec<_>>()),
        Column::new("throttles".into(), throttles),
        Column::new("fallback_hops".into(), t.iter().map(|x| x.hops.len() as u32).collect::<Vec<_>>()),
        Column::new("backoff_s".into(), backoff),
        Column::new("succeeded".into(), t.iter().map(|x| x.succeeded).collect::<Vec<_>>()),
    ])
}

/// (cost $, no-cache $, cost in picodollars, no-cache in picodollars).
type RecordCost = (Option<f64>, Option<f64>, Option<i64>, Option<i64>);

fn usage(a: &Analysis) -> PolarsResult<DataFrame> {
    let r = &a.usage_records;
    let embedded;
    let prices = match &a.prices {
        Some(p) => p,
        None => {
            embedded = crate::prices::PriceTable::embedded();
            &embedded
        }
    };
    let mut costs: Vec<RecordCost> = Vec::with_capacity(r.len());
    let mut cache: HashMap<&str, Option<&crate::prices::PriceRow>> = HashMap::new();
    for u in r {
        let row = *cache.entry(&*u.model).or_insert_with(|| resolve(&u.model, prices).row);
        let t = Tokens::of(u);
        costs.push(match row {
            Some(p) => {
                let m = price_tokens(&t, p);
                (
                    Some(usd(m.total())),
                    Some(usd(m.no_cache)),
                    i64::try_from(m.total()).ok(),
                    i64::try_from(m.no_cache).ok(),
                )
            }
            None => (None, None, None, None),
        });
    }
    let name = |v: serde_json::Value| v.as_str().map(str::to_string);
    DataFrame::new_infer_height(vec![
        s("request_id", r.iter().map(|u| u.request_id.clone()).collect()),
        utc("time", r.iter().map(|u| u.ts_ms).collect())?,
        s("model", r.iter().map(|u| Some(ModelRef::parse(&u.model).id)).collect()),
        s("region", r.iter().map(|u| u.region.as_deref().map(str::to_string)).collect()),
        s("inference_region", r.iter().map(|u| u.inference_region.as_deref().map(str::to_string)).collect()),
        s("identity", r.iter().map(|u| u.identity.as_deref().map(str::to_string)).collect()),
        s("source_kind", r.iter().map(|u| name(serde_json::to_value(u.kind).unwrap_or_default())).collect()),
        s("token_convention", r.iter().map(|u| name(serde_json::to_value(u.convention).unwrap_or_default())).collect()),
        Column::new("input_tokens".into(), r.iter().map(|u| u.input).collect::<Vec<_>>()),
        Column::new("output_tokens".into(), r.iter().map(|u| u.output).collect::<Vec<_>>()),
        Column::new("cache_read_tokens".into(), r.iter().map(|u| u.cache_read).collect::<Vec<_>>()),
        Column::new("cache_write_tokens".into(), r.iter().map(|u| u.cache_write).collect::<Vec<_>>()),
        Column::new("cache_write_1h_tokens".into(), r.iter().map(|u| u.cache_write_1h).collect::<Vec<_>>()),
        Column::new("cost_usd".into(), costs.iter().map(|c| c.0).collect::<Vec<_>>()),
        Column::new("cost_without_caching_usd".into(), costs.iter().map(|c| c.1).collect::<Vec<_>>()),
        Column::new("cost_picousd".into(), costs.iter().map(|c| c.2).collect::<Vec<_>>()),
        Column::new("cost_without_caching_picousd".into(), costs.iter().map(|c| c.3).collect::<Vec<_>>()),
        s("error_code", r.iter().map(|u| u.error_code.clone()).collect()),
        s("source", r.iter().map(|u| Some(a.sources[u.loc.source].report.name.clone())).collect()),
        Column::new("line".into(), r.iter().map(|u| u.loc.line).collect::<Vec<_>>()),
    ])
}

fn findings(a: &Analysis) -> PolarsResult<DataFrame> {
    let f = &a.findings;
    DataFrame::new_infer_height(vec![
        Column::new("rank".into(), f.iter().map(|x| x.rank as u32).collect::<Vec<_>>()),
        s("kind", f.iter().map(|x| Some(x.kind.to_string())).collect()),
        s("title", f.iter().map(|x| Some(x.title.clone())).collect()),
        Column::new("impact_seconds".into(), f.iter().map(|x| x.impact_seconds).collect::<Vec<_>>()),
        Column::new("impact_usd".into(), f.iter().map(|x| x.impact_usd).collect::<Vec<_>>()),
        s("fix", f.iter().map(|x| Some(x.fix.join("\n"))).collect()),
        s("detail_json", f.iter().map(|x| serde_json::to_string(&x.detail).ok()).collect()),
    ])
}

fn sources(a: &Analysis) -> PolarsResult<DataFrame> {
    let r: Vec<&crate::format::SourceReport> = a.sources.iter().map(|x| &x.report).collect();
    let enum_name = |v: serde_json::Value| v.as_str().map(str::to_string);
    DataFrame::new_infer_height(vec![
        s("source", r.iter().map(|x| Some(x.name.clone())).collect()),
        s(
            "compression",
            r.iter().map(|x| enum_name(serde_json::to_value(x.compression).unwrap_or_default())).collect(),
        ),
        s(
            "container",
            r.iter()
                .map(|x| x.container.and_then(|c| enum_name(serde_json::to_value(c).unwrap_or_default())))
                .collect(),
        ),
        Column::new("lines_read".into(), r.iter().map(|x| x.lines.lines_read).collect::<Vec<_>>()),
        Column::new("parsed".into(), r.iter().map(|x| x.lines.parsed).collect::<Vec<_>>()),
        Column::new("noise".into(), r.iter().map(|x| x.lines.noise).collect::<Vec<_>>()),
        Column::new("unrecognized".into(), r.iter().map(|x| x.lines.unrecognized).collect::<Vec<_>>()),
        Column::new("duplicates".into(), r.iter().map(|x| x.lines.duplicates).collect::<Vec<_>>()),
        Column::new("calls".into(), a.sources.iter().map(|x| x.calls as u64).collect::<Vec<_>>()),
        s("error", r.iter().map(|x| x.error.clone()).collect()),
    ])
}
