//! bfx against the logs real boto3/botocore wrote (fixtures/botocore), checked
//! against the ground truth the generator recorded from the stub's and the
//! client's own clocks, and pinned exactly by snapshots.

mod common;

use bfx::event::TransportError;
use bfx::timeline::{Connection, Outcome};
use common::*;

/// The log clock and the stub's clock see each event a few ms apart.
const CLOCK_SLACK_S: f64 = 0.1;

fn check_against_truth(name: &str) -> bfx::analyze::Analysis {
    let a = analyze(&[fixture(&format!("botocore/{name}.log"))]);
    let t = truth(name);
    assert!(a.errors.is_empty(), "{:?}", a.errors);
    let src = &a.sources[0];
    assert_eq!(src.report.lines.unrecognized, 0, "every line of a real log is a record or its continuation");
    assert_eq!(src.client.as_ref().unwrap().unattached_events, 0);

    let truth_calls = t["calls"].as_array().unwrap();
    assert_eq!(a.calls.len(), truth_calls.len(), "{name}: calls");
    for tc in truth_calls {
        let inv = tc["invocation_id"].as_str().unwrap();
        let call =
            a.calls.iter().find(|c| c.invocation_id == inv).unwrap_or_else(|| panic!("{name}: call {inv} missing"));
        let tatt = tc["attempts"].as_array().unwrap();
        assert_eq!(call.attempts.len(), tatt.len(), "{name}: attempts of {} ({inv})", tc["call"]);
        for (at, ta) in call.attempts.iter().zip(tatt) {
            let ok = match ta["outcome"].as_str().unwrap() {
                "ok" => matches!(at.outcome, Outcome::Success { status: 200 }),
                "throttled" => {
                    matches!(&at.outcome, Outcome::Throttled { status: 429, code: Some(c) } if c == "ThrottlingException")
                        || matches!(at.outcome, Outcome::Throttled { status: 429, code: None })
                }
                "unavailable" => matches!(at.outcome, Outcome::ServerError { status: 503, .. }),
                "blackholed" => matches!(at.outcome, Outcome::Transport { error: TransportError::ReadTimeout, .. }),
                other => panic!("unknown truth outcome {other}"),
            };
            assert!(
                ok,
                "{name}: {} attempt {}: truth {} vs bfx {:?}",
                tc["call"], ta["attempt"], ta["outcome"], at.outcome
            );
            // Without thread names, concurrent identical calls answered in the
            // same millisecond cannot be told apart: bfx flags those, and
            // only the set of their request ids is checked below.
            if let (Some(rid), false) = (ta["request_id"].as_str(), at.attributed_by_order) {
                assert_eq!(
                    at.request_id.as_deref(),
                    Some(rid),
                    "{name}: request id of {} attempt {}",
                    tc["call"],
                    ta["attempt"]
                );
            }
        }
        if tc["outcome"] == "error" {
            assert!(call.exhausted, "{name}: {} should be exhausted", tc["call"]);
        }
    }

    let mut got_ids: Vec<&str> =
        a.calls.iter().flat_map(|c| &c.attempts).filter_map(|at| at.request_id.as_deref()).collect();
    let mut want_ids: Vec<&str> = truth_calls
        .iter()
        .flat_map(|c| c["attempts"].as_array().unwrap())
        .filter_map(|at| at["request_id"].as_str())
        .collect();
    got_ids.sort();
    want_ids.sort();
    assert_eq!(got_ids, want_ids, "{name}: every request id once, none invented");
    if a.sources[0].client.as_ref().unwrap().correlation == "thread_name" {
        assert!(a.calls.iter().flat_map(|c| &c.attempts).all(|at| !at.attributed_by_order));
    }

    let by_cause = retries(&a).map(|r| r.by_cause.clone()).unwrap_or_default();
    for cause in ["throttle", "timeout", "5xx"] {
        let got = by_cause.iter().find(|r| r.cause == cause).map_or(0, |r| r.retries);
        assert_eq!(got as u64, t["retries_by_cause"][cause].as_u64().unwrap(), "{name}: {cause} retries");
    }
    assert_eq!(by_cause.iter().find(|r| r.cause == "reset").map_or(0, |r| r.retries), 0);

    let hangs = t["stale_socket_hangs"].as_array().unwrap();
    let hits = stale(&a).map(|s| s.calls.clone()).unwrap_or_default();
    assert_eq!(hits.len(), hangs.len(), "{name}: stale-socket calls");
    for h in hangs {
        let inv = h["invocation_id"].as_str().unwrap();
        let hit =
            hits.iter().find(|x| x.invocation_id == inv).unwrap_or_else(|| panic!("{name}: hang {inv} not found"));
        assert_eq!(hit.request_id.as_deref(), h["request_id"].as_str());
        let idle = h["idle_gap_s"].as_f64().unwrap();
        let hang = h["hang_s"].as_f64().unwrap();
        assert!((hit.idle_gap_s - idle).abs() <= CLOCK_SLACK_S, "{name}: idle {} vs truth {idle}", hit.idle_gap_s);
        assert!((hit.hang_s - hang).abs() <= CLOCK_SLACK_S, "{name}: hang {} vs truth {hang}", hit.hang_s);
        assert!(h["retried_on_new_connection"].as_bool().unwrap());
    }
    a
}

fn snapshot(name: &str, a: &bfx::analyze::Analysis) {
    let json = relative(serde_json::to_string_pretty(&a.findings).unwrap());
    insta::assert_snapshot!(name, json);
}

