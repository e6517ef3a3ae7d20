//! Cost per model, region and day: tokens by type, dollars by type, what the
//! same traffic would have cost with no caching, and the net savings.

use std::collections::BTreeMap;

use crate::hash::{FxHashMap, NameIds};
use serde::Serialize;

use super::cur::{self, CurRow, TokenType};
use super::{DedupStats, TokenConvention, UsageRecord, UsageSourceKind};
use crate::format::prefix::format_ms;
use crate::prices::{CacheTtl, ModelRef, Pico, PriceRow, PriceTable, usd};

/// Tokens by type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tokens {
    /// Uncached input.
    pub input: u64,
    /// Output.
    pub output: u64,
    /// Cache reads.
    pub cache_read: u64,
    /// Cache writes, 5-minute TTL.
    pub cache_write_5m: u64,
    /// Cache writes, 1-hour TTL.
    pub cache_write_1h: u64,
}

impl Tokens {
    /// A record's tokens by type (input is uncached input).
    pub fn of(r: &UsageRecord) -> Tokens {
        Tokens {
            input: r.input,
            output: r.output,
            cache_read: r.read(),
            cache_write_5m: r.write() - r.cache_write_1h,
            cache_write_1h: r.cache_write_1h,
        }
    }

    fn add(&mut self, o: &Tokens) {
        self.input += o.input;
        self.output += o.output;
        self.cache_read += o.cache_read;
        self.cache_write_5m += o.cache_write_5m;
        self.cache_write_1h += o.cache_write_1h;
    }
}

/// Picodollars by token type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Money {
    /// Uncached input.
    pub input: Pico,
    /// Output.
    pub output: Pico,
    /// Cache reads.
    pub cache_read: Pico,
    /// Cache writes (both TTLs).
    pub cache_write: Pico,
    /// What the same tokens would have cost with no caching (every cache
    /// token billed as input).
    pub no_cache: Pico,
}

impl Money {
    /// Total actually billed.
    pub fn total(&self) -> Pico {
        self.input + self.output + self.cache_read + self.cache_write
    }

    fn add(&mut self, o: &Money) {
        self.input += o.input;
        self.output += o.output;
        self.cache_read += o.cache_read;
        self.cache_write += o.cache_write;
        self.no_cache += o.no_cache;
    }
}

/// The price of one record's tokens under a row. Cache tokens on a row with
/// no cache prices are billed at the input price (and flagged by the caller).
pub fn price_tokens(t: &Tokens, p: &PriceRow) -> Money {
    let n = |x: u64| x as Pico;
    let read = p.cache_read.unwrap_or(p.input);
    let w5 = p.cache_write(CacheTtl::FiveMinutes).unwrap_or(p.input);
    let w1 = p.cache_write(CacheTtl::OneHour).unwrap_or(p.input);
    Money {
        input: n(t.input) * p.input,
        output: n(t.output) * p.output,
        cache_read: n(t.cache_read) * read,
        cache_write: n(t.cache_write_5m) * w5 + n(t.cache_write_1h) * w1,
        no_cache: n(t.input + t.cache_read + t.cache_write_5m + t.cache_write_1h) * p.input + n(t.output) * p.output,
    }
}

/// Dollars by token type, for reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Dollars {
    /// Uncached input.
    pub input: f64,
    /// Output.
    pub output: f64,
    /// Cache reads.
    pub cache_read: f64,
    /// Cache writes.
    pub cache_write: f64,
    /// Total billed.
    pub total: f64,
    /// The same traffic with caching off.
    pub without_caching: f64,
    /// `without_caching − total` (negative when caching cost more than it saved).
    pub caching_savings: f64,
}

impl From<&Money> for Dollars {
    fn from(m: &Money) -> Dollars {
        Dollars {
            input: usd(m.input),
            output: usd(m.output),
            cache_read: usd(m.cache_read),
            cache_write: usd(m.cache_write),
            total: usd(m.total()),
            without_caching: usd(m.no_cache),
            caching_savings: usd(m.no_cache - m.total()),
        }
    }
}

