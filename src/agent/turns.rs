//! Turns, model calls and fallback chains, and the throttle-amplification
//! report built from them with polars.

use std::collections::BTreeMap;

use polars::prelude::*;
use serde::Serialize;

use super::{AgentKind, AgentRecord, CallOutcome, TurnKeyKind};
use crate::timeline::Loc;

/// One model call an agent made for a turn.
#[derive(Debug, Clone, Serialize)]
pub struct AgentCall {
    /// Index of its turn.
    pub turn: usize,
    /// Model id or profile (`unknown` when the log does not name it).
    pub model: String,
    /// Region (`unknown` when not logged).
    pub region: String,
    /// When the call started, UTC ms (record time minus its latency, where logged).
    pub ts_ms: i64,
    /// Outcome.
    pub outcome: CallOutcome,
    /// Backoff the agent slept after it (s).
    pub backoff_s: f64,
    /// Total latency (ms), where logged.
    pub latency_ms: Option<f64>,
    /// Time to first token (ms), where logged.
    pub ttft_ms: Option<f64>,
    /// 0 for the turn's first model, 1 after the first fallback hop, ...
    pub hop: u32,
    /// Evidence.
    #[serde(skip)]
    pub loc: Loc,
}

/// One move of a turn from one model to the next.
#[derive(Debug, Clone, Serialize)]
pub struct Hop {
    /// From model.
    pub from: String,
    /// To model.
    pub to: String,
    /// Why (as logged, or the last outcome on `from`).
    pub reason: String,
}

/// One user turn.
#[derive(Debug, Clone, Serialize)]
pub struct Turn {
    /// The id that grouped it.
    pub key_kind: TurnKeyKind,
    /// The id (or `stream@start` for proximity grouping).
    pub key: String,
    /// Log stream.
    pub stream: String,
    /// Calls made for it.
    pub calls: usize,
    /// Its fallback chain.
    pub hops: Vec<Hop>,
    /// Whether its last call succeeded.
    pub succeeded: bool,
}

