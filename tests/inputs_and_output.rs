//! Inputs (gzip, multi-member gzip, folders, globs, stdin), determinism
//! across thread counts, privacy, and the shared real-format samples.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;
use flate2::Compression;
use flate2::write::GzEncoder;

const GOOD: &str = "botocore/stale_v144_standard.log";

fn bfx_stdin(args: &[&str], stdin: &[u8]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bfx"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap())
}

fn bfx(args: &[&str]) -> (i32, String) {
    bfx_stdin(args, b"")
}

fn findings_json(a: &bfx::analyze::Analysis) -> String {
    serde_json::to_string(&a.findings).unwrap().replace(&fixture(""), "")
}

#[test]
fn multi_member_gzip_gives_the_same_answer_as_plain_text() {
    let plain = std::fs::read(fixture(GOOD)).unwrap();
    let cut = plain.len() / 3;
    let cut = cut + plain[cut..].iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut gz = Vec::new();
    for part in [&plain[..cut], &plain[cut..]] {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(part).unwrap();
        gz.extend(e.finish().unwrap());
    }
    let dir = tempfile::tempdir().unwrap();
    // The name says nothing: gzip is sniffed from the magic bytes.
    let path = dir.path().join(GOOD.rsplit('/').next().unwrap());
    std::fs::write(&path, &gz).unwrap();
    let a = analyze(&[path.display().to_string()]);
    let b = analyze(&[fixture(GOOD)]);
    assert_eq!(a.sources[0].report.compression, bfx::source::Compression::Gzip);
    assert_eq!(a.sources[0].report.lines, b.sources[0].report.lines);
    let strip = |s: String, d: &str| s.replace(d, "");
    assert_eq!(strip(findings_json(&a), &format!("{}/", dir.path().display())), strip(findings_json(&b), "botocore/"));
}

#[test]
fn stdin_folder_and_glob_inputs() {
    let plain = std::fs::read(fixture(GOOD)).unwrap();
    let (code, out) = bfx_stdin(&["analyze", "-", "--format", "json"], &plain);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["sources"][0]["name"], "-");
    assert_eq!(v["findings"][0]["calls"][0]["evidence"][0]["at"].as_str().unwrap().split(':').next(), Some("-"));

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
    std::fs::create_dir_all(dir.path().join(".venv")).unwrap();
    std::fs::write(dir.path().join("a/b/service.log"), &plain).unwrap();
    std::fs::write(dir.path().join(".venv/skipped.log"), &plain).unwrap();
    let folder = analyze(&[dir.path().display().to_string()]);
    assert_eq!(folder.sources.len(), 1, "folders are searched recursively, hidden entries skipped");
    assert_eq!(stale(&folder).unwrap().calls_hit, 3);
    let glob = analyze(&[fixture("botocore/stale_*.log")]);
    assert_eq!(glob.sources.len(), 2);
    assert_eq!(stale(&glob).unwrap().calls_hit, 6);
}

#[test]
fn output_is_byte_identical_for_any_thread_count() {
    let dir = fixture("botocore/*.log");
    let one = bfx(&["analyze", "--threads", "1", "--format", "json", "--timelines", &dir]).1;
    let four = bfx(&["analyze", "--threads", "4", "--format", "json", "--timelines", &dir]).1;
    assert!(one.len() > 10_000);
    assert_eq!(one, four);
    let t1 = bfx(&["analyze", "--threads", "1", &dir]).1;
    let t3 = bfx(&["analyze", "--threads", "3", &dir]).1;
    assert_eq!(t1, t3);
}

#[test]
fn small_parse_batches_give_the_same_answer() {
    // Continuation lines that start a new batch must still join their record.
    let mut opts = bfx::analyze::AnalyzeOptions::default();
    opts.parse.batch_bytes = 4096;
    let small = analyze_with(&[fixture("botocore/*.log")], opts);
    let big = analyze(&[fixture("botocore/*.log")]);
    assert_eq!(findings_json(&small), findings_json(&big));
    for (s, b) in small.sources.iter().zip(&big.sources) {
        assert_eq!(s.report.lines, b.report.lines);
    }
}

