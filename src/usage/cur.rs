//! CUR 2.0 / Data Exports rows for Bedrock: daily or hourly line items per
//! model and token type, reconciled against the cost bfx computes.

use std::io::Read;

use serde::Serialize;

use crate::prices::{Pico, parse_scaled};
use crate::timeline::Loc;

/// The four token usage types Bedrock bills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenType {
    /// Uncached input.
    Input,
    /// Output.
    Output,
    /// Cache read.
    CacheRead,
    /// Cache write (all TTLs).
    CacheWrite,
}

/// One Bedrock CUR line item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurRow {
    /// UTC day of `line_item_usage_start_date`.
    pub day: String,
    /// Model family key ([`family`]), e.g. `claude-sonnet-4.5`.
    pub family: String,
    /// Token type.
    pub token_type: TokenType,
    /// Tokens, when `pricing_unit` says what the usage amount counts.
    pub tokens: Option<u64>,
    /// `line_item_unblended_cost`, picodollars.
    #[serde(skip)]
    pub cost: Pico,
    /// Usage type as billed.
    pub usage_type: String,
    /// Evidence location.
    #[serde(skip)]
    pub loc: Loc,
}

/// Line accounting of one CUR file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CurStats {
    /// Data rows read.
    pub rows: u64,
    /// Bedrock token rows understood.
    pub parsed: u64,
    /// Rows of other services or usage types (ignored).
    pub other: u64,
    /// Bedrock rows whose usage type names no model bfx can match
    /// (Marketplace-style `MP:` types), by usage type.
    pub unmatched: Vec<(String, u64)>,
}

/// Whether the first line is a CUR 2.0 header.
pub fn sniff(head: &[u8]) -> bool {
    let first = head.split(|&b| b == b'\n').next().unwrap_or(b"");
    memchr::memmem::find(first, b"line_item_usage_type").is_some()
}

/// The CUR columns bfx reads; the first four are required.
const COLUMNS: [&str; 6] = [
    "line_item_usage_type",
    "line_item_usage_amount",
    "line_item_unblended_cost",
    "line_item_usage_start_date",
    "line_item_product_code",
    "pricing_unit",
];

/// Turns CUR rows, given as column values in [`COLUMNS`] order, into
/// Bedrock token rows.
struct RowReader {
    source: usize,
    rows: Vec<CurRow>,
    stats: CurStats,
    unmatched: std::collections::BTreeMap<String, u64>,
}

impl RowReader {
    fn new(source: usize) -> Self {
        RowReader { source, rows: Vec::new(), stats: CurStats::default(), unmatched: Default::default() }
    }

    /// `get(i)` is the value of `COLUMNS[i]`, `None` when the column is absent.
    fn row(&mut self, line: u64, get: &dyn Fn(usize) -> Option<String>) -> Result<(), String> {
        self.stats.rows += 1;
        let val = |i: usize| get(i).unwrap_or_default().trim().to_string();
        if get(4).is_some_and(|p| !p.trim().starts_with("AmazonBedrock")) {
            self.stats.other += 1;
            return Ok(());
        }
        let ut = val(0);
        let Some((family, token_type)) = parse_usage_type(&ut) else {
            if ut.contains("token") || ut.contains("Token") {
                *self.unmatched.entry(ut).or_default() += 1;
            } else {
                self.stats.other += 1;
            }
            return Ok(());
        };
        let cost = parse_scaled(&val(2), 12).ok_or_else(|| format!("CUR row {line}: bad unblended cost"))?;
        let per = get(5).and_then(|u| unit_tokens(u.trim()));
        // Amounts can be fractional (thousands of tokens): exact to 1/1000.
        let tokens = per.and_then(|per| parse_scaled(&val(1), 3).map(|a| (a.max(0) as u64) * per / 1000));
        let day = val(3).get(..10).ok_or_else(|| format!("CUR row {line}: bad usage start date"))?.to_string();
        self.stats.parsed += 1;
        self.rows.push(CurRow {
            day,
            family,
            token_type,
            tokens,
            cost,
            usage_type: ut,
            loc: Loc { source: self.source, line },
        });
        Ok(())
    }

    fn finish(mut self) -> (Vec<CurRow>, CurStats) {
        self.stats.unmatched = self.unmatched.into_iter().collect();
        (self.rows, self.stats)
    }
}