/// Groups records into turns and calls. `turn_gap_ms` splits records with
/// no turn id where their stream pauses longer than that.
pub fn build(mut records: Vec<AgentRecord>, turn_gap_ms: i64) -> (Vec<Turn>, Vec<AgentCall>) {
    records.sort_by_key(|a| (a.ts_ms, a.loc));
    // Group: by key where present, else by stream and proximity.
    let mut groups: BTreeMap<(TurnKeyKind, String), Vec<AgentRecord>> = BTreeMap::new();
    let mut last_in_stream: BTreeMap<String, (i64, String)> = BTreeMap::new();
    let mut order: Vec<(TurnKeyKind, String)> = Vec::new();
    for r in records {
        let key = match &r.turn {
            Some((k, id)) => (*k, id.clone()),
            None => {
                let entry = last_in_stream.get(&r.stream);
                let id = match entry {
                    Some((t, id)) if r.ts_ms - t <= turn_gap_ms => id.clone(),
                    _ => format!("{}@{}", r.stream, r.ts_ms),
                };
                last_in_stream.insert(r.stream.clone(), (r.ts_ms, id.clone()));
                (TurnKeyKind::StreamProximity, id)
            }
        };
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        groups.entry(key).or_default().push(r);
    }
    let mut turns = Vec::new();
    let mut calls = Vec::new();
    for key in order {
        let recs = groups.remove(&key).expect("grouped");
        let ti = turns.len();
        let stream = recs[0].stream.clone();
        let has_model_calls = recs.iter().any(|r| matches!(r.kind, AgentKind::ModelCall { .. }));
        let has_strands = recs.iter().any(|r| {
            matches!(
                r.kind,
                AgentKind::StrandsRetry { .. } | AgentKind::StrandsGaveUp { .. } | AgentKind::StrandsSucceeded
            )
        });
        let mut hops = Vec::new();
        let mut current_model: Option<String> = None;
        let mut hop = 0u32;
        let mut turn_calls: Vec<AgentCall> = Vec::new();
        let push_call = |turn_calls: &mut Vec<AgentCall>,
                         hops: &mut Vec<Hop>,
                         hop: &mut u32,
                         current: &mut Option<String>,
                         call: AgentCall| {
            if let Some(prev) = current.as_ref()
                && *prev != call.model
                && call.model != "unknown"
            {
                let reason = turn_calls.last().map(|c: &AgentCall| outcome_name(&c.outcome)).unwrap_or_default();
                hops.push(Hop { from: prev.clone(), to: call.model.clone(), reason });
                *hop += 1;
            }
            if call.model != "unknown" {
                *current = Some(call.model.clone());
            }
            let mut call = call;
            call.hop = *hop;
            turn_calls.push(call);
        };
        for r in &recs {
            let base = |model: String, outcome: CallOutcome| AgentCall {
                turn: ti,
                model,
                region: "unknown".into(),
                ts_ms: r.ts_ms,
                outcome,
                backoff_s: 0.0,
                latency_ms: None,
                ttft_ms: None,
                hop: 0,
                loc: r.loc,
            };
            match &r.kind {
                AgentKind::ModelCall { model, region, outcome, latency_ms, ttft_ms } => {
                    let mut c = base(model.clone().unwrap_or_else(|| "unknown".into()), outcome.clone());
                    c.region = region.clone().unwrap_or_else(|| "unknown".into());
                    c.latency_ms = *latency_ms;
                    c.ttft_ms = *ttft_ms;
                    // Records are written when a call ends; quotas count
                    // requests when they arrive, so bucket by the start.
                    if let Some(l) = latency_ms {
                        c.ts_ms = r.ts_ms - l.round() as i64;
                    }
                    push_call(&mut turn_calls, &mut hops, &mut hop, &mut current_model, c);
                }
                AgentKind::StrandsRetry { delay_s, .. } => {
                    if has_model_calls {
                        // The backoff belongs to the latest throttled call.
                        if let Some(c) = turn_calls
                            .iter_mut()
                            .rev()
                            .find(|c| c.outcome == CallOutcome::Throttled && c.backoff_s == 0.0)
                        {
                            c.backoff_s = *delay_s;
                        }
                    } else {
                        let mut c =
                            base(current_model.clone().unwrap_or_else(|| "unknown".into()), CallOutcome::Throttled);
                        c.backoff_s = *delay_s;
                        push_call(&mut turn_calls, &mut hops, &mut hop, &mut current_model, c);
                    }
                }
                AgentKind::StrandsGaveUp { .. } if !has_model_calls => {
                    let c = base(current_model.clone().unwrap_or_else(|| "unknown".into()), CallOutcome::Throttled);
                    push_call(&mut turn_calls, &mut hops, &mut hop, &mut current_model, c);
                }
                AgentKind::StrandsSucceeded if !has_model_calls => {
                    let c = base(current_model.clone().unwrap_or_else(|| "unknown".into()), CallOutcome::Success);
                    push_call(&mut turn_calls, &mut hops, &mut hop, &mut current_model, c);
                }
                AgentKind::Fallback { to, .. } if !has_model_calls => {
                    // Strands-only turns learn the model from fallback records.
                    if let Some(to) = to
                        && current_model.is_none()
                    {
                        current_model = Some(to.clone());
                    }
                }
                AgentKind::ErrorLine { code } if !has_model_calls && !has_strands => {
                    let outcome = if code.contains("Throttl") {
                        CallOutcome::Throttled
                    } else {
                        CallOutcome::Failed(code.clone())
                    };
                    let c = base("unknown".into(), outcome);
                    push_call(&mut turn_calls, &mut hops, &mut hop, &mut current_model, c);
                }
                _ => {}
            }
        }
        // Logged fallback reasons are more precise than the inferred ones.
        let logged: Vec<(&Option<String>, &Option<String>, &Option<String>)> = recs
            .iter()
            .filter_map(|r| match &r.kind {
                AgentKind::Fallback { from, to, reason } => Some((from, to, reason)),
                _ => None,
            })
            .collect();
        for h in hops.iter_mut() {
            if let Some((_, _, Some(reason))) =
                logged.iter().find(|(f, t, _)| f.as_deref() == Some(&h.from) && t.as_deref() == Some(&h.to))
            {
                h.reason = reason.clone();
            }
        }
        let succeeded = turn_calls.last().is_some_and(|c| c.outcome == CallOutcome::Success);
        turns.push(Turn { key_kind: key.0, key: key.1, stream, calls: turn_calls.len(), hops, succeeded });
        calls.extend(turn_calls);
    }
    (turns, calls)
}

