//! Prompt-cache billing waste, in dollars, with the requests behind it.
//!
//! Without prompt bodies bfx cannot see a cache prefix, so requests are
//! grouped by what must match for a cache hit: the model id as called, the
//! caller identity, and (when bodies were logged) a hash of the system
//! prompt and tools. Each group is walked in time order per serving region,
//! tracking when its cache was last written or read:
//!
//! - a write that no later read in that region follows within the TTL was
//!   **never read** (the write premium over input bought nothing);
//! - a write with no read, after the region's cache had expired during a gap
//!   of at most an hour, is a **TTL expiry** re-write (the 1-hour TTL or a
//!   keep-warm call would have made it a read); after longer gaps no TTL
//!   helps, and the write counts as a cold start;
//! - a write within 5 s of the previous write is a **propagation-lag** write
//!   (the first write was not readable yet);
//! - a write in a cold region while another region of the same group was
//!   warm is a **cross-region miss**;
//! - a 1-hour write whose reads all came within 5 minutes of each other
//!   paid for an hour it did not use;
//! - groups whose re-writes a 1-hour TTL would have turned into reads, net
//!   of the dearer 1-hour writes, should use it;
//! - requests that asked for caching but whose prompt is under the model's
//!   minimum checkpoint cached nothing; large repeated prompts with no cache
//!   tokens at all never enabled caching. Both are savings forgone,
//!   estimated by replaying the group with a 5-minute cache.
//!
//! Each write gets at most one of the first four labels, in that order of
//! precedence, so their dollars add up without double counting.

use std::collections::BTreeMap;

use crate::hash::{FxHashMap, NameIds};
use serde::Serialize;

use super::{Detector, DetectorInput, Finding, FindingDetail};
use crate::prices::{CacheTtl, ModelRef, Pico, PriceRow, PriceTable, usd};
use crate::usage::UsageRecord;
use crate::usage::cost::resolve_all;

/// Writes this close to the previous write of the same prefix were made
/// before the first became readable.
pub const PROPAGATION_WINDOW_MS: i64 = 5_000;

/// Kinds of cache waste.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WasteKind {
    /// Cache writes never read within the TTL.
    WriteNeverRead,
    /// Re-writes after the cache expired during an idle gap.
    TtlExpiry,
    /// A second write of the same prefix within about 5 s.
    PropagationLag,
    /// A write in one region while another region's cache was warm.
    CrossRegionMiss,
    /// 1-hour writes whose reads a 5-minute TTL would have served.
    OneHourUnneeded,
    /// 5-minute writes whose re-writes a 1-hour TTL would have saved.
    FiveMinuteTooShort,
    /// Caching requested, but the prompt is under the model's minimum checkpoint.
    BelowMinimum,
    /// Large repeated inputs with caching never enabled.
    CachingNeverEnabled,
}

impl WasteKind {
    /// Every kind, in report order.
    pub const ALL: [WasteKind; 8] = [
        WasteKind::WriteNeverRead,
        WasteKind::TtlExpiry,
        WasteKind::PropagationLag,
        WasteKind::CrossRegionMiss,
        WasteKind::OneHourUnneeded,
        WasteKind::FiveMinuteTooShort,
        WasteKind::BelowMinimum,
        WasteKind::CachingNeverEnabled,
    ];

    /// Stable finding kind name.
    pub fn name(self) -> &'static str {
        match self {
            WasteKind::WriteNeverRead => "cache_write_never_read",
            WasteKind::TtlExpiry => "cache_ttl_expiry",
            WasteKind::PropagationLag => "cache_propagation_lag",
            WasteKind::CrossRegionMiss => "cache_cross_region_miss",
            WasteKind::OneHourUnneeded => "cache_one_hour_unneeded",
            WasteKind::FiveMinuteTooShort => "cache_five_minute_too_short",
            WasteKind::BelowMinimum => "cache_below_minimum",
            WasteKind::CachingNeverEnabled => "cache_never_enabled",
        }
    }

    /// Whether the dollars were paid for nothing (`true`) or are savings
    /// forgone / the value of a fix (`false`).
    pub fn is_paid_waste(self) -> bool {
        matches!(
            self,
            WasteKind::WriteNeverRead
                | WasteKind::TtlExpiry
                | WasteKind::PropagationLag
                | WasteKind::CrossRegionMiss
                | WasteKind::OneHourUnneeded
        )
    }
}