#[test]
fn stale_socket_hangs_standard_mode_from_several_threads() {
    let a = check_against_truth("stale_v144_standard");
    let s = stale(&a).unwrap();
    assert_eq!(s.calls_hit, 3);
    // In standard mode no line names the timeout: bfx infers it from the gap.
    let hung: Vec<_> =
        a.calls.iter().flat_map(|c| &c.attempts).filter(|at| matches!(at.outcome, Outcome::Transport { .. })).collect();
    assert!(hung.iter().all(|at| matches!(at.outcome, Outcome::Transport { inferred: true, .. })));
    assert!(hung.iter().all(|at| matches!(at.connection, Connection::Reused { number: Some(_) })));
    assert_eq!(a.sources[0].client.as_ref().unwrap().correlation, "thread_name");
    snapshot("stale_v144_standard", &a);
}

#[test]
fn stale_socket_hangs_legacy_mode_without_thread_names() {
    let a = check_against_truth("stale_v140_legacy");
    assert_eq!(stale(&a).unwrap().calls_hit, 3);
    let named: Vec<_> = a
        .calls
        .iter()
        .flat_map(|c| &c.attempts)
        .filter(|at| matches!(at.outcome, Outcome::Transport { inferred: false, error: TransportError::ReadTimeout }))
        .collect();
    assert_eq!(named.len(), 3, "legacy mode names the read timeout");
    assert_eq!(a.sources[0].client.as_ref().unwrap().correlation, "invocation_id_and_log_order");
    snapshot("stale_v140_legacy", &a);
}

#[test]
fn keepalive_gives_zero_hangs_despite_long_idle_gaps() {
    let a = check_against_truth("keepalive_v144_standard");
    let s = stale(&a).unwrap();
    assert_eq!(s.calls_hit, 0);
    assert_eq!(s.seconds_lost, 0.0);
    assert_eq!(s.long_idle_reuses_without_hang, 3, "three reuses after ~408 s idle, kept alive by probes");
    snapshot("keepalive_v144_standard", &a);
}

#[test]
fn graceful_close_gives_zero_hangs() {
    let a = check_against_truth("graceful_v140_legacy");
    assert!(stale(&a).is_none_or(|s| s.calls_hit == 0));
    let resets = a
        .calls
        .iter()
        .flat_map(|c| &c.attempts)
        .filter(|at| matches!(at.connection, Connection::ResetAfterDrop { .. }))
        .count();
    assert_eq!(resets, 7, "urllib3 logged 7 'Resetting dropped connection'");
    snapshot("graceful_v140_legacy", &a);
}

#[test]
fn throttling_retries_legacy_basic_config_format() {
    let a = check_against_truth("throttle_v140_legacy");
    let r = retries(&a).unwrap();
    assert_eq!((r.calls_with_retries, r.extra_attempts, r.exhausted_calls), (5, 10, 1));
    snapshot("throttle_v140_legacy", &a);
}

#[test]
fn throttling_retries_standard_mode() {
    let a = check_against_truth("throttle_v144_standard");
    let r = retries(&a).unwrap();
    assert_eq!((r.calls_with_retries, r.extra_attempts, r.exhausted_calls), (5, 8, 1));
    snapshot("throttle_v144_standard", &a);
}

#[test]
fn custom_log_format_adaptive_mode() {
    use bfx::analyze::AnalyzeOptions;
    use bfx::format::prefix::{CustomFormat, LineFormat};
    let name = "throttle_v144_custom_format";
    let mut opts = AnalyzeOptions::default();
    opts.parse.custom = Some(LineFormat::Custom(Box::new(
        CustomFormat::new("%(asctime)s %(levelname)-8s [%(threadName)s] %(name)s - %(message)s").unwrap(),
    )));
    let a = analyze_with(&[fixture(&format!("botocore/{name}.log"))], opts);
    let t = truth(name);
    assert_eq!(a.sources[0].report.lines.unrecognized, 0);
    let r = retries(&a).unwrap();
    let throttle = r.by_cause.iter().find(|c| c.cause == "throttle").unwrap();
    assert_eq!(throttle.retries as u64, t["retries_by_cause"]["throttle"].as_u64().unwrap());
    assert_eq!(a.sources[0].client.as_ref().unwrap().retry_modes, vec!["adaptive".to_string()]);
    // Without --log-format the lines are not mistaken for a built-in format.
    let plain = analyze(&[fixture(&format!("botocore/{name}.log"))]);
    assert_eq!(plain.calls.len(), 0);
    assert!(plain.sources[0].report.warnings.iter().any(|w| w.contains("--log-format")));
}

/// The line account of every real-boto3 fixture, pinned exactly.
#[test]
fn line_accounts_of_every_fixture() {
    let mut rows = Vec::new();
    for name in [
        "graceful_v140_legacy",
        "keepalive_v144_standard",
        "stale_v140_legacy",
        "stale_v144_standard",
        "throttle_v140_legacy",
        "throttle_v144_standard",
    ] {
        let a = analyze(&[fixture(&format!("botocore/{name}.log"))]);
        let l = &a.sources[0].report.lines;
        rows.push(format!(
            "{name}: lines={} parsed={} noise={} unrecognized={} calls={} attempts={}",
            l.lines_read, l.parsed, l.noise, l.unrecognized, a.totals.calls, a.totals.attempts
        ));
    }
    insta::assert_snapshot!("line_accounts", rows.join("\n"));
}