fn outcome_name(o: &CallOutcome) -> String {
    match o {
        CallOutcome::Success => "success".into(),
        CallOutcome::Throttled => "ThrottlingException".into(),
        CallOutcome::Failed(c) => c.clone(),
    }
}

/// Per model and region.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ModelRow {
    /// Model id or profile.
    pub model: String,
    /// Region.
    pub region: String,
    /// Model calls.
    pub calls: u64,
    /// Successful calls.
    pub successes: u64,
    /// Throttled calls.
    pub throttles: u64,
    /// Other failures.
    pub other_errors: u64,
    /// Throttles per success (can exceed 1); `null` with no success.
    pub throttles_per_success: Option<f64>,
    /// Turns that called this model.
    pub turns: u64,
    /// Calls beyond the first per turn on this model.
    pub retries: u64,
    /// Retries per call.
    pub retries_per_call: f64,
    /// Backoff seconds slept after this model's calls.
    pub backoff_s: f64,
    /// Highest calls in one UTC minute.
    pub peak_rpm: u64,
    /// The quota the user passed (`--quota model=RPM`), if any.
    pub quota_rpm: Option<u64>,
}

/// One minute of traffic for one model.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MinuteRow {
    /// Minute start, UTC ms.
    pub minute_ms: i64,
    /// Model.
    pub model: String,
    /// Calls.
    pub calls: u64,
    /// Throttles.
    pub throttles: u64,
    /// Fallback hops away from this model.
    pub hops: u64,
}

/// A distribution as value → count.
pub type Distribution = Vec<(u64, u64)>;

/// The p50/p95/p99 and mean of one measured quantity, in ms.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Percentiles {
    /// Samples.
    pub n: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// Latency split for one model, where both TTFT and total latency are logged.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LatencySplit {
    /// Model.
    pub model: String,
    /// Mean total = mean TTFT + mean generation (an identity of means only).
    pub mean_total_ms: f64,
    /// Mean time to first token.
    pub mean_ttft_ms: f64,
    /// Mean generation time (total − TTFT per call, averaged).
    pub mean_generation_ms: f64,
    /// Percentiles of the total, measured per call.
    pub total: Percentiles,
    /// Percentiles of TTFT, measured per call.
    pub ttft: Percentiles,
    /// Percentiles of generation time, measured per call (never a difference of percentiles).
    pub generation: Percentiles,
}

/// The throttle-amplification report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ThrottleReport {
    /// `412 turns → 18,454 model calls → 5,342 throttles absorbed`.
    pub headline: String,
    /// Turns.
    pub turns: u64,
    /// Model calls.
    pub calls: u64,
    /// Throttled calls.
    pub throttles: u64,
    /// Turns whose last call failed.
    pub failed_turns: u64,
    /// How turns were grouped, with counts.
    pub turn_keys: Vec<(TurnKeyKind, u64)>,
    /// Calls per turn (the amplification factor): mean.
    pub calls_per_turn_mean: f64,
    /// Calls per turn: value → turns.
    pub calls_per_turn: Distribution,
    /// Fallback hops per turn: value → turns.
    pub hops_per_turn: Distribution,
    /// Each hop (from → to, reason) and how often.
    pub hop_edges: Vec<(String, String, String, u64)>,
    /// Per model and region.
    pub models: Vec<ModelRow>,
    /// Per minute and model.
    pub per_minute: Vec<MinuteRow>,
    /// Where both TTFT and total latency were logged.
    pub latency: Vec<LatencySplit>,
}

fn fmt_thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn f64_col(df: &DataFrame, name: &str) -> PolarsResult<Vec<f64>> {
    let c = df.column(name)?.cast(&DataType::Float64)?;
    Ok(c.f64()?.iter().map(|v| v.unwrap_or(0.0)).collect())
}

fn str_col(df: &DataFrame, name: &str) -> PolarsResult<Vec<String>> {
    let c = df.column(name)?;
    Ok(c.str()?.iter().map(|v| v.unwrap_or("").to_string()).collect())
}

