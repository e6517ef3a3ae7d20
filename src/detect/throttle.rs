//! Throttle amplification: user turns multiplied into model calls by SDK
//! retries, agent retries and fallback chains, with the throttles nobody saw.

use serde::Serialize;

use super::{Detector, DetectorInput, Finding, FindingDetail};
use crate::agent::turns::ModelRow;

/// Reports the agent-level throttle amplification, when agent logs were found.
pub struct ThrottleAmplificationDetector;

/// The headline numbers; the full tables are the report's `throttle` section.
#[derive(Debug, Clone, Serialize)]
pub struct ThrottleDetail {
    /// `N turns → M model calls → T throttles absorbed`.
    pub headline: String,
    /// Model calls per turn, mean.
    pub calls_per_turn_mean: f64,
    /// Backoff seconds agents slept.
    pub backoff_s: f64,
    /// The model with the most throttles per success.
    pub worst_model: Option<ModelRow>,
}

impl Detector for ThrottleAmplificationDetector {
    fn kind(&self) -> &'static str {
        "throttle_amplification"
    }

    fn detect(&self, input: &DetectorInput<'_>) -> Vec<Finding> {
        self.find(input).into_iter().collect()
    }
}

impl ThrottleAmplificationDetector {
    fn find(&self, input: &DetectorInput<'_>) -> Option<Finding> {
        let t = input.throttle?;
        if t.throttles == 0 {
            return None;
        }
        let backoff_s = super::ms(t.models.iter().map(|m| m.backoff_s).sum());
        let worst = t
            .models
            .iter()
            .filter(|m| m.throttles > 0)
            .max_by(|a, b| {
                let ka = a.throttles_per_success.unwrap_or(f64::INFINITY);
                let kb = b.throttles_per_success.unwrap_or(f64::INFINITY);
                ka.total_cmp(&kb).then(b.model.cmp(&a.model))
            })
            .cloned();
        let mut fix = vec![
            "Raise the requests- and tokens-per-minute quotas of the models that throttle (Service Quotas), or \
             route through a cross-region inference profile to spread load."
                .to_string(),
            "Cap total attempts per turn across layers: SDK retries × agent retries × fallback hops multiply; \
             give the SDK retry mode 'adaptive' and let one layer own retries."
                .to_string(),
        ];
        if t.models.iter().any(|m| m.quota_rpm.is_some_and(|q| m.peak_rpm > q)) {
            fix.push("Peak requests per minute exceed the quota you passed: see `throttle.models[].peak_rpm`.".into());
        }
        Some(Finding {
            kind: self.kind(),
            rank: 0,
            title: t.headline.clone(),
            impact_seconds: backoff_s,
            impact_usd: 0.0,
            fix,
            detail: FindingDetail::ThrottleAmplification(ThrottleDetail {
                headline: t.headline.clone(),
                calls_per_turn_mean: t.calls_per_turn_mean,
                backoff_s,
                worst_model: worst,
            }),
        })
    }
}