/// One wasted item: a request, or a group of requests for group-level kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WasteItem {
    /// Kind.
    pub kind: WasteKind,
    /// Indexes of the records behind it.
    pub records: Vec<usize>,
    /// Tokens concerned (cache-write tokens, or prefix tokens for estimates).
    pub tokens: u64,
    /// Dollars, picodollars.
    pub pico: Pico,
    /// Idle gap before the write, for TTL expiry and cross-region misses.
    pub gap_ms: Option<i64>,
    /// Whether the repetition is proven by a prompt hash (never-enabled only).
    pub proven: bool,
}

#[derive(Default)]
struct RegionState {
    /// Whether the region has been written or read yet.
    seen: bool,
    last_activity: i64,
    ttl_ms: i64,
    last_write: Option<(i64, usize)>,
    pending: Vec<usize>,
    /// The open 1-hour write and the largest gap between uses since it.
    one_hour: Option<(usize, i64, bool)>,
}

fn warm(s: &RegionState, t: i64) -> bool {
    t - s.last_activity <= s.ttl_ms
}

/// Write price minus another price, per token, for a record's TTL split.
fn write_cost(r: &UsageRecord, p: &PriceRow, minus: Pico) -> Pico {
    let w1 = r.cache_write_1h as Pico;
    let w5 = (r.write() - r.cache_write_1h) as Pico;
    let p5 = p.cache_write(CacheTtl::FiveMinutes).unwrap_or(p.input);
    let p1 = p.cache_write(CacheTtl::OneHour).unwrap_or(p.input);
    w5 * (p5 - minus) + w1 * (p1 - minus)
}

/// Finds every waste item. Deterministic: groups are visited in key order
/// and records in (time, input order).
pub fn find_waste(records: &[UsageRecord], prices: &PriceTable) -> Vec<WasteItem> {
    let (mut models, resolved) = resolve_all(records, prices);
    // Names as small ids: one integer-keyed lookup per record.
    let mut ids = NameIds::default();
    let model_key: Vec<u32> = resolved.iter().map(|r| ids.id(&r.model.id)).collect();
    let mut identities = NameIds::default();
    // Hashed while filling (one lookup per record), visited in key order.
    let mut groups: FxHashMap<(u32, u32, u64), (usize, Vec<usize>)> = FxHashMap::default();
    for (i, r) in records.iter().enumerate() {
        // Failed invocations carry no cache behaviour; untimed records
        // cannot be placed on the cache's clock.
        if r.ts_ms.is_none() || r.model.is_empty() || r.error_code.is_some() {
            continue;
        }
        let m = models.id(&r.model) as usize;
        if resolved[m].row.is_none_or(|p| !p.caches()) {
            continue;
        }
        let key = (model_key[m], identities.id(r.identity.as_deref().unwrap_or("")), r.prefix_hash.unwrap_or(0));
        groups.entry(key).or_insert_with(|| (m, Vec::new())).1.push(i);
    }
    let mut groups: Vec<_> = groups
        .into_iter()
        .map(|((id, identity, hash), v)| ((ids.name(id), identities.name(identity), hash), v))
        .collect();
    groups.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut out = Vec::new();
    for (_, (m, mut idx)) in groups {
        let p = resolved[m].row.expect("grouped records are priced");
        idx.sort_by_key(|&i| (records[i].ts_ms, records[i].loc));
        walk_group(records, &idx, p, &mut out);
        forgone(records, &idx, p, &mut out);
    }
    out
}