/// Reads a CUR CSV, streaming row by row. Evidence lines are file lines.
pub fn read_csv(reader: impl Read, source: usize) -> Result<(Vec<CurRow>, CurStats), String> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let headers = rdr.headers().map_err(|e| format!("CUR header: {e}"))?.clone();
    let idx: Vec<Option<usize>> = COLUMNS.iter().map(|n| headers.iter().position(|h| h == *n)).collect();
    if let Some(missing) = COLUMNS[..4].iter().zip(&idx).find(|(_, i)| i.is_none()) {
        return Err(format!("CUR file without {}", missing.0));
    }
    let mut reader = RowReader::new(source);
    for (i, rec) in rdr.records().enumerate() {
        let line = i as u64 + 2;
        let rec = rec.map_err(|e| format!("CUR line {line}: {e}"))?;
        reader.row(line, &|c| idx[c].map(|j| rec.get(j).unwrap_or("").to_string()))?;
    }
    Ok(reader.finish())
}

/// Whether the first bytes are a Parquet file's magic.
pub fn is_parquet(head: &[u8]) -> bool {
    head.starts_with(b"PAR1")
}

/// Reads a CUR 2.0 / Data Exports Parquet file: only the columns bfx needs
/// are read (Parquet needs a seekable file, so stdin is refused). Evidence
/// "lines" are 1-based row numbers.
pub fn read_parquet(path: &std::path::Path, source: usize) -> Result<(Vec<CurRow>, CurStats), String> {
    use polars::prelude::*;
    use polars_io::SerReader;
    use polars_io::parquet::read::ParquetReader;
    let open = || std::fs::File::open(path).map_err(|e| e.to_string());
    let schema = ParquetReader::new(open()?).schema().map_err(|e| format!("Parquet schema: {e}"))?;
    let present: Vec<String> = COLUMNS.iter().filter(|c| schema.contains(c)).map(|c| c.to_string()).collect();
    if let Some(missing) = COLUMNS[..4].iter().find(|c| !present.iter().any(|p| p == *c)) {
        return Err(format!("CUR file without {missing}"));
    }
    let df = ParquetReader::new(open()?)
        .with_columns(Some(present.clone()))
        .finish()
        .map_err(|e| format!("Parquet: {e}"))?;
    // Every needed column as text: the same parsing as CSV, exact decimals.
    let mut text: Vec<Option<StringChunked>> = Vec::new();
    for c in COLUMNS {
        text.push(match df.column(c) {
            Ok(col) => Some(
                col.cast(&DataType::String)
                    .and_then(|s| s.str().cloned())
                    .map_err(|e| format!("Parquet column {c}: {e}"))?,
            ),
            Err(_) => None,
        });
    }
    let mut reader = RowReader::new(source);
    for i in 0..df.height() {
        reader.row(i as u64 + 1, &|c| text[c].as_ref().map(|s| s.get(i).unwrap_or("").to_string()))?;
    }
    Ok(reader.finish())
}

/// Tokens per unit of `line_item_usage_amount`, from `pricing_unit`.
fn unit_tokens(unit: &str) -> Option<u64> {
    let u = unit.to_ascii_lowercase();
    if u.contains("million") || u.starts_with("1m") {
        Some(1_000_000)
    } else if u.contains("1k") || u.contains("thousand") {
        Some(1_000)
    } else if u == "tokens" || u == "token" {
        Some(1)
    } else {
        None
    }
}

/// Splits a Bedrock usage type into model family and token type. Handles
/// the kebab family (`USW2-Claude4.5Sonnet-cache-write-input-token-count`,
/// with an optional `-cross-region-global` suffix) and the mantle family
/// (`USW2-anthropic.claude-opus-4-8-mantle-cache-write-tokens-standard`).
pub fn parse_usage_type(ut: &str) -> Option<(String, TokenType)> {
    let (_region, rest) = ut.split_once('-')?;
    if let Some(pos) = rest.find("-mantle-") {
        let tt = &rest[pos + 8..];
        let token_type = if tt.starts_with("input") {
            TokenType::Input
        } else if tt.starts_with("output") {
            TokenType::Output
        } else if tt.starts_with("cache-read") {
            TokenType::CacheRead
        } else if tt.starts_with("cache-write") {
            TokenType::CacheWrite
        } else {
            return None;
        };
        return Some((family(&rest[..pos])?, token_type));
    }
    let rest = rest.strip_suffix("-cross-region-global").unwrap_or(rest);
    for (suffix, tt) in [
        ("-cache-read-input-token-count", TokenType::CacheRead),
        ("-cache-write-input-token-count", TokenType::CacheWrite),
        ("-input-tokens", TokenType::Input),
        ("-output-tokens", TokenType::Output),
    ] {
        if let Some(label) = rest.strip_suffix(suffix) {
            return Some((label_family(label)?, tt));
        }
    }
    None
}

