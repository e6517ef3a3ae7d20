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