fn walk_group(records: &[UsageRecord], idx: &[usize], p: &PriceRow, out: &mut Vec<WasteItem>) {
    let read_price = p.cache_read.unwrap_or(p.input);
    let mut regions: BTreeMap<&str, RegionState> = BTreeMap::new();
    let mut expiries: Vec<(usize, i64)> = Vec::new();
    let item = |kind, i: usize, pico, gap| WasteItem {
        kind,
        records: vec![i],
        tokens: records[i].write(),
        pico,
        gap_ms: gap,
        proven: false,
    };
    let close_one_hour = |s: &mut RegionState, out: &mut Vec<WasteItem>| {
        if let Some((w, max_gap, read)) = s.one_hour.take()
            && read
            && max_gap <= CacheTtl::FiveMinutes.ms()
        {
            let r = &records[w];
            let p1 = p.cache_write(CacheTtl::OneHour).unwrap_or(p.input);
            let p5 = p.cache_write(CacheTtl::FiveMinutes).unwrap_or(p.input);
            out.push(WasteItem {
                kind: WasteKind::OneHourUnneeded,
                records: vec![w],
                tokens: r.cache_write_1h,
                pico: r.cache_write_1h as Pico * (p1 - p5),
                gap_ms: None,
                proven: false,
            });
        }
    };
    for &i in idx {
        let r = &records[i];
        let t = r.ts_ms.unwrap_or(0);
        let region = r.serving_region();
        if r.read() > 0 {
            let s = regions.entry(region).or_default();
            if !s.seen {
                // Warmed before the logs begin; assume the default TTL.
                s.seen = true;
                s.ttl_ms = CacheTtl::FiveMinutes.ms();
            } else if !warm(s, t) {
                // Expired before this read: whatever it read was written
                // outside these logs, so the pending writes went unread.
                for i in std::mem::take(&mut s.pending) {
                    out.push(item(WasteKind::WriteNeverRead, i, write_cost(&records[i], p, p.input), None));
                }
            }
            if let Some(oh) = &mut s.one_hour {
                oh.1 = oh.1.max(t - s.last_activity);
                oh.2 = true;
            }
            s.pending.clear();
            s.last_activity = t;
        }
        if r.write() == 0 {
            continue;
        }
        let other_warm = regions.iter().any(|(reg, s)| *reg != region && warm(s, t));
        let s = regions.entry(region).or_default();
        let fresh = !s.seen;
        if !fresh && !warm(s, t) {
            // The cache expired unread: writes still waiting were never read.
            for i in std::mem::take(&mut s.pending) {
                out.push(item(WasteKind::WriteNeverRead, i, write_cost(&records[i], p, p.input), None));
            }
        }
        if r.read() == 0 && s.last_write.is_some_and(|(wt, _)| t - wt <= PROPAGATION_WINDOW_MS) {
            out.push(item(WasteKind::PropagationLag, i, write_cost(r, p, read_price), None));
        } else if r.read() == 0 && (fresh || !warm(s, t)) && other_warm {
            out.push(item(WasteKind::CrossRegionMiss, i, write_cost(r, p, read_price), None));
        } else if r.read() == 0 && !fresh && !warm(s, t) && t - s.last_activity <= CacheTtl::OneHour.ms() {
            let gap = t - s.last_activity;
            if r.cache_write_1h == 0 {
                expiries.push((i, gap));
            }
            out.push(item(WasteKind::TtlExpiry, i, write_cost(r, p, read_price), Some(gap)));
        } else {
            s.pending.push(i);
        }
        close_one_hour(s, out);
        s.seen = true;
        s.last_activity = t;
        s.ttl_ms = r.write_ttl().ms();
        s.last_write = Some((t, i));
        if r.cache_write_1h > 0 {
            s.one_hour = Some((i, 0, false));
        }
    }
    for s in regions.values_mut() {
        for &i in &s.pending {
            let r = &records[i];
            out.push(item(WasteKind::WriteNeverRead, i, write_cost(r, p, p.input), None));
        }
        close_one_hour(s, out);
    }
    // Would a 1-hour TTL have paid for itself here? Re-writes after gaps of
    // at most an hour become reads; every other 5-minute write costs more.
    if p.cache_write_1h.is_some() {
        let saved: Vec<&(usize, i64)> = expiries.iter().filter(|(_, g)| *g <= CacheTtl::OneHour.ms()).collect();
        if !saved.is_empty() {
            let p5 = p.cache_write(CacheTtl::FiveMinutes).unwrap_or(p.input);
            let p1 = p.cache_write(CacheTtl::OneHour).unwrap_or(p.input);
            let saved_ids: Vec<usize> = saved.iter().map(|(i, _)| *i).collect();
            let gain: Pico = saved_ids.iter().map(|&i| (records[i].write() as Pico) * (p5 - read_price)).sum();
            let extra: Pico = idx
                .iter()
                .filter(|i| !saved_ids.contains(i))
                .map(|&i| (records[i].write() - records[i].cache_write_1h) as Pico * (p1 - p5))
                .sum();
            if gain > extra {
                out.push(WasteItem {
                    kind: WasteKind::FiveMinuteTooShort,
                    tokens: saved_ids.iter().map(|&i| records[i].write()).sum(),
                    records: saved_ids,
                    pico: gain - extra,
                    gap_ms: None,
                    proven: false,
                });
            }
        }
    }
}