/// A CUR model label (`Claude4.5Sonnet`, `NovaLite`, `Nova2.0Lite`) as a family key.
fn label_family(label: &str) -> Option<String> {
    let (brand, rest) = if let Some(r) = label.strip_prefix("Claude") {
        ("claude", r)
    } else if let Some(r) = label.strip_prefix("Nova") {
        ("nova", r)
    } else {
        return None;
    };
    let n = rest.bytes().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
    let version = version_key(&rest[..n]);
    let name = rest[n..].to_ascii_lowercase();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    Some(join(brand, &name, &version))
}

fn version_key(v: &str) -> String {
    v.strip_suffix(".0").unwrap_or(v).to_string()
}

fn join(brand: &str, name: &str, version: &str) -> String {
    if version.is_empty() { format!("{brand}-{name}") } else { format!("{brand}-{name}-{version}") }
}

/// The family key of a base model id (no profile prefix):
/// `anthropic.claude-sonnet-4-5-20250929-v1:0` and
/// `anthropic.claude-3-5-sonnet-20240620-v1:0` give `claude-sonnet-4.5` and
/// `claude-sonnet-3.5`; `amazon.nova-2-lite-v1:0` gives `nova-lite-2`.
pub fn family(base: &str) -> Option<String> {
    let (brand, rest) = if let Some(r) = base.strip_prefix("anthropic.claude-") {
        ("claude", r)
    } else if let Some(r) = base.strip_prefix("amazon.nova-") {
        ("nova", r)
    } else {
        return None;
    };
    let mut nums = Vec::new();
    let mut name = String::new();
    for part in rest.split(['-', ':', '@']) {
        if part.len() <= 2 && !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            nums.push(part);
        } else if part.bytes().all(|b| b.is_ascii_lowercase()) && !part.is_empty() && name.is_empty() {
            name = part.to_string();
        } else {
            break;
        }
    }
    if name.is_empty() {
        return None;
    }
    Some(join(brand, &name, &version_key(&nums.join("."))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_types_from_the_shared_samples() {
        let f = |s: &str| parse_usage_type(s);
        assert_eq!(
            f("USW2-Claude4.5Sonnet-cache-write-input-token-count"),
            Some(("claude-sonnet-4.5".into(), TokenType::CacheWrite))
        );
        assert_eq!(f("USE1-NovaLite-input-tokens"), Some(("nova-lite".into(), TokenType::Input)));
        assert_eq!(f("USE1-Nova2.0Lite-output-tokens"), Some(("nova-lite-2".into(), TokenType::Output)));
        assert_eq!(
            f("USE1-Claude4Sonnet-cache-read-input-token-count-cross-region-global"),
            Some(("claude-sonnet-4".into(), TokenType::CacheRead))
        );
        assert_eq!(
            f("USW2-anthropic.claude-opus-4-8-mantle-cache-write-tokens-standard"),
            Some(("claude-opus-4.8".into(), TokenType::CacheWrite))
        );
        assert_eq!(f("USE1-MP:USE1_InputTokenCount-Units"), None);
    }

    #[test]
    fn families_of_model_ids() {
        assert_eq!(family("anthropic.claude-sonnet-4-5-20250929-v1:0").as_deref(), Some("claude-sonnet-4.5"));
        assert_eq!(family("anthropic.claude-sonnet-4-20250514-v1:0").as_deref(), Some("claude-sonnet-4"));
        assert_eq!(family("anthropic.claude-3-5-haiku-20241022-v1:0").as_deref(), Some("claude-haiku-3.5"));
        assert_eq!(family("anthropic.claude-haiku-4-5@20251001").as_deref(), Some("claude-haiku-4.5"));
        assert_eq!(family("amazon.nova-2-lite-v1:0").as_deref(), Some("nova-lite-2"));
        assert_eq!(family("amazon.nova-pro-v1:0").as_deref(), Some("nova-pro"));
        assert_eq!(family("meta.llama3-3-70b-instruct-v1:0"), None);
    }
}