/// Builds the report. Group-bys and minute bucketing run in polars.
pub fn report(
    turns: &[Turn],
    calls: &[AgentCall],
    quotas: &BTreeMap<String, u64>,
) -> PolarsResult<Option<ThrottleReport>> {
    if calls.is_empty() {
        return Ok(None);
    }
    let df = df!(
        "turn" => calls.iter().map(|c| c.turn as u64).collect::<Vec<_>>(),
        "model" => calls.iter().map(|c| c.model.clone()).collect::<Vec<_>>(),
        "region" => calls.iter().map(|c| c.region.clone()).collect::<Vec<_>>(),
        "minute_ms" => calls.iter().map(|c| c.ts_ms.div_euclid(60_000) * 60_000).collect::<Vec<_>>(),
        "success" => calls.iter().map(|c| c.outcome == CallOutcome::Success).collect::<Vec<_>>(),
        "throttled" => calls.iter().map(|c| c.outcome == CallOutcome::Throttled).collect::<Vec<_>>(),
        "backoff_s" => calls.iter().map(|c| c.backoff_s).collect::<Vec<_>>(),
    )?;
    let by_model = df
        .clone()
        .lazy()
        .group_by([col("model"), col("region")])
        .agg([
            len().alias("calls"),
            col("success").sum().alias("successes"),
            col("throttled").sum().alias("throttles"),
            col("turn").n_unique().alias("turns"),
            col("backoff_s").sum().alias("backoff_s"),
        ])
        .sort(["model", "region"], SortMultipleOptions::default())
        .collect()?;
    let per_minute = df
        .clone()
        .lazy()
        .group_by([col("minute_ms"), col("model")])
        .agg([len().alias("calls"), col("throttled").sum().alias("throttles")])
        .sort(["minute_ms", "model"], SortMultipleOptions::default())
        .collect()?;
    let per_turn = df
        .lazy()
        .group_by([col("turn")])
        .agg([len().alias("calls")])
        .group_by([col("calls")])
        .agg([len().alias("turns")])
        .sort(["calls"], SortMultipleOptions::default())
        .collect()?;

    // Fallback hops away from a model, bucketed by the minute of the next call.
    let mut hop_minutes: BTreeMap<(i64, String), u64> = BTreeMap::new();
    for w in calls.windows(2) {
        if w[0].turn == w[1].turn && w[1].hop > w[0].hop {
            *hop_minutes.entry((w[1].ts_ms.div_euclid(60_000) * 60_000, w[0].model.clone())).or_default() += 1;
        }
    }
    let minutes: Vec<MinuteRow> = {
        let m = f64_col(&per_minute, "minute_ms")?;
        let model = str_col(&per_minute, "model")?;
        let c = f64_col(&per_minute, "calls")?;
        let t = f64_col(&per_minute, "throttles")?;
        let mut rows: Vec<MinuteRow> = (0..m.len())
            .map(|i| MinuteRow {
                minute_ms: m[i] as i64,
                model: model[i].clone(),
                calls: c[i] as u64,
                throttles: t[i] as u64,
                hops: hop_minutes.remove(&(m[i] as i64, model[i].clone())).unwrap_or(0),
            })
            .collect();
        for ((minute_ms, model), hops) in hop_minutes {
            rows.push(MinuteRow { minute_ms, model, calls: 0, throttles: 0, hops });
        }
        rows.sort_by(|a, b| (a.minute_ms, &a.model).cmp(&(b.minute_ms, &b.model)));
        rows
    };
    let models: Vec<ModelRow> = {
        let model = str_col(&by_model, "model")?;
        let region = str_col(&by_model, "region")?;
        let c = f64_col(&by_model, "calls")?;
        let s = f64_col(&by_model, "successes")?;
        let t = f64_col(&by_model, "throttles")?;
        let tu = f64_col(&by_model, "turns")?;
        let b = f64_col(&by_model, "backoff_s")?;
        (0..model.len())
            .map(|i| {
                let (calls, successes, throttles, turns) = (c[i] as u64, s[i] as u64, t[i] as u64, tu[i] as u64);
                let retries = calls.saturating_sub(turns);
                ModelRow {
                    model: model[i].clone(),
                    region: region[i].clone(),
                    calls,
                    successes,
                    throttles,
                    other_errors: calls - successes - throttles,
                    throttles_per_success: (successes > 0).then(|| round4(throttles as f64 / successes as f64)),
                    turns,
                    retries,
                    retries_per_call: round4(retries as f64 / calls as f64),
                    backoff_s: round3(b[i]),
                    peak_rpm: minutes.iter().filter(|m| m.model == model[i]).map(|m| m.calls).max().unwrap_or(0),
                    quota_rpm: quotas.get(&model[i]).copied(),
                }
            })
            .collect()
    };
    let calls_per_turn: Distribution = {
        let c = f64_col(&per_turn, "calls")?;
        let t = f64_col(&per_turn, "turns")?;
        c.iter().zip(&t).map(|(a, b)| (*a as u64, *b as u64)).collect()
    };
    let mut hops_per_turn: BTreeMap<u64, u64> = BTreeMap::new();
    let mut edges: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    let mut keys: BTreeMap<TurnKeyKind, u64> = BTreeMap::new();
    for t in turns {
        *hops_per_turn.entry(t.hops.len() as u64).or_default() += 1;
        *keys.entry(t.key_kind).or_default() += 1;
        for h in &t.hops {
            *edges.entry((h.from.clone(), h.to.clone(), h.reason.clone())).or_default() += 1;
        }
    }
    let throttles = calls.iter().filter(|c| c.outcome == CallOutcome::Throttled).count() as u64;
    let n_turns = turns.len() as u64;
    let n_calls = calls.len() as u64;
    Ok(Some(ThrottleReport {
        headline: format!(
            "{} turns → {} model calls → {} throttles absorbed",
            fmt_thousands(n_turns),
            fmt_thousands(n_calls),
            fmt_thousands(throttles)
        ),
        turns: n_turns,
        calls: n_calls,
        throttles,
        failed_turns: turns.iter().filter(|t| !t.succeeded).count() as u64,
        turn_keys: keys.into_iter().collect(),
        calls_per_turn_mean: round4(n_calls as f64 / n_turns.max(1) as f64),
        calls_per_turn,
        hops_per_turn: hops_per_turn.into_iter().collect(),
        hop_edges: edges.into_iter().map(|((a, b, r), n)| (a, b, r, n)).collect(),
        models,
        per_minute: minutes,
        latency: latency_split(calls),
    }))
}

