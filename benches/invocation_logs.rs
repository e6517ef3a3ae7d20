//! End-to-end throughput of gzip Bedrock model-invocation log objects, on one core.
//!
//!     cargo bench --bench invocation_logs
//!
//! The object is built from the committed invocation-log fixture records
//! (fixtures/usage/s3), each copy given a fresh request id so that nothing is
//! de-duplicated away, repeated to ~64 MiB of uncompressed JSON, gzip level 1.
//! Throughput is bytes of uncompressed JSON per second, through gunzip, line
//! framing, typed parsing (bodies skipped, hashed), de-duplication by request
//! id, the cost report and the cache-waste detectors.
//!
//! The fixture's prompts are a few words, so its records (~1.2 KB) are much
//! smaller than those of a request that caches a 1,024-token prefix with body
//! logging on. A second object replaces each logged user message with 1,500
//! words, for records of about 9 KB: the cost per record and the cost per
//! byte show up separately.

use std::io::{BufRead, Write};

use bfx::analyze::{AnalyzeOptions, analyze};
use bfx::source::{Input, Origin};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// The fixture's invocation-log lines.
pub fn fixture_records() -> Vec<String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/usage/s3");
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(root).sort_by_file_name() {
        let e = e.unwrap();
        if !e.file_type().is_file() || e.path().to_string_lossy().contains("/data/") {
            continue;
        }
        let gz = flate2::read::MultiGzDecoder::new(std::fs::File::open(e.path()).unwrap());
        for line in std::io::BufReader::new(gz).lines() {
            out.push(line.unwrap());
        }
    }
    out
}

/// A 1,500-word user message, as a request that caches a prompt of the size
/// the fixture's token counts imply would log (the fixture's own prompts are
/// a few words). Deterministic.
fn long_message(seed: u64) -> String {
    const WORDS: [&str; 16] =
        ["the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on"];
    let mut x = seed | 1;
    (0..1500)
        .map(|_| {
            // xorshift64: any fixed sequence of words will do.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            WORDS[(x % 16) as usize]
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The fixture's records with each logged user message replaced by a
/// 1,500-word one (records of about 9 KB).
fn records_with_long_prompts() -> Vec<String> {
    fixture_records()
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut v: serde_json::Value = serde_json::from_str(r).unwrap();
            if let Some(text) = v.pointer_mut("/input/inputBodyJson/messages/0/content/0/text") {
                *text = serde_json::Value::String(long_message(i as u64));
            }
            serde_json::to_string(&v).unwrap()
        })
        .collect()
}

fn object(records: &[String]) -> (tempfile::TempDir, Input, u64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("20261102T145901234Z_2e588ec0376ed53a.json.gz");
    let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&path).unwrap(), flate2::Compression::fast());
    let mut n = 0u64;
    let mut copy = 0u64;
    while n < 64 << 20 {
        for r in records {
            // Request ids are 36 characters; keep the length, change the id.
            let v: serde_json::Value = serde_json::from_str(r).unwrap();
            let id = v["requestId"].as_str().unwrap();
            let line = r.replacen(id, &format!("{:08x}{}", copy, &id[8..]), 1);
            gz.write_all(line.as_bytes()).unwrap();
            gz.write_all(b"\n").unwrap();
            n += line.len() as u64 + 1;
        }
        copy += 1;
    }
    gz.finish().unwrap();
    let input = Input { name: path.display().to_string(), origin: Origin::File(path) };
    (dir, input, n)
}

fn bench(c: &mut Criterion) {
    let opts = AnalyzeOptions::default();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    for (name, records) in [
        ("gzip_invocation_logs_end_to_end_1core", fixture_records()),
        ("gzip_invocation_logs_with_long_prompts_end_to_end_1core", records_with_long_prompts()),
    ] {
        let (_dir, input, bytes) = object(&records);
        let mut g = c.benchmark_group("invocation_logs");
        g.throughput(Throughput::Bytes(bytes)).sample_size(10);
        g.bench_function(name, |b| {
            b.iter(|| pool.install(|| analyze(std::slice::from_ref(&input), &opts).usage.map(|u| u.totals.requests)))
        });
        g.finish();
    }

    // The record parser alone, on the fixture's records in memory.
    let records = fixture_records();
    let bytes: usize = records.iter().map(|r| r.len() + 1).sum();
    let mut g = c.benchmark_group("invocation_logs");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("invocation_log_record_parse", |b| {
        b.iter(|| {
            records
                .iter()
                .filter_map(|r| bfx::usage::parse::invocation_log(r).ok().flatten())
                .map(|u| u.input)
                .sum::<u64>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