/// Replays a group with a 5-minute cache of `prefix` tokens: the first
/// request of each warm run writes, the rest read. Returns the net saving.
fn replay_5m(records: &[UsageRecord], idx: &[usize], prefix: u64, p: &PriceRow) -> Pico {
    let read = p.cache_read.unwrap_or(p.input);
    let w5 = p.cache_write(CacheTtl::FiveMinutes).unwrap_or(p.input);
    let n = prefix as Pico;
    let mut last: Option<i64> = None;
    let mut net = 0;
    for &i in idx {
        let t = records[i].ts_ms.unwrap_or(0);
        if last.is_some_and(|l| t - l <= CacheTtl::FiveMinutes.ms()) {
            net += n * (p.input - read);
        } else {
            net -= n * (w5 - p.input);
        }
        last = Some(t);
    }
    net
}

fn forgone(records: &[UsageRecord], idx: &[usize], p: &PriceRow, out: &mut Vec<WasteItem>) {
    let min = p.min_cache_tokens.unwrap_or(1024);
    let no_cache = |i: &usize| records[*i].read() == 0 && records[*i].write() == 0;
    // Asked for caching, got none, and the prompt is under the minimum.
    let below: Vec<usize> = idx
        .iter()
        .copied()
        .filter(|i| no_cache(i) && records[*i].cache_requested == Some(true) && records[*i].total_input() < min)
        .collect();
    if !below.is_empty() {
        let prefix = below.iter().map(|&i| records[i].total_input()).min().unwrap_or(0);
        let pico = replay_5m(records, &below, prefix, p).max(0);
        out.push(WasteItem {
            kind: WasteKind::BelowMinimum,
            tokens: below.iter().map(|&i| records[i].total_input()).sum(),
            records: below,
            pico,
            gap_ms: None,
            proven: true,
        });
    }
    // Never enabled: no request of the group has cache tokens or asked for
    // caching, there are repeats, and even the smallest input could cache.
    if idx.len() >= 2 && idx.iter().all(no_cache) && idx.iter().all(|&i| records[i].cache_requested != Some(true)) {
        let prefix = idx.iter().map(|&i| records[i].total_input()).min().unwrap_or(0);
        if prefix >= min {
            let pico = replay_5m(records, idx, prefix, p);
            if pico > 0 {
                out.push(WasteItem {
                    kind: WasteKind::CachingNeverEnabled,
                    records: idx.to_vec(),
                    tokens: prefix,
                    pico,
                    gap_ms: None,
                    proven: records[idx[0]].prefix_hash.is_some(),
                });
            }
        }
    }
}

/// One request behind a cache finding.
#[derive(Debug, Clone, Serialize)]
pub struct WasteExample {
    /// Request id, when the record has one.
    pub request_id: Option<String>,
    /// `file:line` of the record.
    pub at: String,
    /// Model id as called.
    pub model: String,
    /// Serving region.
    pub region: String,
    /// Tokens concerned.
    pub tokens: u64,
    /// Dollars.
    pub usd: f64,
    /// Idle gap before it, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap_s: Option<f64>,
}

/// Dollars of one model.
#[derive(Debug, Clone, Serialize)]
pub struct ModelWaste {
    /// Model id as called.
    pub model: String,
    /// Requests.
    pub requests: usize,
    /// Dollars.
    pub usd: f64,
}

/// The numbers of one cache finding.
#[derive(Debug, Clone, Serialize)]
pub struct CacheWasteDetail {
    /// Waste kind.
    pub waste: WasteKind,
    /// `paid_for_nothing` or `savings_forgone`.
    pub category: &'static str,
    /// Dollars.
    pub usd: f64,
    /// Requests behind it.
    pub requests: usize,
    /// Tokens concerned.
    pub tokens: u64,
    /// By model, most dollars first.
    pub by_model: Vec<ModelWaste>,
    /// Idle gaps before TTL-expiry re-writes: (bucket, count).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gap_distribution: Vec<(String, usize)>,
    /// For TTL expiry: net dollars a 1-hour TTL would have saved over the
    /// groups concerned (negative: it would have cost more).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub one_hour_ttl_net_saving_usd: Option<f64>,
    /// For never-enabled: dollars of groups whose repetition no prompt hash
    /// proves (not included in `usd`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unproven_usd: Option<f64>,
    /// The requests, most dollars first (at most `--max-listed`).
    pub examples: Vec<WasteExample>,
}

