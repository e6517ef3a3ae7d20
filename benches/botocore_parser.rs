//! Throughput of the botocore/urllib3 DEBUG-log hot paths, on one core.
//!
//!     cargo bench --bench botocore_parser
//!
//! The input is the committed real-boto3 fixtures repeated to ~32 MiB of
//! uncompressed log. Reported as bytes per second of uncompressed input.

use std::hint::black_box;
use std::io::Cursor;

use bfx::event::Event;
use bfx::format::{EventSink, ParseOptions, parse_reader};
use bfx::source::Compression;
use bfx::timeline::TimelineBuilder;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const TARGET_BYTES: usize = 32 << 20;

fn corpus() -> Vec<u8> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/botocore");
    let mut one = Vec::new();
    for name in ["stale_v144_standard", "stale_v140_legacy", "throttle_v140_legacy", "keepalive_v144_standard"] {
        one.extend(std::fs::read(format!("{dir}/{name}.log")).unwrap());
    }
    let mut out = Vec::with_capacity(TARGET_BYTES + one.len());
    while out.len() < TARGET_BYTES {
        out.extend_from_slice(&one);
    }
    out
}

struct CountingSink(u64);

impl EventSink for CountingSink {
    fn event(&mut self, _: usize, e: Event) {
        self.0 += e.line & 1;
    }
}

fn one_core<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap().install(f)
}

fn bench(c: &mut Criterion) {
    let data = corpus();
    let mut g = c.benchmark_group("botocore_parser");
    g.throughput(Throughput::Bytes(data.len() as u64)).sample_size(10);
    let opts = ParseOptions::default();
    g.bench_function("frame_and_parse_1core", |b| {
        b.iter(|| {
            one_core(|| {
                let mut sink = CountingSink(0);
                let r = parse_reader(0, "bench", Box::new(Cursor::new(&data[..])), Compression::None, &opts, &mut sink);
                black_box((r.unwrap().lines.parsed, sink.0))
            })
        })
    });
    g.bench_function("parse_and_timelines_1core", |b| {
        b.iter(|| {
            one_core(|| {
                let mut sink = TimelineBuilder::new(0);
                let r = parse_reader(0, "bench", Box::new(Cursor::new(&data[..])), Compression::None, &opts, &mut sink);
                black_box((r.unwrap().lines.parsed, sink.finish().0.len()))
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
