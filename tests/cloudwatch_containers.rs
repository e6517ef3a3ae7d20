//! The same real boto3 log, shipped through every CloudWatch container shape
//! (fixtures/cloudwatch/generate.py), must give the same answer as the plain
//! log: same hung calls, same request ids, same idle gaps to the millisecond.

mod common;

use bfx::container::ContainerKind;
use bfx::payload::PayloadKind;
use common::*;

fn cw(rel: &str) -> String {
    fixture(&format!("cloudwatch/{rel}"))
}

fn cw_truth() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(cw("truth.json")).unwrap()).unwrap()
}

/// (invocation id, request id, idle gap, hang) of every stale-socket hit.
fn hits(a: &bfx::analyze::Analysis) -> Vec<(String, Option<String>, f64, f64)> {
    let mut v: Vec<_> = stale(a)
        .map(|s| {
            s.calls.iter().map(|h| (h.invocation_id.clone(), h.request_id.clone(), h.idle_gap_s, h.hang_s)).collect()
        })
        .unwrap_or_default();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn plain() -> bfx::analyze::Analysis {
    analyze(&[fixture("botocore/stale_v144_standard.log")])
}

#[test]
fn every_container_gives_the_plain_log_answer() {
    let want = hits(&plain());
    assert_eq!(want.len(), 3);
    let t = cw_truth();
    let events = t["events"].as_u64().unwrap();
    for (input, kind) in [
        ("export", ContainerKind::ExportTask),
        ("filter-log-events.json", ContainerKind::CliEvents),
        ("firehose-object", ContainerKind::Subscription),
        ("lambda-event.json", ContainerKind::LambdaWrapper),
        ("insights.csv", ContainerKind::InsightsCsv),
        ("insights.json", ContainerKind::InsightsJson),
    ] {
        let a = analyze(&[cw(input)]);
        assert!(a.errors.is_empty(), "{input}: {:?}", a.errors);
        assert_eq!(hits(&a), want, "{input}");
        assert_eq!(a.calls.len(), 11, "{input}");
        let containers: Vec<_> = a.sources.iter().filter_map(|s| s.report.container).collect();
        assert!(containers.iter().all(|k| *k == kind), "{input}: {containers:?}");
        // Nothing lost, nothing counted twice.
        let unique: u64 = a.sources.iter().map(|s| s.report.lines.parsed + s.report.lines.noise).sum::<u64>()
            - a.sources.iter().flat_map(|s| &s.report.payloads).filter(|_| false).count() as u64;
        let control = if kind == ContainerKind::Subscription { 1 } else { 0 };
        let marker = if kind == ContainerKind::ExportTask { 1 } else { 0 };
        assert_eq!(unique, events + control + marker, "{input}: every event once");
        assert_eq!(a.totals.unrecognized, 0, "{input}");
        let botocore: u64 = a
            .sources
            .iter()
            .flat_map(|s| &s.report.payloads)
            .filter(|(k, _)| *k == PayloadKind::BotocoreEvent)
            .map(|(_, n)| n)
            .sum();
        assert_eq!(botocore, a.sources.iter().map(|s| s.report.lines.parsed).sum::<u64>());
    }
}

#[test]
fn export_chunks_out_of_order_across_two_objects_and_the_write_test_marker() {
    let a = analyze(&[cw("export")]);
    assert_eq!(a.sources.len(), 3);
    let marker = a.sources.iter().find(|s| s.report.name.ends_with("aws-logs-write-test")).unwrap();
    assert_eq!((marker.report.lines.noise, marker.report.lines.unrecognized), (1, 0));
    // The stream spans both objects; its evidence cites each line's own object.
    let s = stale(&a).unwrap();
    let files: std::collections::BTreeSet<_> = s
        .calls
        .iter()
        .flat_map(|h| &h.evidence)
        .map(|e| e.at.rsplit_once(':').unwrap().0.rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(files.into_iter().collect::<Vec<_>>(), vec!["000000.gz", "000001.gz"]);
}

#[test]
fn duplicated_page_is_dropped_by_event_id() {
    let t = cw_truth();
    let a = analyze(&[cw("filter-log-events.json")]);
    let l = &a.sources[0].report.lines;
    assert_eq!(l.duplicates, t["filter_log_events_duplicated_events"].as_u64().unwrap());
    assert_eq!(l.lines_read, t["events"].as_u64().unwrap() + l.duplicates);
    assert_eq!(l.parsed + l.noise + l.unrecognized + l.duplicates, l.lines_read);
}

#[test]
fn control_message_is_counted_not_analyzed() {
    let a = analyze(&[cw("firehose-object")]);
    let r = &a.sources[0].report;
    assert_eq!(r.compression, bfx::source::Compression::Gzip);
    assert!(r.warnings.iter().any(|w| w.contains("1 CONTROL_MESSAGE")));
}

#[test]
fn unknown_payload_is_unrecognized_with_its_stream_named() {
    let t = cw_truth();
    let a = analyze(&[cw("unknown-payload.json")]);
    let r = &a.sources[0].report;
    let stream = t["unknown_payload_stream"].as_str().unwrap();
    assert_eq!(r.unrecognized_streams, vec![(stream.to_string(), t["unknown_payload_events"].as_u64().unwrap())]);
    assert!(r.warnings[0].contains(&format!("stream {stream}: 5 events with an unrecognized payload")));
}

#[test]
fn real_cloudwatch_samples() {
    let Some(path) = shared("cloudwatch_logs/get_log_events_cli_output.json") else { return };
    let a = analyze(&[path]);
    let r = &a.sources[0].report;
    assert_eq!(r.container, Some(ContainerKind::CliEvents));
    assert_eq!((r.lines.lines_read, r.lines.unrecognized), (3, 3), "'Example Event N' is not a payload bfx knows");
    // The sample is cut off mid-page: the events before the cut are kept and
    // the input is reported as not fully read.
    assert!(r.error.as_ref().unwrap().contains("JSON page after event 3"), "{:?}", r.error);
    let a = analyze(&[shared("cloudwatch_logs/subscription_payload_decoded_example.json").unwrap()]);
    assert_eq!(a.sources[0].report.container, Some(ContainerKind::Subscription));
    assert_eq!(a.sources[0].report.unrecognized_streams, vec![("myLogGroup/myLogStream".to_string(), 2)]);
}

#[test]
fn container_shaped_document_without_events_is_reported_not_silent() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("shapes.json");
    std::fs::write(&p, br#"{"logs": {"events": "FilteredLogEvents(list)", "timestamp": "long"}}"#).unwrap();
    let a = analyze(&[p.display().to_string()]);
    let r = &a.sources[0].report;
    assert_eq!((r.lines.lines_read, r.lines.unrecognized), (1, 1));
    assert!(r.warnings[0].contains("holds no log events"), "{:?}", r.warnings);
}
