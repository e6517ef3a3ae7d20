//! End-to-end throughput of a gzip CloudWatch CreateExportTask object holding
//! botocore DEBUG records, on one core.
//!
//!     cargo bench --bench cloudwatch_export
//!
//! The object is built from the committed real-boto3 fixture, repeated to
//! ~64 MiB of uncompressed export lines, gzip level 1. Throughput is bytes
//! of uncompressed input per second, through gunzip, container framing,
//! payload routing, de-duplication, timelines and detectors.

use std::io::Write;

use bfx::analyze::{AnalyzeOptions, analyze};
use bfx::source::{Input, Origin};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn export_object() -> (tempfile::TempDir, Input, u64) {
    let log =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/botocore/stale_v144_standard.log"))
            .unwrap();
    let mut body = String::new();
    for line in log.lines() {
        let b = line.as_bytes();
        if b.len() > 23 && b[4] == b'-' && b[10] == b' ' && b[19] == b',' {
            body.push_str(&format!("{}T{}.{}Z {}\n", &line[..10], &line[11..19], &line[20..23], line));
        } else {
            body.push_str(line);
            body.push('\n');
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("task/stream/000000.gz");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&path).unwrap(), flate2::Compression::fast());
    let mut n = 0u64;
    while n < 64 << 20 {
        gz.write_all(body.as_bytes()).unwrap();
        n += body.len() as u64;
    }
    gz.finish().unwrap();
    let input = Input { name: path.display().to_string(), origin: Origin::File(path) };
    (dir, input, n)
}

fn bench(c: &mut Criterion) {
    let (_dir, input, bytes) = export_object();
    let opts = AnalyzeOptions::default();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let mut g = c.benchmark_group("cloudwatch_export");
    g.throughput(Throughput::Bytes(bytes)).sample_size(10);
    g.bench_function("gzip_export_end_to_end_1core", |b| {
        b.iter(|| pool.install(|| analyze(std::slice::from_ref(&input), &opts).totals.calls))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
