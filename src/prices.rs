//! Prices: a dated table of Bedrock on-demand token prices, and the rules
//! that match a logged model id to a row.
//!
//! Money is kept in whole picodollars (10⁻¹² USD) per token, so that every
//! sum is exact and the same whatever order records are added in; dollars
//! appear only at the edge, in reports.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// The embedded table (`src/prices/bedrock.csv`).
pub const EMBEDDED_CSV: &str = include_str!("prices/bedrock.csv");

/// Version label of the embedded table, printed in reports.
pub const EMBEDDED_VERSION: &str = "bfx embedded table 2026-11-22 (litellm 1.109.1 Bedrock rows + 3 hand-added)";

/// Picodollars (10⁻¹² USD). One token at $3 per million is 3,000,000 pUSD.
pub type Pico = i128;

/// Picodollars to dollars, for display.
pub fn dollars(p: Pico) -> f64 {
    p as f64 / 1e12
}

/// Picodollars to dollars rounded to the cent... and to 1/10,000 of a cent,
/// so that small waste is not shown as zero. JSON reports this.
pub fn usd(p: Pico) -> f64 {
    // Round half away from zero at 1e-6 USD (1e6 pUSD).
    let q = if p >= 0 { (p + 500_000) / 1_000_000 } else { (p - 500_000) / 1_000_000 };
    q as f64 / 1e6
}

/// Prices of one model, in picodollars per token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriceRow {
    /// Model id the row matches (with its inference-profile prefix, if any).
    pub id: String,
    /// Uncached input.
    pub input: Pico,
    /// Output.
    pub output: Pico,
    /// Cache read; `None` when the model has no prompt caching.
    pub cache_read: Option<Pico>,
    /// Cache write, 5-minute TTL.
    pub cache_write_5m: Option<Pico>,
    /// Cache write, 1-hour TTL; `None` when the model has no 1-hour TTL.
    pub cache_write_1h: Option<Pico>,
    /// Input price when a request's input exceeds 200k tokens (long context).
    pub input_above_200k: Option<Pico>,
    /// Output price when a request's input exceeds 200k tokens.
    pub output_above_200k: Option<Pico>,
    /// Minimum tokens per cache checkpoint.
    pub min_cache_tokens: Option<u64>,
    /// Where the figures come from.
    pub source: String,
    /// When they were taken.
    pub as_of: String,
}

impl PriceRow {
    /// Whether the model supports prompt caching at all.
    pub fn caches(&self) -> bool {
        self.cache_read.is_some()
    }

    /// The cache TTLs the model offers (`5m`, `5m, 1h`), empty without caching.
    pub fn ttls(&self) -> &'static str {
        match (self.caches(), self.cache_write_1h.is_some()) {
            (false, _) => "",
            (true, false) => "5m",
            (true, true) => "5m, 1h",
        }
    }

    /// The cache-write price for a TTL. A 1-hour write on a row with no
    /// 1-hour price is billed at 2× input, Anthropic's published multiplier.
    pub fn cache_write(&self, ttl: CacheTtl) -> Option<Pico> {
        match ttl {
            CacheTtl::FiveMinutes => self.cache_write_5m,
            CacheTtl::OneHour => self.cache_write_1h.or(self.cache_write_5m.map(|_| self.input * 2)),
        }
    }
}

/// A cache TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum CacheTtl {
    /// The default, 5 minutes, reset on every hit.
    #[serde(rename = "5m")]
    FiveMinutes,
    /// The 1-hour option (`cachePoint.ttl: "1h"`).
    #[serde(rename = "1h")]
    OneHour,
}

impl CacheTtl {
    /// The TTL in milliseconds.
    pub fn ms(self) -> i64 {
        match self {
            CacheTtl::FiveMinutes => 300_000,
            CacheTtl::OneHour => 3_600_000,
        }
    }
}

impl fmt::Display for CacheTtl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CacheTtl::FiveMinutes => "5m",
            CacheTtl::OneHour => "1h",
        })
    }
}

/// A price table.
#[derive(Debug, Clone)]
pub struct PriceTable {
    /// Where it came from (embedded version, or the file given).
    pub version: String,
    rows: BTreeMap<String, PriceRow>,
}

