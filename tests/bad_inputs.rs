//! Bad input never panics: each bad file gets a clear per-file message and
//! the other inputs of the same run are still analyzed.

mod common;

use std::io::Write;
use std::process::Command;

use common::*;
use flate2::Compression;
use flate2::write::GzEncoder;

const GOOD: &str = "botocore/stale_v144_standard.log";

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn bfx(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bfx")).args(args).output().unwrap();
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

struct BadSet {
    _dir: tempfile::TempDir,
    paths: Vec<(&'static str, String)>,
}

fn bad_set() -> BadSet {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(fixture(GOOD)).unwrap();
    let mut paths = Vec::new();
    let mut put = |name: &'static str, bytes: Vec<u8>| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        paths.push((name, p.display().to_string()));
    };
    let gz = gzip(&good);
    put("truncated.log.gz", gz[..gz.len() / 2].to_vec());
    let mut binary: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    binary[7] = 0;
    put("binary.bin", binary);
    let mut bad_utf8 = good.clone();
    let at = bad_utf8.iter().position(|&b| b == b'\n').unwrap() + 30;
    bad_utf8[at] = 0xff;
    bad_utf8[at + 1] = 0xfe;
    put("invalid_utf8.log", bad_utf8);
    let mut giant = vec![b'x'; 10 * 1024 * 1024];
    giant.push(b'\n');
    giant.extend_from_slice(&good);
    put("giant_line.log", giant);
    put("empty.log", Vec::new());
    put("other_format.csv", b"region,instance,cpu\nus-east-1,i-1,0.5\n".to_vec());
    BadSet { _dir: dir, paths }
}

#[test]
fn every_bad_input_gets_a_message_and_the_good_input_is_still_analyzed() {
    let set = bad_set();
    let mut args = vec!["analyze", "--format", "json"];
    let good = fixture(GOOD);
    args.push(&good);
    for (_, p) in &set.paths {
        args.push(p);
    }
    let (code, stdout, stderr) = bfx(&args);
    assert_eq!(code, 2, "a truncated input makes the analysis partial: {stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let sources = v["sources"].as_array().unwrap();
    let by_name = |n: &str| sources.iter().find(|s| s["name"].as_str().unwrap().ends_with(n)).unwrap().clone();

    // The good file, and the good content of the damaged ones, are analyzed.
    assert_eq!(by_name(GOOD.rsplit('/').next().unwrap())["calls"], 11);
    let hung: u64 = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "stale_socket")
        .map(|f| f["calls_hit"].as_u64().unwrap())
        .sum();
    assert_eq!(hung, 3 * 3, "the good file, the invalid-UTF-8 copy and the giant-line copy each show 3 hangs");

    let t = by_name("truncated.log.gz");
    assert!(t["error"].as_str().unwrap().contains("read failed after this line"), "{t}");
    assert!(t["lines"]["lines_read"].as_u64().unwrap() > 0, "lines before the truncation are analyzed");
    assert!(stderr.contains("truncated.log.gz"));

    let b = by_name("binary.bin");
    assert!(b["error"].as_str().unwrap().contains("binary data"), "{b}");

    let u = by_name("invalid_utf8.log");
    assert_eq!(u["lines"]["invalid_utf8"], 1);
    assert!(u["warnings"][0].as_str().unwrap().contains("invalid_utf8.log:2: invalid UTF-8"), "{u}");
    assert_eq!(u["calls"], 11);

    let g = by_name("giant_line.log");
    assert_eq!(g["lines"]["oversized"], 1);
    assert!(g["warnings"][0].as_str().unwrap().contains("giant_line.log:1: line longer than"), "{g}");
    assert_eq!(g["calls"], 11);

    let e = by_name("empty.log");
    assert_eq!(e["warnings"][0].as_str().unwrap().rsplit(": ").next().unwrap(), "empty input");

    let o = by_name("other_format.csv");
    assert_eq!(o["lines"]["unrecognized"], 2);
    assert!(o["warnings"][0].as_str().unwrap().contains("no Python logging record in a known format"));
}

#[test]
fn missing_input_is_named_and_the_rest_is_analyzed() {
    let good = fixture(GOOD);
    let (code, stdout, stderr) = bfx(&["analyze", &good, "/nonexistent/service.log"]);
    assert_eq!(code, 2);
    assert!(stdout.contains("3 calls hung"));
    assert!(stderr.contains("/nonexistent/service.log: no such file"));
}

#[test]
fn bad_log_format_is_a_usage_error() {
    let good = fixture(GOOD);
    let (code, _, stderr) = bfx(&["analyze", "--log-format", "%(message)s", &good]);
    assert_eq!(code, 1);
    assert!(stderr.contains("must contain %(name)s"), "{stderr}");
}

/// What a streaming gunzip recovers from a truncated object: every byte it
/// can decode before the cut.
fn recoverable(truncated: &[u8]) -> String {
    use std::io::Read;
    let mut out = Vec::new();
    let _ = flate2::read::MultiGzDecoder::new(truncated).read_to_end(&mut out);
    String::from_utf8(out).unwrap()
}

fn lines_of(v: &serde_json::Value) -> serde_json::Value {
    v["sources"][0]["lines"].clone()
}

/// Regression: a truncated gzip of JSON lines (invocation logs) or of a
/// CloudWatch export dropped the whole read batch the cut fell in (up to
/// 4 MiB of lines: all of a small object), while the error said the events
/// before it were analyzed.
#[test]
fn truncated_gzip_json_lines_and_exports_keep_every_line_before_the_cut() {
    let dir = tempfile::tempdir().unwrap();

    // Invocation-log records, each with its own request id.
    let mut text = String::new();
    let records = invocation_log_lines();
    for copy in 0..5 {
        for r in &records {
            let id = serde_json::from_str::<serde_json::Value>(r).unwrap()["requestId"].as_str().unwrap().to_string();
            text.push_str(&r.replacen(&id, &format!("{copy:08x}{}", &id[8..]), 1));
            text.push('\n');
        }
    }
    let gz = gzip(text.as_bytes());
    let cut = &gz[..gz.len() * 3 / 5];
    let got = recoverable(cut);
    let complete = got.matches('\n').count() as u64;
    let partial = u64::from(!got.ends_with('\n'));
    assert!(complete > 500 && (complete as usize) < records.len() * 5, "the cut falls inside the records");
    let path = dir.path().join("20261103T005901234Z_7de8fab6ae193e58.json.gz");
    std::fs::write(&path, cut).unwrap();
    let (code, stdout, _) = bfx(&["analyze", "--format", "json", "-q", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let lines = lines_of(&v);
    assert_eq!(lines["lines_read"], complete + partial);
    assert_eq!(lines["parsed"], complete);
    assert_eq!(lines["unrecognized"], partial);
    // The fixture repeats some request ids on purpose (de-duplication).
    let ids: std::collections::BTreeSet<String> = got
        .lines()
        .take(complete as usize)
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["requestId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(v["usage"]["totals"]["requests"], ids.len());
    let error = v["sources"][0]["error"].as_str().unwrap();
    assert!(error.contains(&format!("read failed after line {}", complete + partial)), "{error}");

    // A CloudWatch export object: every timestamped line starts an event.
    let export = std::fs::read(fixture(
        "cloudwatch/export/exportedlogs/5e0c9a2f-7d41-4a36-9b0e-2c8f1d3a6b57/chat-api-app-5f0c2d7e9a1b4c3d/000000.gz",
    ))
    .unwrap();
    let cut = &export[..export.len() / 2];
    let got = recoverable(cut);
    let events = got
        .split('\n')
        .filter(|l| {
            let b = l.as_bytes();
            b.len() > 24 && b[24] == b' ' && b[10] == b'T' && b[19] == b'.' && b[23] == b'Z'
        })
        .count() as u64;
    assert!(events > 10);
    let path = dir.path().join("exportedlogs/task/stream/000000.gz");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, cut).unwrap();
    let (code, stdout, _) = bfx(&["analyze", "--format", "json", "-q", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(lines_of(&v)["lines_read"], events);
}

/// The invocation-log lines of the committed S3 fixture.
fn invocation_log_lines() -> Vec<String> {
    use std::io::BufRead;
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(fixture("usage/s3")).sort_by_file_name() {
        let e = e.unwrap();
        if !e.file_type().is_file() || e.path().to_string_lossy().contains("/data/") {
            continue;
        }
        let gz = flate2::read::MultiGzDecoder::new(std::fs::File::open(e.path()).unwrap());
        out.extend(std::io::BufReader::new(gz).lines().map(Result::unwrap));
    }
    out
}