/// Reports each kind of cache waste as a finding.
pub struct CacheWasteDetector;

impl Detector for CacheWasteDetector {
    fn kind(&self) -> &'static str {
        "cache_waste"
    }

    fn detect(&self, input: &DetectorInput<'_>) -> Vec<Finding> {
        let Some(u) = input.usage else { return Vec::new() };
        let items = find_waste(u.records, u.prices);
        WasteKind::ALL.iter().filter_map(|&k| finding(k, &items, u.records, input)).collect()
    }
}

fn gap_bucket(ms: i64) -> &'static str {
    if ms <= 600_000 {
        "5-10 min"
    } else if ms <= 1_800_000 {
        "10-30 min"
    } else {
        "30-60 min"
    }
}

fn finding(
    kind: WasteKind,
    items: &[WasteItem],
    records: &[UsageRecord],
    input: &DetectorInput<'_>,
) -> Option<Finding> {
    let mine: Vec<&WasteItem> = items.iter().filter(|w| w.kind == kind).collect();
    if mine.is_empty() {
        return None;
    }
    // Only never-enabled estimates can be unproven (no prompt hash).
    let (counted, unproven): (Vec<&WasteItem>, Vec<&WasteItem>) =
        mine.iter().copied().partition(|w| kind != WasteKind::CachingNeverEnabled || w.proven);
    let pico: Pico = counted.iter().map(|w| w.pico).sum();
    let unproven: Pico = unproven.iter().map(|w| w.pico).sum();
    // Per model string, its normalized id's slot in `by_model`.
    let mut model_slot: FxHashMap<&str, usize> = FxHashMap::default();
    let mut by_model: Vec<(String, usize, Pico)> = Vec::new();
    // (share, record, item, order): formatted only for the examples listed.
    let mut examples: Vec<(Pico, usize, &WasteItem, usize)> = Vec::new();
    for w in &counted {
        let share = w.pico / w.records.len() as Pico;
        for &i in &w.records {
            let r = &records[i];
            let slot = *model_slot.entry(&*r.model).or_insert_with(|| {
                let id = ModelRef::parse(&r.model).id;
                by_model.iter().position(|m| m.0 == id).unwrap_or_else(|| {
                    by_model.push((id, 0, 0));
                    by_model.len() - 1
                })
            });
            by_model[slot].1 += 1;
            by_model[slot].2 += share;
            examples.push((share, i, w, examples.len()));
        }
    }
    let requests = examples.len();
    // Largest first; the push order makes the order total, so picking the
    // top ones before sorting them lists exactly what a full sort would.
    let order = |a: &(Pico, usize, &WasteItem, usize), b: &(Pico, usize, &WasteItem, usize)| {
        b.0.cmp(&a.0).then_with(|| records[a.1].loc.cmp(&records[b.1].loc)).then(a.3.cmp(&b.3))
    };
    let listed = input.settings.max_listed_calls;
    if listed == 0 {
        examples.clear();
    } else if examples.len() > listed {
        examples.select_nth_unstable_by(listed - 1, order);
        examples.truncate(listed);
    }
    examples.sort_by(order);
    let examples: Vec<WasteExample> = examples
        .into_iter()
        .map(|(share, i, w, _)| {
            let r = &records[i];
            WasteExample {
                request_id: r.request_id.clone(),
                at: super::location(input, r.loc),
                model: r.model.to_string(),
                region: r.serving_region().to_string(),
                tokens: if w.records.len() == 1 { w.tokens } else { r.total_input() },
                usd: usd(share),
                gap_s: w.gap_ms.map(|g| g as f64 / 1000.0),
            }
        })
        .collect();
    let mut by_model: Vec<ModelWaste> =
        by_model.into_iter().map(|(model, requests, p)| ModelWaste { model, requests, usd: usd(p) }).collect();
    by_model.sort_by(|a, b| b.usd.total_cmp(&a.usd).then(a.model.cmp(&b.model)));
    let mut gaps: BTreeMap<&'static str, usize> = BTreeMap::new();
    for w in &mine {
        if let Some(g) = w.gap_ms {
            *gaps.entry(gap_bucket(g)).or_default() += 1;
        }
    }
    let order = ["5-10 min", "10-30 min", "30-60 min"];
    let gap_distribution = order.iter().filter_map(|b| gaps.get(b).map(|n| (b.to_string(), *n))).collect::<Vec<_>>();
    let one_hour = (kind == WasteKind::TtlExpiry)
        .then(|| usd(items.iter().filter(|w| w.kind == WasteKind::FiveMinuteTooShort).map(|w| w.pico).sum::<Pico>()));
    let tokens: u64 = counted.iter().map(|w| w.tokens).sum();
    let usd_total = usd(pico);
    let (title, fix) = describe(kind, requests, usd_total);
    Some(Finding {
        kind: kind.name(),
        rank: 0,
        title,
        impact_seconds: 0.0,
        impact_usd: usd_total,
        fix,
        detail: FindingDetail::CacheWaste(Box::new(CacheWasteDetail {
            waste: kind,
            category: if kind.is_paid_waste() { "paid_for_nothing" } else { "savings_forgone" },
            usd: usd_total,
            requests,
            tokens,
            by_model,
            gap_distribution,
            one_hour_ttl_net_saving_usd: one_hour,
            unproven_usd: (kind == WasteKind::CachingNeverEnabled && unproven > 0).then(|| usd(unproven)),
            examples,
        })),
    })
}

