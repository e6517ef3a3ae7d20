//! A fast reader for Bedrock model-invocation log records.
//!
//! A record is about a kilobyte of JSON of which bfx keeps a dozen fields.
//! serde reads it at about a third of the speed the issue asks for: most of
//! its time goes to field-name dispatch, `Option` and `Cow` plumbing and
//! validating what is then thrown away. This walk reads the same text once,
//! keeps the same fields (borrowed), and still checks that the whole record
//! is well-formed JSON, so a damaged record is never counted as parsed.
//!
//! It reads only the shape Bedrock writes. Whenever it meets anything else
//! (an escape in a kept string, a kept field of an unexpected type, a
//! repeated key, a float where a count belongs, nesting deeper than serde
//! allows, bad JSON), it returns `None` and the caller falls back to serde,
//! which gives the exact result or the worded error. Tests check that the two
//! agree on every fixture record and on damaged copies of them.

use std::borrow::Cow;

use super::parse::{
    AnthropicCacheCreation, CacheDetail, Identity, InputBody, InvInput, InvOutput, InvRecord, OutputBody, UsageBlock,
};

/// serde_json refuses a 128th nested container: deeper documents go to serde.
const MAX_DEPTH: u32 = 126;

/// Reads an invocation-log record (already trimmed), or `None` to let serde
/// decide.
pub(super) fn invocation_record(msg: &str) -> Option<InvRecord<'_>> {
    let mut s = Scan { text: msg, b: msg.as_bytes(), i: 0 };
    let mut r = InvRecord::default();
    s.fields(0, |s, key| match key {
        b"timestamp" => s.kept_str(&mut r.timestamp).map(|_| Some(0)),
        b"requestId" => s.kept_str(&mut r.request_id).map(|_| Some(1)),
        b"modelId" => s.kept_str(&mut r.model_id).map(|_| Some(2)),
        b"region" => s.kept_str(&mut r.region).map(|_| Some(3)),
        b"inferenceRegion" => s.kept_str(&mut r.inference_region).map(|_| Some(4)),
        b"errorCode" => s.kept_str(&mut r.error_code).map(|_| Some(5)),
        b"identity" => s.identity(&mut r.identity).map(|_| Some(6)),
        b"input" => s.input(&mut r.input).map(|_| Some(7)),
        b"output" => s.output(&mut r.output).map(|_| Some(8)),
        b"schemaType" => s.kept_str(&mut r.schema_type).map(|_| Some(9)),
        _ => s.skip_value(1).map(|_| None),
    })?;
    s.end()?;
    Some(r)
}

/// serde's derived structs refuse a repeated field: leave those to serde.
fn once(seen: &mut u16, bit: u32) -> Option<()> {
    let m = 1 << bit;
    if *seen & m != 0 {
        return None;
    }
    *seen |= m;
    Some(())
}