/// How a model id was matched to a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriceMatch<'a> {
    /// The row.
    pub row: &'a PriceRow,
    /// Empty when the row is the model's own; otherwise why another row was used.
    pub note: Option<String>,
}

/// Inference-profile prefixes, longest first.
pub const PROFILE_PREFIXES: [&str; 7] = ["us-gov.", "global.", "apac.", "us.", "eu.", "jp.", "au."];

/// A logged model id, normalized.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ModelRef {
    /// The id as called, with ARNs reduced to the profile or model id
    /// (`us.anthropic.claude-haiku-4-5-20251001-v1:0`).
    pub id: String,
    /// The inference-profile prefix without its dot (`us`, `global`), if any.
    pub profile: Option<String>,
    /// The id without its profile prefix.
    pub base: String,
}

impl ModelRef {
    /// Normalizes a model id from any source: ARNs, profile ids, and
    /// Anthropic response bodies' bare `claude-...` names.
    pub fn parse(raw: &str) -> ModelRef {
        let mut id = raw.trim();
        if id.starts_with("arn:") {
            // arn:aws:bedrock:<region>:<acct>:<type>/<id>
            id = id.split_once('/').map_or(id, |(_, rest)| rest);
        }
        let mut id = id.to_string();
        if id.starts_with("claude-") {
            id = format!("anthropic.{id}");
        }
        let profile =
            PROFILE_PREFIXES.iter().find(|p| id.starts_with(**p)).map(|p| p.trim_end_matches('.').to_string());
        let base = match &profile {
            Some(p) => id[p.len() + 1..].to_string(),
            None => id.clone(),
        };
        ModelRef { id, profile, base }
    }

    /// Whether the id is an application inference profile ARN, which does not
    /// name the model.
    pub fn is_application_profile(raw: &str) -> bool {
        raw.contains(":application-inference-profile/")
    }
}

/// Errors reading a price table.
#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A row or document is malformed.
    #[error("{path}: {msg}")]
    Format {
        /// File.
        path: String,
        /// What is wrong, with the line or key.
        msg: String,
    },
}

/// Parses a decimal USD-per-million figure into picodollars per token,
/// exactly ("0.00875" → 8,750).
pub fn parse_per_million(s: &str) -> Option<Pico> {
    parse_scaled(s, 6)
}

/// Parses a decimal literal (plain or scientific) and multiplies it by
/// 10^`pow` exactly, rounding half up at the last place kept.
pub(crate) fn parse_scaled(s: &str, pow: i32) -> Option<Pico> {
    let s = s.trim();
    let (m, exp) = match s.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (int, frac) = m.split_once('.').unwrap_or((m, ""));
    if (int.is_empty() && frac.is_empty()) || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut value: i128 = format!("{int}{frac}").parse().ok()?;
    let mut scale = exp - frac.len() as i32 + pow;
    while scale > 0 {
        value = value.checked_mul(10)?;
        scale -= 1;
    }
    while scale < 0 {
        let r = value % 10;
        value /= 10;
        if scale == -1 && r >= 5 {
            value += 1;
        }
        scale += 1;
    }
    Some(value)
}

impl PriceTable {
    /// The embedded table.
    pub fn embedded() -> PriceTable {
        PriceTable::from_csv(EMBEDDED_CSV, "embedded", EMBEDDED_VERSION).expect("the embedded price table parses")
    }

    /// Reads a table from a file: bfx's CSV, or LiteLLM's
    /// `model_prices_and_context_window.json` (sniffed from content).
    pub fn from_file(path: &str) -> Result<PriceTable, PriceError> {
        let text = std::fs::read_to_string(path).map_err(|e| PriceError::Io { path: path.into(), source: e })?;
        if text.trim_start().starts_with('{') {
            PriceTable::from_litellm_json(&text, path)
        } else {
            PriceTable::from_csv(&text, path, &format!("file {path}"))
        }
    }

