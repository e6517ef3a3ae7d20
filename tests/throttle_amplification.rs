//! The throttled agent with a fallback chain (fixtures/agent/generate.py):
//! every number of the throttle-amplification report must equal the
//! simulator's own counters.

mod common;

use std::collections::BTreeMap;

use bfx::agent::TurnKeyKind;
use bfx::analyze::AnalyzeOptions;
use common::*;

const HAIKU45: &str = "us.anthropic.claude-haiku-4-5-20251001-v1:0";

fn truth() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("agent/truth.json")).unwrap()).unwrap()
}

fn run() -> bfx::analyze::Analysis {
    let mut opts = AnalyzeOptions::default();
    opts.agent.quotas = BTreeMap::from([(HAIKU45.to_string(), 15)]);
    analyze_with(&[fixture("agent/firehose")], opts)
}

#[test]
fn report_matches_the_simulator_exactly() {
    let a = run();
    let t = truth();
    let r = a.throttle.as_ref().expect("throttle report");
    assert_eq!(r.turns, t["turns"].as_u64().unwrap());
    assert_eq!(r.calls, t["calls"].as_u64().unwrap());
    assert_eq!(r.throttles, t["throttles"].as_u64().unwrap());
    assert_eq!(r.failed_turns, t["failed_turns"].as_u64().unwrap());
    assert_eq!(r.headline, "420 turns → 2,622 model calls → 2,202 throttles absorbed");
    assert_eq!(r.turn_keys, vec![(TurnKeyKind::RequestId, 420)]);
    let dist = |v: &serde_json::Value| -> Vec<(u64, u64)> {
        v.as_array().unwrap().iter().map(|p| (p[0].as_u64().unwrap(), p[1].as_u64().unwrap())).collect()
    };
    assert_eq!(r.calls_per_turn, dist(&t["calls_per_turn"]));
    assert_eq!(r.hops_per_turn, dist(&t["hops_per_turn"]));
    for m in &r.models {
        let tm = &t["per_model"][&m.model];
        assert_eq!(m.region, t["region"].as_str().unwrap());
        for (got, key) in [
            (m.calls, "calls"),
            (m.successes, "successes"),
            (m.throttles, "throttles"),
            (m.turns, "turns"),
            (m.retries, "retries"),
            (m.peak_rpm, "peak_rpm"),
        ] {
            assert_eq!(got, tm[key].as_u64().unwrap(), "{} {key}", m.model);
        }
        assert_eq!(m.backoff_s, tm["backoff_s"].as_f64().unwrap(), "{} backoff", m.model);
        let per_success = (m.successes > 0).then(|| m.throttles as f64 / m.successes as f64);
        assert_eq!(m.throttles_per_success, per_success.map(|x| (x * 10000.0).round() / 10000.0));
    }
    // Haiku 4.5, the second hop: 658 throttles for 105 successes, against a 15 RPM quota.
    let haiku = r.models.iter().find(|m| m.model == HAIKU45).unwrap();
    assert_eq!((haiku.throttles, haiku.successes, haiku.throttles_per_success), (658, 105, Some(6.2667)));
    assert_eq!((haiku.peak_rpm, haiku.quota_rpm), (198, Some(15)));
    // Every hop was logged with its reason.
    assert_eq!(
        r.hop_edges.iter().map(|e| e.3).sum::<u64>(),
        t["hops_per_turn"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[0].as_u64().unwrap() * p[1].as_u64().unwrap())
            .sum::<u64>()
    );
    assert!(r.hop_edges.iter().all(|e| e.2 == "ModelThrottledException"));
}

#[test]
fn latency_split_uses_means_and_measured_percentiles() {
    let a = run();
    let t = truth();
    for l in &a.throttle.as_ref().unwrap().latency {
        let tm = &t["per_model"][&l.model];
        assert!((l.mean_total_ms - tm["mean_total_ms"].as_f64().unwrap()).abs() < 0.001, "{}", l.model);
        assert!((l.mean_ttft_ms - tm["mean_ttft_ms"].as_f64().unwrap()).abs() < 0.001, "{}", l.model);
        // The identity holds for means only.
        assert!((l.mean_total_ms - (l.mean_ttft_ms + l.mean_generation_ms)).abs() < 0.002);
        assert_eq!(l.total.n, tm["successes"].as_u64().unwrap());
    }
}

#[test]
fn per_minute_series_shows_the_quota_wall() {
    let a = run();
    let r = a.throttle.as_ref().unwrap();
    let total: u64 = r.per_minute.iter().map(|m| m.calls).sum();
    assert_eq!(total, r.calls);
    let throttles: u64 = r.per_minute.iter().map(|m| m.throttles).sum();
    assert_eq!(throttles, r.throttles);
    let hops: u64 = r.per_minute.iter().map(|m| m.hops).sum();
    assert_eq!(hops, r.hop_edges.iter().map(|e| e.3).sum::<u64>());
    // No minute admits more successes than the quota allows.
    for m in &r.per_minute {
        let quota = truth()["quota_rpm"][&m.model].as_u64().unwrap();
        assert!(m.calls - m.throttles <= quota, "{m:?}");
    }
}

#[test]
fn finding_is_ranked_and_snapshotted() {
    let a = run();
    let f = a.findings.iter().find(|f| f.kind == "throttle_amplification").unwrap();
    assert_eq!(f.title, "420 turns → 2,622 model calls → 2,202 throttles absorbed");
    insta::assert_snapshot!("throttle_amplification_finding", relative(serde_json::to_string_pretty(f).unwrap()));
}

#[test]
fn strands_lines_alone_still_count_throttles() {
    // Keep only Strands records: calls come from retry / give-up / success lines.
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(fixture("agent/firehose")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for e in bfx::container::events_of(bfx::container::ContainerKind::Subscription, &bytes, "x").unwrap() {
            if e.message.contains("\"logger\": \"strands.") {
                lines.push(serde_json::json!({"timestamp": e.ts_ms, "message": e.message, "logStreamName": e.stream}));
            }
        }
    }
    let page = serde_json::json!({ "events": lines });
    let path = dir.path().join("strands-only.json");
    std::fs::write(&path, serde_json::to_vec(&page).unwrap()).unwrap();
    let a = analyze(&[path.display().to_string()]);
    let r = a.throttle.as_ref().unwrap();
    let t = truth();
    assert_eq!(r.turns, 420);
    assert_eq!(r.throttles, t["throttles"].as_u64().unwrap());
    assert_eq!(r.calls, t["calls"].as_u64().unwrap());
    assert!(r.models.iter().all(|m| m.model == "unknown"), "Strands lines do not name the model");
}

/// Every number of the report (per-minute rows, latency percentiles
/// included), pinned exactly.
#[test]
fn whole_report_snapshot() {
    let a = run();
    insta::assert_snapshot!(
        "throttle_report_full",
        serde_json::to_string_pretty(a.throttle.as_ref().unwrap()).unwrap()
    );
}