fn describe(kind: WasteKind, n: usize, d: f64) -> (String, Vec<String>) {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect();
    match kind {
        WasteKind::WriteNeverRead => (
            format!("{n} cache writes were never read within their TTL: ${d:.2} of write premium bought nothing"),
            s(&[
                "Move the cachePoint to a prefix that repeats (system prompt and tools), not per-request content",
                "Drop caching for one-shot workloads: a write costs 1.25× input (2× for 1 h) and pays back only when read",
            ]),
        ),
        WasteKind::TtlExpiry => (
            format!(
                "{n} cache re-writes after the TTL expired during idle gaps: ${d:.2} more than reads would have cost"
            ),
            s(&[
                "Use the 1-hour TTL (cachePoint ttl \"1h\") where gaps between calls exceed 5 minutes",
                "Or keep the cache warm with traffic under 5 minutes apart when that is cheaper",
            ]),
        ),
        WasteKind::PropagationLag => (
            format!("{n} writes of a prefix within 5 s of the previous write: ${d:.2} paid twice for one cache entry"),
            s(&["Send the first request of a burst alone and wait for its response before fanning out"]),
        ),
        WasteKind::CrossRegionMiss => (
            format!(
                "{n} writes in one region while another region's cache was warm: ${d:.2} lost to cross-region routing"
            ),
            s(&[
                "Cross-region inference profiles spread requests over regions with separate caches",
                "Pin cache-heavy workloads to an in-region model id, or accept the re-writes as the price of capacity",
            ]),
        ),
        WasteKind::OneHourUnneeded => (
            format!("{n} 1-hour cache writes whose reads a 5-minute TTL would have served: ${d:.2} extra"),
            s(&["Use the default 5-minute TTL where calls come less than 5 minutes apart"]),
        ),
        WasteKind::FiveMinuteTooShort => (
            format!("A 1-hour TTL would have turned {n} re-writes into reads: ${d:.2} net saving"),
            s(&["Set cachePoint ttl \"1h\" for these workloads (2× input per write, but re-writes become 0.1× reads)"]),
        ),
        WasteKind::BelowMinimum => (
            format!(
                "{n} requests asked for caching below the model's minimum checkpoint: nothing was cached (${d:.2} forgone)"
            ),
            s(&[
                "Caching needs at least the model's minimum tokens before the cachePoint (1,024 / 2,048 / 4,096; Nova 1,000)",
                "Move the cachePoint after more static content, or remove it",
            ]),
        ),
        WasteKind::CachingNeverEnabled => (
            format!(
                "{n} requests repeat a large prompt with caching never enabled: ${d:.2} a 5-minute cache would have saved"
            ),
            s(&["Add a cachePoint after the system prompt and tools (Converse) or cache_control (InvokeModel)"]),
        ),
    }
}