    /// Parses bfx's CSV format (`#` comment lines allowed).
    pub fn from_csv(text: &str, path: &str, version: &str) -> Result<PriceTable, PriceError> {
        let body: String = text.lines().filter(|l| !l.starts_with('#')).map(|l| format!("{l}\n")).collect();
        let mut rdr = csv::ReaderBuilder::new().from_reader(body.as_bytes());
        let headers = rdr.headers().map_err(|e| PriceError::Format { path: path.into(), msg: e.to_string() })?.clone();
        let col = |name: &str| headers.iter().position(|h| h == name);
        let (Some(id), Some(input), Some(output)) = (col("id"), col("input"), col("output")) else {
            return Err(PriceError::Format { path: path.into(), msg: "needs columns id, input, output".into() });
        };
        let mut rows = BTreeMap::new();
        for (n, rec) in rdr.records().enumerate() {
            let rec = rec.map_err(|e| PriceError::Format { path: path.into(), msg: e.to_string() })?;
            let get = |c: Option<usize>| c.and_then(|c| rec.get(c)).unwrap_or("").trim();
            let bad = |what: &str| PriceError::Format {
                path: path.into(),
                msg: format!("row {} ({}): bad {what}", n + 1, get(Some(id))),
            };
            let price = |name: &str| -> Result<Option<Pico>, PriceError> {
                let v = get(col(name));
                if v.is_empty() { Ok(None) } else { parse_per_million(v).map(Some).ok_or_else(|| bad(name)) }
            };
            let row = PriceRow {
                id: get(Some(id)).to_string(),
                input: parse_per_million(get(Some(input))).ok_or_else(|| bad("input"))?,
                output: parse_per_million(get(Some(output))).ok_or_else(|| bad("output"))?,
                cache_read: price("cache_read")?,
                cache_write_5m: price("cache_write_5m")?,
                cache_write_1h: price("cache_write_1h")?,
                input_above_200k: price("input_above_200k")?,
                output_above_200k: price("output_above_200k")?,
                min_cache_tokens: match get(col("min_cache_tokens")) {
                    "" => None,
                    v => Some(v.parse().map_err(|_| bad("min_cache_tokens"))?),
                },
                source: get(col("source")).to_string(),
                as_of: get(col("as_of")).to_string(),
            };
            rows.insert(row.id.clone(), row);
        }
        Ok(PriceTable { version: version.to_string(), rows })
    }