struct Scan<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Scan<'a> {
    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                break;
            }
            self.i += 1;
        }
    }

    /// The next byte after whitespace, not consumed.
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// Nothing but whitespace is left.
    fn end(&mut self) -> Option<()> {
        self.peek().is_none().then_some(())
    }

    /// Consumes `null` if it comes next.
    fn null(&mut self) -> Option<bool> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            return Some(true);
        }
        Some(false)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.b.get(self.i..)?.starts_with(word).then(|| self.i += word.len())
    }

    /// Walks an object (the `{` comes next), handing each key to `field`,
    /// which must consume the value.
    fn object(&mut self, depth: u32, mut field: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            let key = self.key()?;
            self.eat(b':')?;
            field(self, key)?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Walks an array (the `[` comes next), handing each element to `item`.
    fn array(&mut self, depth: u32, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.eat(b'[')?;
        if self.peek()? == b']' {
            self.i += 1;
            return Some(());
        }
        loop {
            item(self)?;
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Where the text of a string with no escapes lies (`None` for any
    /// escape). Both ends touch an ASCII quote, so both are character
    /// boundaries.
    #[inline]
    fn plain_span(&mut self) -> Option<(usize, usize)> {
        self.eat(b'"')?;
        let start = self.i;
        let end = string_stop(self.b, start)?;
        if self.b[end] != b'"' {
            return None;
        }
        self.i = end + 1;
        Some((start, end))
    }

    /// A string with no escapes, borrowed (`None` for any escape).
    #[inline]
    fn plain_str(&mut self) -> Option<&'a str> {
        let (start, end) = self.plain_span()?;
        self.text.get(start..end)
    }

    /// An object key with no escapes, as bytes: keys are only compared, so
    /// they skip [`Self::plain_str`]'s character-boundary check.
    #[inline]
    fn key(&mut self) -> Option<&'a [u8]> {
        let (start, end) = self.plain_span()?;
        Some(&self.b[start..end])
    }

    /// A kept string field: a plain string or `null`.
    fn kept_str(&mut self, out: &mut Option<Cow<'a, str>>) -> Option<()> {
        *out = if self.null()? { None } else { Some(Cow::Borrowed(self.plain_str()?)) };
        Some(())
    }

    /// A token count: a non-negative integer that fits u64, or `null`.
    fn count(&mut self, out: &mut Option<u64>) -> Option<()> {
        if self.null()? {
            *out = None;
            return Some(());
        }
        let digits = self.b[self.i..].iter().take_while(|c| c.is_ascii_digit()).count();
        let d = &self.b[self.i..self.i + digits];
        // A leading zero, a fraction or an exponent: serde's call.
        if digits == 0
            || (digits > 1 && d[0] == b'0')
            || matches!(self.b.get(self.i + digits), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        let mut v: u64 = 0;
        for &c in d {
            v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
        }
        self.i += digits;
        *out = Some(v);
        Some(())
    }

    /// A value that may be `null` (read as `None`); anything else is read
    /// into a default `T` by `fill`.
    fn nullable<T: Default>(
        &mut self,
        out: &mut Option<T>,
        fill: impl FnOnce(&mut Self, &mut T) -> Option<()>,
    ) -> Option<()> {
        if self.null()? {
            *out = None;
            return Some(());
        }
        let mut v = T::default();
        fill(self, &mut v)?;
        *out = Some(v);
        Some(())
    }

    /// Walks an object as serde's derived structs read it: `field` reads a
    /// kept field and returns its number, or skips any other key and returns
    /// `None`. A kept field seen twice is left to serde, which refuses it.
    fn fields(&mut self, depth: u32, mut field: impl FnMut(&mut Self, &'a [u8]) -> Option<Option<u32>>) -> Option<()> {
        let mut seen = 0u16;
        self.object(depth, |s, key| match field(s, key)? {
            Some(bit) => once(&mut seen, bit),
            None => Some(()),
        })
    }

    fn identity(&mut self, out: &mut Option<Identity<'a>>) -> Option<()> {
        self.nullable(out, |s, id| {
            s.fields(1, |s, key| match key {
                b"arn" => s.kept_str(&mut id.arn).map(|_| Some(0)),
                _ => s.skip_value(2).map(|_| None),
            })
        })
    }

    fn input(&mut self, out: &mut Option<InvInput<'a>>) -> Option<()> {
        self.nullable(out, |s, inp| {
            s.fields(1, |s, key| match key {
                b"inputTokenCount" => s.count(&mut inp.input_token_count).map(|_| Some(0)),
                b"cacheReadInputTokenCount" => s.count(&mut inp.cache_read_input_token_count).map(|_| Some(1)),
                b"cacheWriteInputTokenCount" => s.count(&mut inp.cache_write_input_token_count).map(|_| Some(2)),
                b"inputBodyJson" => s.input_body(&mut inp.input_body_json).map(|_| Some(3)),
                _ => s.skip_value(2).map(|_| None),
            })
        })
    }

    /// The request body: only an object is read here (serde would map an
    /// array onto the fields by position).
    fn input_body(&mut self, out: &mut Option<InputBody<'a>>) -> Option<()> {
        self.nullable(out, |s, body| {
            s.fields(2, |s, key| {
                let (slot, bit) = match key {
                    b"system" => (&mut body.system, 0),
                    b"toolConfig" => (&mut body.tool_config, 1),
                    b"tools" => (&mut body.tools, 2),
                    _ => return s.skip_value(3).map(|_| None),
                };
                *slot = s.raw_value(3)?;
                Some(Some(bit))
            })
        })
    }

    /// A value's raw text, as `RawValue` borrows it; `null` is absent.
    fn raw_value(&mut self, depth: u32) -> Option<Option<&'a str>> {
        if self.null()? {
            return Some(None);
        }
        let start = self.i;
        self.skip_value(depth)?;
        Some(Some(self.text.get(start..self.i)?))
    }

    fn output(&mut self, out: &mut Option<InvOutput>) -> Option<()> {
        self.nullable(out, |s, o| {
            s.fields(1, |s, key| match key {
                b"outputTokenCount" => s.count(&mut o.output_token_count).map(|_| Some(0)),
                b"outputBodyJson" => s.output_body(&mut o.output_body_json).map(|_| Some(1)),
                _ => s.skip_value(2).map(|_| None),
            })
        })
    }

    /// `outputBodyJson`: an object (usage and latency), or a stream-event
    /// array or a string (nothing kept), as the serde visitor reads it.
    fn output_body(&mut self, out: &mut Option<OutputBody>) -> Option<()> {
        match self.peek()? {
            b'n' => {
                self.literal(b"null")?;
                *out = None;
            }
            b'[' | b'"' => {
                self.skip_value(2)?;
                *out = Some(OutputBody::default());
            }
            b'{' => {
                // The serde visitor keeps the last `usage` / `metrics`.
                let mut body = OutputBody::default();
                self.object(2, |s, key| match key {
                    b"usage" => s.usage_block(&mut body.usage),
                    b"metrics" => s.metrics(&mut body.latency_ms),
                    _ => s.skip_value(3),
                })?;
                *out = Some(body);
            }
            _ => return None,
        }
        Some(())
    }

    /// `metrics.latencyMs`: absent when `metrics` is `null` or lacks it.
    fn metrics(&mut self, latency_ms: &mut Option<u64>) -> Option<()> {
        *latency_ms = None;
        if self.null()? {
            return Some(());
        }
        self.fields(3, |s, key| match key {
            b"latencyMs" => s.count(latency_ms).map(|_| Some(0)),
            _ => s.skip_value(4).map(|_| None),
        })
    }

    fn usage_block(&mut self, out: &mut Option<UsageBlock>) -> Option<()> {
        self.nullable(out, |s, u| {
            s.fields(3, |s, key| match key {
                b"inputTokens" => s.count(&mut u.input_tokens).map(|_| Some(0)),
                b"input_tokens" => s.count(&mut u.input_tokens_a).map(|_| Some(1)),
                b"outputTokens" => s.count(&mut u.output_tokens).map(|_| Some(2)),
                b"output_tokens" => s.count(&mut u.output_tokens_a).map(|_| Some(3)),
                b"cacheReadInputTokens" => s.count(&mut u.cache_read).map(|_| Some(4)),
                b"cacheReadInputTokenCount" => s.count(&mut u.cache_read_count).map(|_| Some(5)),
                b"cache_read_input_tokens" => s.count(&mut u.cache_read_a).map(|_| Some(6)),
                b"cacheWriteInputTokens" => s.count(&mut u.cache_write).map(|_| Some(7)),
                b"cacheWriteInputTokenCount" => s.count(&mut u.cache_write_count).map(|_| Some(8)),
                b"cache_creation_input_tokens" => s.count(&mut u.cache_write_a).map(|_| Some(9)),
                b"cacheDetails" => s.cache_details(&mut u.cache_details).map(|_| Some(10)),
                b"cache_creation" => s.cache_creation(&mut u.cache_creation).map(|_| Some(11)),
                _ => s.skip_value(4).map(|_| None),
            })
        })
    }

    fn cache_details(&mut self, out: &mut Option<Vec<CacheDetail>>) -> Option<()> {
        self.nullable(out, |s, details| {
            s.array(4, |s| {
                // Only objects: serde would read an array positionally.
                if s.peek()? != b'{' {
                    return None;
                }
                let mut d = CacheDetail::default();
                s.fields(5, |s, key| match key {
                    b"ttl" => {
                        let mut ttl = None;
                        s.kept_str(&mut ttl)?;
                        d.ttl = ttl.map(Cow::into_owned);
                        Some(Some(0))
                    }
                    b"inputTokens" => s.count(&mut d.input_tokens).map(|_| Some(1)),
                    _ => s.skip_value(6).map(|_| None),
                })?;
                details.push(d);
                Some(())
            })
        })
    }

    fn cache_creation(&mut self, out: &mut Option<AnthropicCacheCreation>) -> Option<()> {
        self.nullable(out, |s, c| {
            s.fields(4, |s, key| match key {
                b"ephemeral_1h_input_tokens" => s.count(&mut c.ephemeral_1h_input_tokens).map(|_| Some(0)),
                _ => s.skip_value(5).map(|_| None),
            })
        })
    }

    /// Skips one value, checking that it is well-formed JSON.
    fn skip_value(&mut self, depth: u32) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_str(),
            b'{' => self.object(depth, |s, _| s.skip_value(depth + 1)),
            b'[' => self.array(depth, |s| s.skip_value(depth + 1)),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.skip_number(),
            _ => None,
        }
    }

    /// Skips a string, checking its escapes and that it holds no raw
    /// control character.
    fn skip_str(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            let at = string_stop(self.b, self.i)?;
            match self.b[at] {
                b'"' => {
                    self.i = at + 1;
                    return Some(());
                }
                b'\\' => {}
                _ => return None,
            }
            match *self.b.get(at + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i = at + 2,
                b'u' => {
                    let hex = self.b.get(at + 2..at + 6)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return None;
                    }
                    self.i = at + 6;
                }
                _ => return None,
            }
        }
    }

    /// Skips a number in JSON's grammar: `-?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?`.
    fn skip_number(&mut self) -> Option<()> {
        let b = self.b;
        let digits = |i: usize| b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        let mut i = self.i;
        if b[i] == b'-' {
            i += 1;
        }
        let n = digits(i);
        if n == 0 || (n > 1 && b[i] == b'0') {
            return None;
        }
        i += n;
        if b.get(i) == Some(&b'.') {
            let n = digits(i + 1);
            if n == 0 {
                return None;
            }
            i += 1 + n;
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let n = digits(i);
            if n == 0 {
                return None;
            }
            i += n;
        }
        self.i = i;
        Some(())
    }
}