/// One row of the cost table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostRow {
    /// UTC day.
    pub day: String,
    /// Model id as called.
    pub model: String,
    /// Region that served the requests (`inferenceRegion`, else the API region).
    pub region: String,
    /// Requests.
    pub requests: u64,
    /// Tokens by type (input is uncached input).
    pub tokens: Tokens,
    /// Dollars, `None` when the model is unpriced.
    pub cost: Option<Dollars>,
    /// The price row used.
    pub price_row: Option<String>,
    /// How the row was chosen, when not the model's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_note: Option<String>,
}

/// Usage records of one source kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageSourceSummary {
    /// Source kind.
    pub kind: UsageSourceKind,
    /// Records kept after de-duplication.
    pub records: u64,
    /// Records per token convention, with the convention in words.
    pub conventions: Vec<(TokenConvention, u64, &'static str)>,
}

/// One difference between the computed cost and the CUR.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurDifference {
    /// UTC day.
    pub day: String,
    /// Model family.
    pub family: String,
    /// Token type.
    pub token_type: TokenType,
    /// Computed from the usage records.
    pub computed_usd: f64,
    /// Billed in the CUR.
    pub cur_usd: f64,
    /// `cur − computed`.
    pub difference_usd: f64,
    /// Tokens in the usage records.
    pub computed_tokens: u64,
    /// Tokens in the CUR, when its unit is known.
    pub cur_tokens: Option<u64>,
    /// CUR rows behind it (`file:line`).
    pub cur_rows: Vec<String>,
}

/// Reconciliation of computed cost with CUR rows, per day, family and token type.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reconciliation {
    /// Keys compared.
    pub compared: usize,
    /// Keys that agree to the cent.
    pub matching: usize,
    /// Keys that differ by a cent or more, largest first.
    pub differences: Vec<CurDifference>,
}

/// An unpriced model: its tokens are reported, never priced at $0.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unpriced {
    /// Model id as called.
    pub model: String,
    /// Requests.
    pub requests: u64,
    /// Tokens by type.
    pub tokens: Tokens,
    /// Why.
    pub reason: String,
}

/// Totals of the cost report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CostTotals {
    /// Requests after de-duplication.
    pub requests: u64,
    /// Requests of priced models.
    pub priced_requests: u64,
    /// Tokens by type over priced and unpriced models.
    pub tokens: Tokens,
    /// Dollars over priced models.
    pub cost: Dollars,
}

/// The usage and cost report.
#[derive(Debug, Clone, Serialize)]
pub struct CostReport {
    /// Price table used.
    pub price_table: String,
    /// Usage records by source kind and convention.
    pub sources: Vec<UsageSourceSummary>,
    /// De-duplication by request id.
    pub dedup: DedupStats,
    /// Totals.
    pub totals: CostTotals,
    /// Per day, model and region.
    pub rows: Vec<CostRow>,
    /// Models with no price.
    pub unpriced: Vec<Unpriced>,
    /// Requests over 200k input tokens: long-context rates are not applied to them.
    pub long_context_requests: u64,
    /// Against CUR rows, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconciliation: Option<Reconciliation>,
}

/// Days since the epoch of a UTC ms time; untimed records sort last.
fn day_index(ts: Option<i64>) -> i64 {
    ts.map_or(i64::MAX, |t| t.div_euclid(86_400_000))
}

fn day_name(d: i64) -> String {
    if d == i64::MAX { "unknown".to_string() } else { format_ms(d * 86_400_000)[..10].to_string() }
}

/// A model string, normalized and matched to its price row.
pub struct Resolved<'a> {
    /// The normalized model.
    pub model: ModelRef,
    /// The row, `None` when unpriced.
    pub row: Option<&'a PriceRow>,
    /// Why another model's row was used, if so.
    pub note: Option<String>,
    /// CUR family key.
    pub family: Option<String>,
}