fn latency_split(calls: &[AgentCall]) -> Vec<LatencySplit> {
    let mut by: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for c in calls {
        if let (Some(total), Some(ttft)) = (c.latency_ms, c.ttft_ms) {
            by.entry(&c.model).or_default().push((total, ttft));
        }
    }
    by.into_iter()
        .map(|(model, v)| {
            let total: Vec<f64> = v.iter().map(|x| x.0).collect();
            let ttft: Vec<f64> = v.iter().map(|x| x.1).collect();
            let generation: Vec<f64> = v.iter().map(|x| x.0 - x.1).collect();
            let (t, f, g) = (pct(&total), pct(&ttft), pct(&generation));
            LatencySplit {
                model: model.to_string(),
                mean_total_ms: t.mean,
                mean_ttft_ms: f.mean,
                mean_generation_ms: g.mean,
                total: t,
                ttft: f,
                generation: g,
            }
        })
        .collect()
}

/// Nearest-rank percentiles and the mean.
fn pct(values: &[f64]) -> Percentiles {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let rank = |p: f64| v[((p * n as f64).ceil() as usize).clamp(1, n) - 1];
    Percentiles {
        n: n as u64,
        mean: round3(v.iter().sum::<f64>() / n as f64),
        p50: rank(0.50),
        p95: rank(0.95),
        p99: rank(0.99),
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn round4(x: f64) -> f64 {
    (x * 10000.0).round() / 10000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands() {
        assert_eq!(fmt_thousands(18454), "18,454");
        assert_eq!(fmt_thousands(412), "412");
        assert_eq!(fmt_thousands(1000000), "1,000,000");
    }

    #[test]
    fn percentiles_are_measured_not_subtracted() {
        let p = pct(&[1.0, 2.0, 3.0, 4.0, 100.0]);
        assert_eq!((p.p50, p.p95, p.p99, p.mean), (3.0, 100.0, 100.0, 22.0));
    }
}