/// The stop bytes of `b[at..at + 16]` as a bit mask (bit k: byte at + k).
///
/// # Safety
/// `at + 16 <= b.len()`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn stops(b: &[u8], at: usize) -> u32 {
    use std::arch::x86_64::*;
    debug_assert!(at + 16 <= b.len());
    // SAFETY: SSE2 is in x86_64's baseline; the caller keeps the load in bounds.
    unsafe {
        let v = _mm_loadu_si128(b.as_ptr().add(at).cast());
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
        _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
    }
}

/// The first byte at or after `from` that stops a string scan: a quote, a
/// backslash, or a raw control character (which JSON forbids in strings).
///
/// 32 then 16 bytes at a time with SSE2 (x86_64's baseline), then eight at
/// a time (SWAR), then one by one. Most strings are short keys and ids: SSE2
/// made the record reader about 8% faster than SWAR alone, and 32-byte steps
/// about 3% more (best of 400 runs).
#[inline]
fn string_stop(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    #[cfg(target_arch = "x86_64")]
    {
        // 32 bytes per step: nearly every key and id ends within the first
        // step, so the loop's exit branch is predictable (with 16 it
        // mispredicted on every string of 16 to 31 bytes).
        while i + 32 <= b.len() {
            // SAFETY: i + 32 <= b.len().
            let mask = unsafe { stops(b, i) | (stops(b, i + 16) << 16) };
            if mask != 0 {
                return Some(i + mask.trailing_zeros() as usize);
            }
            i += 32;
        }
        while i + 16 <= b.len() {
            // SAFETY: i + 16 <= b.len().
            let mask = unsafe { stops(b, i) };
            if mask != 0 {
                return Some(i + mask.trailing_zeros() as usize);
            }
            i += 16;
        }
    }
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = b.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
        // Bytes below 0x20; ≥ 0x80 are excluded by `!w`. A borrow can only
        // flag a byte above one that truly matched, so the lowest flag is exact.
        let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
        let hit = zero(w ^ (ONES * b'"' as u64)) | zero(w ^ (ONES * b'\\' as u64)) | control;
        if hit != 0 {
            return Some(i + (hit.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b[i.min(b.len())..].iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20).map(|p| i + p)
}

#[cfg(test)]
mod tests {
    use std::io::BufRead;

    use super::super::parse::invocation_record_serde;
    use super::*;

    #[test]
    fn string_stop_finds_the_first_stop_byte_at_every_offset_and_length() {
        // Crosses the 32-, 16- and 8-byte blocks and the byte-by-byte tail.
        let naive = |b: &[u8], from: usize| b[from..].iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
        for len in 0..80 {
            for from in 0..=len.min(5) {
                let plain = vec![b'a'; len];
                assert_eq!(string_stop(&plain, from), None);
                for at in from..len {
                    for stop in [b'"', b'\\', 0x00, 0x1f] {
                        let mut b = plain.clone();
                        b[at] = stop;
                        // Bytes that must not stop a string, around the stop.
                        for (k, c) in [0x20u8, 0x7f, 0x80, 0xff].into_iter().enumerate() {
                            if k < at {
                                b[k] = c;
                            }
                        }
                        assert_eq!(string_stop(&b, from).map(|i| i - from), naive(&b, from), "len {len} at {at}");
                    }
                }
            }
        }
    }

    /// Every invocation-log record bfx ships a fixture of, and the real
    /// ones in the shared samples when they are beside the checkout.
    fn records() -> Vec<String> {
        let root = env!("CARGO_MANIFEST_DIR");
        let mut out = Vec::new();
        for e in walkdir::WalkDir::new(format!("{root}/fixtures/usage/s3")).sort_by_file_name() {
            let e = e.unwrap();
            if e.file_type().is_file() && !e.path().to_string_lossy().contains("/data/") {
                let gz = flate2::read::MultiGzDecoder::new(std::fs::File::open(e.path()).unwrap());
                out.extend(std::io::BufReader::new(gz).lines().map(Result::unwrap));
            }
        }
        for f in [
            "fixtures/usage/cloudwatch/modelinvocations.json",
            "fixtures/sample/incident/bedrock-usage/cloudwatch/modelinvocations.json",
        ] {
            let doc: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(format!("{root}/{f}")).unwrap()).unwrap();
            out.extend(doc["events"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap().to_string()));
        }
        let shared = format!("{root}/../shared/formats/bedrock_invocation_logs/elastic_fixture_records.ndjson");
        if let Ok(text) = std::fs::read_to_string(shared) {
            out.extend(text.lines().filter(|l| l.starts_with('{')).map(str::to_string));
        }
        out
    }

    /// The walk either declines or agrees with serde exactly; it never
    /// accepts a record serde refuses.
    fn agrees(text: &str) -> bool {
        match invocation_record(text) {
            None => false,
            Some(fast) => {
                let slow = invocation_record_serde(text)
                    .unwrap_or_else(|e| panic!("walk accepted what serde refuses ({e}): {text}"));
                assert_eq!(fast, slow, "{text}");
                true
            }
        }
    }

    #[test]
    fn every_fixture_record_takes_the_fast_path_and_agrees_with_serde() {
        let records = records();
        assert!(records.len() >= 380 + 40, "{}", records.len());
        for r in &records {
            assert!(agrees(r.trim()), "declined a fixture record: {r}");
        }
    }

    #[test]
    fn damaged_records_are_declined_or_read_as_serde_reads_them() {
        // One record of each shape: with and without bodies, streaming,
        // errors, 1-hour cache details.
        let records = records();
        let mut shapes: Vec<&String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for r in &records {
            let v: serde_json::Value = serde_json::from_str(r).unwrap();
            let keys = |o: &serde_json::Value| {
                o.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>().join(",")).unwrap_or_default()
            };
            let shape = format!(
                "{}|{}|{}|{}",
                keys(&v),
                keys(&v["input"]),
                keys(&v["output"]),
                keys(&v["output"]["outputBodyJson"]["usage"])
            );
            if seen.insert(shape) {
                shapes.push(r);
            }
        }
        assert!(shapes.len() >= 5, "{}", shapes.len());
        let mut declined = 0;
        for r in shapes {
            let b = r.as_bytes();
            for cut in 0..b.len() {
                if let Ok(t) = std::str::from_utf8(&b[..cut]) {
                    declined += usize::from(!agrees(t));
                }
            }
            for at in 0..b.len() {
                for with in [b'"', b'\\', b'}', b']', b',', b':', b'0', b'-', b'.', b'x', 0x01, b' ', b'{', b'['] {
                    let mut m = b.to_vec();
                    m[at] = with;
                    if let Ok(t) = std::str::from_utf8(&m) {
                        declined += usize::from(!agrees(t));
                    }
                }
            }
        }
        assert!(declined > 1000);
    }

    #[test]
    fn odd_but_valid_shapes_go_to_serde_or_agree() {
        for t in [
            r#"{"requestId":"a\"b","modelId":"m"}"#,
            r#"{"requestId":"a","requestId":"b"}"#,
            r#"{"input":{"inputTokenCount":1.0}}"#,
            r#"{"input":{"inputTokenCount":01}}"#,
            r#"{"input":{"inputTokenCount":-1}}"#,
            r#"{"input":{"inputTokenCount":18446744073709551616}}"#,
            r#"{"input":{"inputTokenCount":18446744073709551615}}"#,
            r#"{"identity":["arn"]}"#,
            r#"{"output":{"outputBodyJson":7}}"#,
            r#"{"output":{"outputBodyJson":"text"}}"#,
            r#"{"output":{"outputBodyJson":[{"a":1}]}}"#,
            r#"{"output":{"outputBodyJson":{"usage":null,"metrics":{"latencyMs":5},"metrics":{}}}}"#,
            r#"{"input":{"inputBodyJson":{"system":null,"tools":[1, 2 ],"toolConfig":{"x":"\u00e9"}}}}"#,
            r#"{"input":{"inputBodyJson":["s"]}}"#,
            r#" { "modelId" : "m" , "x" : [ true , false , null , -0.5e+3 , {} , [] ] } "#,
            r#"{"modelId":"m"} x"#,
            r#"{"modelId":"m",}"#,
            r#"{"x":"\q"}"#,
            r#"{"x":"\u12"}"#,
            r#"{"x":tru}"#,
            r#"{"x":1.}"#,
            r#"{"x":1e}"#,
        ] {
            let _ = agrees(t);
        }
        // Nesting at serde's limit, and one past it.
        for depth in [126, 127, 128] {
            let t = format!(r#"{{"x":{}{}}}"#, "[".repeat(depth), "]".repeat(depth));
            let _ = agrees(&t);
        }
    }
}