/// Each distinct model string of `records` normalized and priced, indexed
/// by the model's id in the returned [`NameIds`].
pub fn resolve_all<'r, 'p>(records: &'r [UsageRecord], prices: &'p PriceTable) -> (NameIds<'r>, Vec<Resolved<'p>>) {
    let mut models = NameIds::default();
    let mut resolved = Vec::new();
    for r in records {
        if models.id(&r.model) as usize == resolved.len() {
            resolved.push(resolve(&r.model, prices));
        }
    }
    (models, resolved)
}

/// Normalizes and prices one model string.
pub fn resolve<'a>(raw: &str, prices: &'a PriceTable) -> Resolved<'a> {
    let model = ModelRef::parse(raw);
    let matched = if ModelRef::is_application_profile(raw) { None } else { prices.lookup(&model) };
    let family = cur::family(&model.base);
    Resolved { row: matched.as_ref().map(|m| m.row), note: matched.and_then(|m| m.note), family, model }
}

/// Builds the cost report from de-duplicated records (in input order).
pub fn report(
    records: &[UsageRecord],
    dedup: DedupStats,
    prices: &PriceTable,
    cur_rows: &[CurRow],
    cur_names: &dyn Fn(&CurRow) -> String,
) -> CostReport {
    // Each distinct model string is normalized and priced once; per record,
    // names are small ids (`NameIds`) and group keys are integers.
    let (mut models, resolved) = resolve_all(records, prices);
    let mut ids = NameIds::default();
    let keys: Vec<(u32, Option<u32>)> =
        resolved.iter().map(|r| (ids.id(&r.model.id), r.family.as_deref().map(|f| ids.id(f)))).collect();
    let mut regions = NameIds::default();
    // Hashed per record, sorted once at the end.
    let mut rows: FxHashMap<(i64, u32, u32), (u64, Tokens, Money)> = FxHashMap::default();
    let mut unpriced: BTreeMap<String, (u64, Tokens, String)> = BTreeMap::new();
    let mut by_kind: BTreeMap<UsageSourceKind, BTreeMap<TokenConvention, u64>> = BTreeMap::new();
    let mut computed: FxHashMap<(i64, u32, TokenType), (Pico, u64)> = FxHashMap::default();
    let mut totals = CostTotals::default();
    let mut money = Money::default();
    let mut long_context = 0;
    let mut cache_without_price: std::collections::BTreeSet<&str> = Default::default();
    for r in records {
        *by_kind.entry(r.kind).or_default().entry(r.convention).or_default() += 1;
        totals.requests += 1;
        let t = Tokens::of(r);
        totals.tokens.add(&t);
        if r.total_input() > 200_000 {
            long_context += 1;
        }
        let m = models.id(&r.model) as usize;
        let res = &resolved[m];
        let Some(row) = res.row else {
            let reason = if r.model.is_empty() {
                "no model id in the record".to_string()
            } else if ModelRef::is_application_profile(&r.model) {
                "application inference profile: the ARN does not name the model".to_string()
            } else {
                format!("no row in {}", prices.version)
            };
            let name = if res.model.id.is_empty() { "(no model id)".to_string() } else { res.model.id.clone() };
            let e = unpriced.entry(name).or_insert((0, Tokens::default(), reason));
            e.0 += 1;
            e.1.add(&t);
            continue;
        };
        totals.priced_requests += 1;
        let cost = price_tokens(&t, row);
        money.add(&cost);
        let d = day_index(r.ts_ms);
        let (id, family) = keys[m];
        let e = rows.entry((d, id, regions.id(r.serving_region()))).or_default();
        e.0 += 1;
        e.1.add(&t);
        e.2.add(&cost);
        if !row.caches() && (t.cache_read + t.cache_write_5m + t.cache_write_1h) > 0 {
            cache_without_price.insert(res.model.id.as_str());
        }
        if let Some(f) = family {
            for (tt, cost, tokens) in [
                (TokenType::Input, cost.input, t.input),
                (TokenType::Output, cost.output, t.output),
                (TokenType::CacheRead, cost.cache_read, t.cache_read),
                (TokenType::CacheWrite, cost.cache_write, t.cache_write_5m + t.cache_write_1h),
            ] {
                let c = computed.entry((d, f, tt)).or_default();
                c.0 += cost;
                c.1 += tokens;
            }
        }
    }
    let by_id: FxHashMap<&str, &Resolved<'_>> = resolved.iter().map(|r| (r.model.id.as_str(), r)).collect();
    let computed: BTreeMap<CurKey, (Pico, u64)> =
        computed.into_iter().map(|((d, f, tt), v)| ((day_name(d), ids.name(f).to_string(), tt), v)).collect();
    totals.cost = Dollars::from(&money);
    let mut rows: Vec<_> =
        rows.into_iter().map(|((d, id, region), v)| ((d, ids.name(id), regions.name(region)), v)).collect();
    rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let rows = rows
        .into_iter()
        .map(|((day, model, region), (requests, tokens, money))| {
            let res = by_id.get(model);
            let mut note = res.and_then(|r| r.note.clone());
            if cache_without_price.contains(model) {
                note = Some("cache tokens on a model with no cache price: billed at the input price".into());
            }
            CostRow {
                day: day_name(day),
                model: model.to_string(),
                region: region.to_string(),
                requests,
                tokens,
                cost: Some(Dollars::from(&money)),
                price_row: res.and_then(|r| r.row.map(|row| row.id.clone())),
                price_note: note,
            }
        })
        .collect();
    let reconciliation = (!cur_rows.is_empty()).then(|| reconcile(&computed, cur_rows, cur_names));
    CostReport {
        price_table: prices.version.clone(),
        sources: by_kind
            .into_iter()
            .map(|(kind, convs)| UsageSourceSummary {
                kind,
                records: convs.values().sum(),
                conventions: convs.into_iter().map(|(c, n)| (c, n, c.describe())).collect(),
            })
            .collect(),
        dedup,
        totals,
        rows,
        unpriced: unpriced
            .into_iter()
            .map(|(model, (requests, tokens, reason))| Unpriced { model, requests, tokens, reason })
            .collect(),
        long_context_requests: long_context,
        reconciliation,
    }
}

