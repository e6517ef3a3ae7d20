//! Detectors: each reads the rebuilt timelines and returns at most one
//! finding with its numbers and evidence. A new detector is one new file
//! here plus one line in [`all`].

pub mod cache_waste;
pub mod hidden_retries;
pub mod stale_socket;
pub mod throttle;

use serde::Serialize;

use crate::format::SourceReport;
use crate::timeline::{Call, Loc};

/// What every detector sees.
pub struct DetectorInput<'a> {
    /// Every source, indexed as `Call::source`.
    pub sources: &'a [SourceReport],
    /// Every call, in source order then first-line order.
    pub calls: &'a [Call],
    /// User settings.
    pub settings: &'a DetectorSettings,
    /// The agent-level throttle report, when agent logs were found.
    pub throttle: Option<&'a crate::agent::turns::ThrottleReport>,
    /// Usage records and prices, when usage records were found.
    pub usage: Option<UsageInput<'a>>,
}

/// What the cost detectors see.
#[derive(Clone, Copy)]
pub struct UsageInput<'a> {
    /// De-duplicated usage records, in input order.
    pub records: &'a [crate::usage::UsageRecord],
    /// The price table.
    pub prices: &'a crate::prices::PriceTable,
}

/// Thresholds the user can change.
#[derive(Debug, Clone, Serialize)]
pub struct DetectorSettings {
    /// A pooled connection idle this long is presumed dropped by a NAT
    /// gateway, NLB or VPC endpoint (AWS NAT gateway: 350 s).
    pub idle_threshold_s: f64,
    /// At most this many calls are listed in findings that list examples.
    pub max_listed_calls: usize,
}

impl Default for DetectorSettings {
    fn default() -> Self {
        DetectorSettings { idle_threshold_s: 350.0, max_listed_calls: 100 }
    }
}

/// A detector of one failure mode.
pub trait Detector: Sync {
    /// Stable kind name, used in JSON (`stale_socket`).
    fn kind(&self) -> &'static str;
    /// Runs over the timelines.
    fn detect(&self, input: &DetectorInput<'_>) -> Vec<Finding>;
}

/// Every detector, in no particular order (findings are ranked by impact).
pub fn all() -> Vec<Box<dyn Detector>> {
    vec![
        Box::new(stale_socket::StaleSocketDetector),
        Box::new(hidden_retries::HiddenRetriesDetector),
        Box::new(throttle::ThrottleAmplificationDetector),
        Box::new(cache_waste::CacheWasteDetector),
    ]
}

/// One finding: what happened, what it cost, how to fix it, and the proof.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Stable kind name.
    pub kind: &'static str,
    /// 1 = highest impact.
    pub rank: usize,
    /// One line a person reads first.
    pub title: String,
    /// Seconds of caller-visible time this cost, used for ranking.
    pub impact_seconds: f64,
    /// Dollars this cost (or would save), ranking findings of equal seconds.
    pub impact_usd: f64,
    /// Concrete changes that remove the problem.
    pub fix: Vec<String>,
    /// The numbers and evidence, by kind (flattened into the finding in JSON).
    #[serde(flatten)]
    pub detail: FindingDetail,
}

/// Kind-specific content of a finding.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum FindingDetail {
    /// See [`stale_socket`].
    StaleSocket(stale_socket::StaleSocketDetail),
    /// See [`hidden_retries`].
    HiddenRetries(hidden_retries::HiddenRetriesDetail),
    /// See [`throttle`].
    ThrottleAmplification(throttle::ThrottleDetail),
    /// See [`cache_waste`].
    CacheWaste(Box<cache_waste::CacheWasteDetail>),
}

/// One cited line of raw input.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Evidence {
    /// What the line shows (`start`, `hang`, `retry`, ...).
    pub role: &'static str,
    /// `file:line`.
    pub at: String,
}

/// `file:line` of a line.
pub fn location(input: &DetectorInput<'_>, loc: Loc) -> String {
    format!("{}:{}", input.sources[loc.source].name, loc.line)
}

/// Rounds seconds to milliseconds, the resolution of the logs.
pub fn ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

/// Runs every detector and ranks the findings by impact.
pub fn run_all(input: &DetectorInput<'_>) -> Vec<Finding> {
    let mut findings: Vec<Finding> = all().iter().flat_map(|d| d.detect(input)).collect();
    findings.sort_by(|a, b| {
        b.impact_seconds
            .total_cmp(&a.impact_seconds)
            .then(b.impact_usd.total_cmp(&a.impact_usd))
            .then(a.kind.cmp(b.kind))
    });
    for (i, f) in findings.iter_mut().enumerate() {
        f.rank = i + 1;
    }
    findings
}
