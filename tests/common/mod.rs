//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use bfx::analyze::{Analysis, AnalyzeOptions, analyze_args};
use bfx::detect::FindingDetail;
use bfx::detect::hidden_retries::HiddenRetriesDetail;
use bfx::detect::stale_socket::StaleSocketDetail;

/// Path of a committed fixture.
pub fn fixture(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(rel).display().to_string()
}

/// The shared format samples beside the repository.
pub fn shared(rel: &str) -> Option<String> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/formats").join(rel);
    p.exists().then(|| p.display().to_string())
}

/// Analyzes inputs with default options.
pub fn analyze(inputs: &[String]) -> Analysis {
    analyze_with(inputs, AnalyzeOptions::default())
}

/// Analyzes inputs with the given options.
pub fn analyze_with(inputs: &[String], opts: AnalyzeOptions) -> Analysis {
    analyze_args(inputs, &opts)
}

/// The stale-socket finding's detail, if any.
pub fn stale(a: &Analysis) -> Option<&StaleSocketDetail> {
    a.findings.iter().find_map(|f| match &f.detail {
        FindingDetail::StaleSocket(d) => Some(d),
        _ => None,
    })
}

/// The hidden-retries finding's detail, if any.
pub fn retries(a: &Analysis) -> Option<&HiddenRetriesDetail> {
    a.findings.iter().find_map(|f| match &f.detail {
        FindingDetail::HiddenRetries(d) => Some(d),
        _ => None,
    })
}

/// Reads a fixture's ground truth, written by fixtures/botocore/generate.py.
pub fn truth(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixture(&format!("botocore/{name}.truth.json"))).expect("truth file");
    serde_json::from_str(&text).expect("truth json")
}

/// Replaces the absolute fixture directory with a stable placeholder so
/// snapshots do not depend on where the repository is checked out.
pub fn relative(json: String) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).display().to_string();
    json.replace(&format!("{root}/"), "")
}