#[test]
fn prompts_and_completions_never_appear_in_output() {
    let dir = fixture("botocore/*.log");
    for args in [vec!["analyze", dir.as_str()], vec!["analyze", "--format", "json", "--timelines", dir.as_str()]] {
        let out = bfx(&args).1;
        assert!(!out.is_empty());
        assert!(!out.contains("SECRET-PROMPT-TEXT"), "prompt text leaked with {args:?}");
        assert!(!out.contains("SECRET-COMPLETION-TEXT"), "completion text leaked with {args:?}");
    }
    // The logs do hold them, so the test can fail.
    let log = std::fs::read_to_string(fixture(GOOD)).unwrap();
    assert!(log.contains("SECRET-PROMPT-TEXT") && log.contains("SECRET-COMPLETION-TEXT"));
}

#[test]
fn idle_threshold_option_moves_the_cliff() {
    let mut opts = bfx::analyze::AnalyzeOptions::default();
    // At 300 s the 337 s reuse that went fine is counted as a long-idle reuse
    // without a hang; at 420 s the 408 s hangs no longer qualify.
    opts.detect.idle_threshold_s = 300.0;
    let a = analyze_with(&[fixture(GOOD)], opts.clone());
    let s = stale(&a).unwrap();
    assert_eq!((s.calls_hit, s.long_idle_reuses_without_hang), (3, 1));
    opts.detect.idle_threshold_s = 420.0;
    let a = analyze_with(&[fixture(GOOD)], opts);
    let s = stale(&a).unwrap();
    assert_eq!((s.calls_hit, s.other_read_timeouts), (0, 3));
}

/// Every real and generated sample in shared/formats/botocore_debug parses
/// without unattached events being invented; the numbers are pinned here.
#[test]
fn shared_botocore_samples() {
    let cases: [(&str, u64, u64, u64, usize); 7] = [
        // file, lines, parsed+noise, unrecognized, calls
        ("generated_v140_legacy_default.log", 83, 82, 1, 1),
        ("generated_v144_adaptive.log", 18, 17, 1, 1),
        ("generated_v144_dropped.log", 19, 16, 3, 3),
        ("generated_v144_standard_default.log", 16, 15, 1, 1),
        ("generated_v144_standard_exhausted.log", 16, 15, 1, 1),
        ("real_strands_converse_basicconfig_format.log", 53, 49, 4, 1),
        ("real_issue_excerpts.md", 105, 82, 23, 1),
    ];
    let Some(_) = shared("botocore_debug") else {
        eprintln!("../shared/formats not present; skipping");
        return;
    };
    for (file, lines, known, unrecognized, calls) in cases {
        let a = analyze(&[shared(&format!("botocore_debug/{file}")).unwrap()]);
        let l = &a.sources[0].report.lines;
        assert_eq!(
            (l.lines_read, l.parsed + l.noise, l.unrecognized, a.calls.len()),
            (lines, known, unrecognized, calls),
            "{file}"
        );
    }
    // Standard mode: the read timeout has no line; bfx infers it from the gap.
    let a = analyze(&[shared("botocore_debug/generated_v144_standard_default.log").unwrap()]);
    let call = &a.calls[0];
    assert_eq!(call.read_timeout_s, 2.0);
    assert!(matches!(
        call.attempts[1].outcome,
        bfx::timeline::Outcome::Transport { error: bfx::event::TransportError::ReadTimeout, inferred: true }
    ));
    assert_eq!(call.attempts[2].connection, bfx::timeline::Connection::New { number: 2 });
    // The exhausted sample ends in failure after three throttles.
    let a = analyze(&[shared("botocore_debug/generated_v144_standard_exhausted.log").unwrap()]);
    assert!(a.calls[0].exhausted);
    assert_eq!(retries(&a).unwrap().by_cause[0].retries, 2);
}