    /// Parses LiteLLM's `model_prices_and_context_window.json` (per-token
    /// prices). Keys with a provider path (`bedrock/...`) are read without it.
    pub fn from_litellm_json(text: &str, path: &str) -> Result<PriceTable, PriceError> {
        let doc: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|e| PriceError::Format { path: path.into(), msg: e.to_string() })?;
        let mut rows = BTreeMap::new();
        for (key, v) in doc {
            let num = |k: &str| -> Option<Pico> {
                let n = v.get(k)?;
                // USD per token → picodollars per token, from the literal.
                parse_scaled(&n.to_string(), 12)
            };
            let Some(input) = num("input_cost_per_token") else { continue };
            let Some(output) = num("output_cost_per_token") else { continue };
            let id = key.rsplit('/').next().unwrap_or(&key).to_string();
            let row = PriceRow {
                id: id.clone(),
                input,
                output,
                cache_read: num("cache_read_input_token_cost"),
                cache_write_5m: num("cache_creation_input_token_cost"),
                cache_write_1h: num("cache_creation_input_token_cost_above_1hr"),
                input_above_200k: num("input_cost_per_token_above_200k_tokens"),
                output_above_200k: num("output_cost_per_token_above_200k_tokens"),
                min_cache_tokens: v.get("prompt_cache_min_tokens").and_then(|m| m.as_u64()),
                source: v.get("source").and_then(|s| s.as_str()).unwrap_or(path).to_string(),
                as_of: String::new(),
            };
            // A bare key wins over a provider-path duplicate of it.
            if key.contains('/') && rows.contains_key(&id) {
                continue;
            }
            rows.insert(id, row);
        }
        Ok(PriceTable { version: format!("LiteLLM file {path}"), rows })
    }

    /// The input-price premium of a profile row over its base model's row,
    /// in percent (`us.` Sonnet 4.5: 10); `None` for base rows.
    pub fn profile_premium_pct(&self, row: &PriceRow) -> Option<f64> {
        let m = ModelRef::parse(&row.id);
        m.profile.as_ref()?;
        let base = self.match_id(&m.base)?;
        (base.input > 0).then(|| ((row.input - base.input) as f64 / base.input as f64 * 1000.0).round() / 10.0)
    }

    /// Every row, by id.
    pub fn rows(&self) -> impl Iterator<Item = &PriceRow> {
        self.rows.values()
    }

    /// Finds the row for a model: the row with the longest id that the
    /// model id starts with (at a `-`, `:` or `@` boundary), or a unique row
    /// that starts with the model id (an id given without its date). A
    /// profile id with no row of its own falls back to the base model's row,
    /// and says so.
    pub fn lookup(&self, model: &ModelRef) -> Option<PriceMatch<'_>> {
        if let Some(row) = self.match_id(&model.id) {
            return Some(PriceMatch { row, note: None });
        }
        if let Some(p) = &model.profile
            && let Some(row) = self.match_id(&model.base)
        {
            return Some(PriceMatch { row, note: Some(format!("no row for the {p}. profile; base model price used")) });
        }
        None
    }

    fn match_id(&self, id: &str) -> Option<&PriceRow> {
        if let Some(r) = self.rows.get(id) {
            return Some(r);
        }
        let boundary = |rest: &str| rest.is_empty() || rest.starts_with(['-', ':', '@']);
        let longest = self
            .rows
            .values()
            .filter(|r| id.starts_with(r.id.as_str()) && boundary(&id[r.id.len()..]))
            .max_by_key(|r| r.id.len());
        if longest.is_some() {
            return longest;
        }
        let mut longer = self.rows.values().filter(|r| r.id.starts_with(id) && boundary(&r.id[id.len()..]));
        match (longer.next(), longer.next()) {
            (Some(r), None) => Some(r),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_million_parses_exactly() {
        assert_eq!(parse_per_million("3"), Some(3_000_000));
        assert_eq!(parse_per_million("0.00875"), Some(8_750));
        assert_eq!(parse_per_million("0.10725"), Some(107_250));
        assert_eq!(parse_scaled("8.75e-09", 12), Some(8_750));
        assert_eq!(parse_scaled("1.0725e-07", 12), Some(107_250));
        assert_eq!(parse_per_million("8.75e-3"), Some(8_750));
        assert_eq!(parse_per_million("x"), None);
    }

    #[test]
    fn embedded_table_covers_the_families() {
        let t = PriceTable::embedded();
        let price = |id: &str| t.lookup(&ModelRef::parse(id)).map(|m| (m.row.id.clone(), m.row.input, m.note));
        assert_eq!(
            price("us.anthropic.claude-haiku-4-5-20251001-v1:0"),
            Some(("us.anthropic.claude-haiku-4-5-20251001-v1:0".into(), 1_100_000, None))
        );
        assert_eq!(
            price("arn:aws:bedrock:us-west-2:565521294060:inference-profile/global.anthropic.claude-opus-4-7"),
            Some(("global.anthropic.claude-opus-4-7".into(), 5_000_000, None))
        );
        assert_eq!(price("claude-3-5-sonnet-20240620").map(|p| p.1), Some(3_000_000));
        assert_eq!(price("amazon.nova-micro-v1:0").map(|p| p.1), Some(35_000));
        assert!(price("eu.meta.llama3-3-70b-instruct-v1:0").unwrap().2.is_some());
        for id in [
            "anthropic.claude-opus-4-1-20250805-v1:0",
            "anthropic.claude-sonnet-4-20250514-v1:0",
            "anthropic.claude-3-haiku-20240307-v1:0",
            "amazon.nova-premier-v1:0",
            "amazon.nova-lite-v1:0",
            "meta.llama4-maverick-17b-instruct-v1:0",
            "mistral.mistral-large-2407-v1:0",
            "deepseek.r1-v1:0",
        ] {
            assert!(price(id).is_some(), "{id}");
        }
        // Sonnet 4 must not take Sonnet 4.5's row, nor the reverse.
        assert_eq!(
            price("anthropic.claude-sonnet-4-20250514-v1:0").unwrap().0,
            "anthropic.claude-sonnet-4-20250514-v1:0"
        );
        assert_eq!(price("ai21.jamba-instruct-v1:0"), None);
    }

    #[test]
    fn one_hour_write_falls_back_to_twice_input() {
        let t = PriceTable::embedded();
        let m = t.lookup(&ModelRef::parse("apac.anthropic.claude-haiku-4-5-20251001-v1:0")).unwrap();
        assert_eq!(m.row.cache_write(CacheTtl::OneHour), Some(2_200_000));
    }
}