/// (day, family, token type).
type CurKey = (String, String, TokenType);

fn reconcile(
    computed: &BTreeMap<CurKey, (Pico, u64)>,
    cur_rows: &[CurRow],
    names: &dyn Fn(&CurRow) -> String,
) -> Reconciliation {
    let mut billed: BTreeMap<CurKey, (Pico, Option<u64>, Vec<String>)> = BTreeMap::new();
    for r in cur_rows {
        let e = billed.entry((r.day.clone(), r.family.clone(), r.token_type)).or_insert((0, Some(0), Vec::new()));
        e.0 += r.cost;
        e.1 = match (e.1, r.tokens) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        e.2.push(names(r));
    }
    // Compare only the days and families the CUR covers: a CUR export for
    // one account says nothing about traffic it does not include.
    let days: std::collections::BTreeSet<&String> = billed.keys().map(|k| &k.0).collect();
    let mut keys: std::collections::BTreeSet<(String, String, TokenType)> = billed.keys().cloned().collect();
    keys.extend(computed.iter().filter(|(k, v)| days.contains(&k.0) && (v.0 != 0 || v.1 != 0)).map(|(k, _)| k.clone()));
    let mut differences = Vec::new();
    let mut matching = 0;
    for k in &keys {
        let (c, ct) = computed.get(k).copied().unwrap_or((0, 0));
        let (b, bt, at) = billed.get(k).cloned().unwrap_or((0, Some(0), Vec::new()));
        let diff = b - c;
        if diff.abs() < 10_000_000_000 {
            matching += 1;
            continue;
        }
        differences.push((
            diff.abs(),
            CurDifference {
                day: k.0.clone(),
                family: k.1.clone(),
                token_type: k.2,
                computed_usd: usd(c),
                cur_usd: usd(b),
                difference_usd: usd(diff),
                computed_tokens: ct,
                cur_tokens: bt,
                cur_rows: at,
            },
        ));
    }
    differences.sort_by_key(|d| std::cmp::Reverse(d.0));
    Reconciliation { compared: keys.len(), matching, differences: differences.into_iter().map(|d| d.1).collect() }
}
