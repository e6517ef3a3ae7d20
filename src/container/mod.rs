//! CloudWatch Logs containers: the shapes in which log events leave
//! CloudWatch, sniffed from content (never from the file name). Each yields
//! [`CwEvent`]s carrying the log group, the log stream and the event time in
//! UTC ms; what the message holds is decided later, in [`crate::payload`].

use std::borrow::Cow;
use std::io::{BufRead, Read};

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::source::{LineBatch, LineReader};

/// A container shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ContainerKind {
    /// CreateExportTask objects: `<ISO8601 UTC> <message>` lines.
    ExportTask,
    /// `aws logs filter-log-events` / `get-log-events` JSON, pages possibly concatenated.
    CliEvents,
    /// Subscription-filter payloads (`DATA_MESSAGE`/`CONTROL_MESSAGE`), back to
    /// back, as Firehose writes them (after gzip members are joined).
    Subscription,
    /// The Lambda event wrapper `{"awslogs":{"data":"<base64 gzip>"}}`.
    LambdaWrapper,
    /// Logs Insights results saved as CSV.
    InsightsCsv,
    /// Logs Insights results saved as JSON (an array of rows, or `GetQueryResults`).
    InsightsJson,
    /// One JSON document per line, no CloudWatch envelope (e.g. invocation-log objects).
    JsonLines,
}

/// One log event out of a container. Export-task events borrow their bytes
/// from the read batch; JSON shapes own theirs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CwEvent<'a> {
    /// Log group, where the container names it.
    pub group: Option<String>,
    /// Log stream (for export tasks: the folder name; for CLI output without
    /// names: the file name).
    pub stream: Cow<'a, str>,
    /// Event time, UTC ms.
    pub ts_ms: i64,
    /// CloudWatch event id, where the container has one.
    pub id: Option<String>,
    /// The raw message. Held only while it is classified; never reported.
    pub message: Cow<'a, str>,
    /// Where it starts: the line (line-oriented shapes) or the 1-based event
    /// ordinal in the file (JSON shapes).
    pub line: u64,
}

/// Counts from reading one container.
#[derive(Debug, Clone, Default)]
pub struct ContainerStats {
    /// `CONTROL_MESSAGE` payloads (destination checks), ignored.
    pub control_messages: u64,
    /// Lines before the first event of an export (not part of any event).
    pub stray_lines: u64,
}

/// Sniffs the container shape from the first decompressed bytes.
pub fn sniff(head: &[u8]) -> Option<ContainerKind> {
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let trimmed = head.trim_ascii_start();
    let first_line = trimmed.split(|&b| b == b'\n').next().unwrap_or(b"");
    if is_export_line(first_line) {
        return Some(ContainerKind::ExportTask);
    }
    let has = |k: &[u8]| memchr::memmem::find(head, k).is_some();
    match trimmed.first() {
        Some(b'{') => {
            if has(b"\"awslogs\"") {
                Some(ContainerKind::LambdaWrapper)
            } else if has(b"\"messageType\"") && has(b"\"logEvents\"") {
                Some(ContainerKind::Subscription)
            } else if has(b"\"events\"") && has(b"\"timestamp\"") {
                Some(ContainerKind::CliEvents)
            } else if has(b"\"results\"") && has(b"\"@message\"") {
                Some(ContainerKind::InsightsJson)
            } else if first_line.trim_ascii_end().ends_with(b"}") {
                Some(ContainerKind::JsonLines)
            } else {
                None
            }
        }
        Some(b'[') if has(b"\"@message\"") => Some(ContainerKind::InsightsJson),
        _ if first_line.starts_with(b"@") || memchr::memmem::find(first_line, b",@message").is_some() => {
            memchr::memmem::find(first_line, b"@message").map(|_| ContainerKind::InsightsCsv)
        }
        _ => None,
    }
}

/// `2025-04-10T12:34:56.789Z ` (24 bytes and a space).
fn is_export_line(line: &[u8]) -> bool {
    line.len() > 24 && line[24] == b' ' && export_ts(&line[..24]).is_some()
}

fn export_ts(b: &[u8]) -> Option<i64> {
    if b.len() != 24 || b[10] != b'T' || b[23] != b'Z' || b[19] != b'.' {
        return None;
    }
    let mut tmp = [0u8; 23];
    tmp.copy_from_slice(&b[..23]);
    tmp[10] = b' ';
    crate::format::prefix::parse_asctime(&tmp)
}

/// Parses `2025-08-22 09:41:06.000` (Logs Insights) or ISO 8601 with `T`/`Z`, as UTC.
pub fn parse_utc(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    if b.len() < 19 {
        return None;
    }
    let mut tmp = [b'0'; 23];
    tmp[..19].copy_from_slice(&b[..19]);
    tmp[10] = b' ';
    tmp[19] = b'.';
    if b.len() >= 23 && matches!(b[19], b'.' | b',') {
        tmp[20..23].copy_from_slice(&b[20..23]);
    }
    crate::format::prefix::parse_asctime(&tmp)
}

/// Events handed over per batch: routing them is the costly part, and a
/// batch can be classified in parallel.
const EVENT_BATCH: usize = 16_384;

/// Bytes of export lines read per batch.
const EXPORT_BATCH_BYTES: usize = 4 << 20;

/// Reads every event of a container, in file order, handing them to
/// `on_batch` a batch at a time. Events read before an error are delivered
/// before the error is returned.
pub fn read_events(
    kind: ContainerKind,
    reader: Box<dyn BufRead + Send + '_>,
    stream_hint: &str,
    on_batch: &mut (dyn FnMut(&[CwEvent<'_>]) + Send),
) -> Result<ContainerStats, String> {
    let mut stats = ContainerStats::default();
    if kind == ContainerKind::ExportTask {
        return read_export(reader, stream_hint, &mut stats, EXPORT_BATCH_BYTES, on_batch).map(|()| stats);
    }
    if kind == ContainerKind::JsonLines {
        return read_json_lines(reader, stream_hint, on_batch).map(|()| stats);
    }
    let mut buf: Vec<CwEvent<'static>> = Vec::with_capacity(EVENT_BATCH);
    let result = read_owned(kind, reader, stream_hint, &mut stats, &mut |e| {
        buf.push(e);
        if buf.len() >= EVENT_BATCH {
            on_batch(&buf);
            buf.clear();
        }
    });
    if !buf.is_empty() {
        on_batch(&buf);
    }
    result.map(|()| stats)
}

/// JSON lines: events borrow their bytes from the read batch (valid UTF-8,
/// the common case), so a line is never copied before it is classified.
fn read_json_lines(
    reader: Box<dyn BufRead + Send + '_>,
    stream_hint: &str,
    on_batch: &mut (dyn FnMut(&[CwEvent<'_>]) + Send),
) -> Result<(), String> {
    let mut lines = LineReader::new(reader);
    let mut n = 0u64;
    // One allocation for every batch's events (a fresh one per batch showed
    // in profiles: malloc's slow path and first-touch page faults).
    let mut spare: Vec<CwEvent<'static>> = Vec::new();
    let read = lines.for_each_batch(EXPORT_BATCH_BYTES, |batch| {
        let mut events = recycle(std::mem::take(&mut spare));
        events.reserve(batch.lines.len());
        // One validation of the whole batch is much cheaper than one per line.
        let text = std::str::from_utf8(&batch.data).ok();
        for i in 0..batch.lines.len() {
            n += 1;
            let line = batch.line(i);
            if line.trim_ascii().is_empty() {
                continue;
            }
            let span = batch.lines[i];
            let message = batch_str(batch, text, span.start, span.end);
            events.push(CwEvent {
                group: None,
                stream: Cow::Borrowed(stream_hint),
                ts_ms: 0,
                id: None,
                message,
                line: n,
            });
        }
        on_batch(&events);
        spare = recycle(events);
        true
    });
    read.map_err(|e| format!("read failed after line {n}: {e}"))
}

/// Empties `events` and gives its allocation back with another lifetime.
/// (Collecting a vector's own `IntoIter` into elements of the same size
/// reuses the allocation; no element is left to map.)
fn recycle<'b>(mut events: Vec<CwEvent<'_>>) -> Vec<CwEvent<'b>> {
    events.clear();
    events.into_iter().map(|_| unreachable!("the vector was emptied")).collect()
}

/// The JSON and CSV shapes, whose parsers hand over owned events one by one.
fn read_owned(
    kind: ContainerKind,
    reader: Box<dyn BufRead + Send + '_>,
    stream_hint: &str,
    stats: &mut ContainerStats,
    f: &mut dyn FnMut(CwEvent<'static>),
) -> Result<(), String> {
    match kind {
        ContainerKind::ExportTask => unreachable!("export tasks are read in batches by read_export"),
        ContainerKind::CliEvents => {
            let mut n = 0u64;
            let mut de = serde_json::Deserializer::from_reader(reader);
            // `end` succeeds only when nothing but whitespace is left.
            while de.end().is_err() {
                // Events are handed over one by one as they are parsed, so a
                // page cut short still yields the events before the cut.
                let seed = CliPageSeed { n: &mut n, stream_hint, f: &mut *f };
                serde::de::DeserializeSeed::deserialize(seed, &mut de)
                    .map_err(|e| format!("JSON page after event {n}: {e}"))?;
            }
        }
        ContainerKind::Subscription => {
            let mut n = 0u64;
            read_subscription(reader, &mut n, stats, f)?;
        }
        ContainerKind::LambdaWrapper => {
            let mut n = 0u64;
            for w in serde_json::Deserializer::from_reader(reader).into_iter::<LambdaWrapper>() {
                let w = w.map_err(|e| format!("Lambda event after event {n}: {e}"))?;
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(w.awslogs.data.trim())
                    .map_err(|e| format!("awslogs.data is not base64: {e}"))?;
                let gz = crate::gunzip::Gunzip::new(&raw[..]);
                read_subscription(Box::new(gz), &mut n, stats, f)?;
            }
        }
        ContainerKind::InsightsCsv => {
            let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
            let headers = rdr.headers().map_err(|e| format!("CSV header: {e}"))?.clone();
            let col = |name: &str| headers.iter().position(|h| h == name);
            let (ts, msg, stream, group) = (col("@timestamp"), col("@message"), col("@logStream"), col("@log"));
            let msg = msg.ok_or("CSV has no @message column")?;
            for (i, rec) in rdr.records().enumerate() {
                let rec = rec.map_err(|e| format!("CSV record {}: {e}", i + 1))?;
                let get = |c: Option<usize>| c.and_then(|c| rec.get(c)).map(str::to_string);
                f(CwEvent {
                    group: get(group),
                    stream: Cow::Owned(get(stream).unwrap_or_else(|| stream_hint.to_string())),
                    ts_ms: get(ts).and_then(|t| parse_utc(&t)).unwrap_or(0),
                    id: None,
                    message: Cow::Owned(rec.get(msg).unwrap_or("").to_string()),
                    // line 1 is the header
                    line: i as u64 + 2,
                });
            }
        }
        ContainerKind::InsightsJson => {
            let doc: InsightsDoc = serde_json::from_reader(reader).map_err(|e| format!("Insights JSON: {e}"))?;
            let rows: Vec<std::collections::BTreeMap<String, serde_json::Value>> = match doc {
                InsightsDoc::Rows(r) => r,
                InsightsDoc::Query { results } => results
                    .into_iter()
                    .map(|row| row.into_iter().map(|c| (c.field, serde_json::Value::String(c.value))).collect())
                    .collect(),
            };
            for (i, row) in rows.into_iter().enumerate() {
                let s = |k: &str| row.get(k).and_then(|v| v.as_str()).map(str::to_string);
                f(CwEvent {
                    group: s("@log"),
                    stream: Cow::Owned(s("@logStream").unwrap_or_else(|| stream_hint.to_string())),
                    ts_ms: s("@timestamp").and_then(|t| parse_utc(&t)).unwrap_or(0),
                    id: None,
                    message: Cow::Owned(s("@message").unwrap_or_default()),
                    line: i as u64 + 1,
                });
            }
        }
        ContainerKind::JsonLines => unreachable!("JSON lines are read in batches by read_json_lines"),
    }
    Ok(())
}

fn read_subscription(
    reader: Box<dyn BufRead + Send + '_>,
    n: &mut u64,
    stats: &mut ContainerStats,
    f: &mut dyn FnMut(CwEvent<'static>),
) -> Result<(), String> {
    for msg in serde_json::Deserializer::from_reader(reader).into_iter::<SubscriptionMessage>() {
        let msg = msg.map_err(|e| format!("subscription payload after event {n}: {e}"))?;
        if msg.message_type != "DATA_MESSAGE" {
            stats.control_messages += 1;
            continue;
        }
        for e in msg.log_events {
            *n += 1;
            f(CwEvent {
                group: msg.log_group.clone(),
                stream: Cow::Owned(msg.log_stream.clone().unwrap_or_default()),
                ts_ms: e.timestamp,
                id: e.id,
                message: Cow::Owned(e.message),
                line: *n,
            });
        }
    }
    Ok(())
}

fn export_event<'a>(
    batch: &'a LineBatch,
    text: Option<&'a str>,
    stream: &'a str,
    (first, last, line, ts_ms): (usize, usize, u64, i64),
) -> CwEvent<'a> {
    // Lines with only their `\n` between them (no CR) are one slice of the
    // batch, a cut line's kept head included: a single line always is.
    let contiguous = (first..last).all(|i| batch.lines[i + 1].start == batch.lines[i].end + 1);
    let message = if contiguous {
        batch_str(batch, text, batch.lines[first].start + 25, batch.lines[last].end)
    } else {
        let mut m = utf8(&batch.line(first)[25..]);
        for i in first + 1..=last {
            m.push('\n');
            m.push_str(&String::from_utf8_lossy(batch.line(i)));
        }
        Cow::Owned(m)
    };
    CwEvent { group: None, stream: Cow::Borrowed(stream), ts_ms, id: None, message, line }
}

fn into_owned(e: CwEvent<'_>) -> CwEvent<'static> {
    CwEvent {
        group: e.group,
        stream: Cow::Owned(e.stream.into_owned()),
        ts_ms: e.ts_ms,
        id: e.id,
        message: Cow::Owned(e.message.into_owned()),
        line: e.line,
    }
}

/// Reads a CreateExportTask object batch by batch: `on_batch` gets the
/// events whose lines are all in the batch, borrowing them; an event that may
/// continue into the next batch is carried over (owned) and delivered first
/// next time.
fn read_export(
    reader: Box<dyn BufRead + Send + '_>,
    stream: &str,
    stats: &mut ContainerStats,
    batch_bytes: usize,
    on_batch: &mut (dyn FnMut(&[CwEvent<'_>]) + Send),
) -> Result<(), String> {
    let mut lines = LineReader::new(reader);
    let mut n = 0u64;
    let mut carry: Option<CwEvent<'static>> = None;
    let read = lines.for_each_batch(batch_bytes, |batch| {
        let mut evs: Vec<CwEvent<'_>> = Vec::with_capacity(batch.lines.len());
        let mut cur: Option<(usize, usize, u64, i64)> = None;
        // One validation of the whole batch is much cheaper than one per line.
        let text = std::str::from_utf8(&batch.data).ok();
        for i in 0..batch.lines.len() {
            n += 1;
            let line = batch.line(i);
            if is_export_line(line) {
                if let Some(c) = carry.take() {
                    evs.push(c);
                }
                if let Some((a, b, ln, ts)) = cur.take() {
                    evs.push(export_event(batch, text, stream, (a, b, ln, ts)));
                }
                cur = Some((i, i, n, export_ts(&line[..24]).unwrap_or(0)));
            } else if let Some(c) = cur.as_mut() {
                // A message with newlines continues until the next timestamped line.
                c.1 = i;
            } else if let Some(c) = carry.as_mut() {
                let m = c.message.to_mut();
                m.push('\n');
                m.push_str(&String::from_utf8_lossy(line));
            } else {
                stats.stray_lines += 1;
            }
        }
        if let Some((a, b, ln, ts)) = cur.take() {
            carry = Some(into_owned(export_event(batch, text, stream, (a, b, ln, ts))));
        }
        on_batch(&evs);
        true
    });
    if let Some(c) = carry.take() {
        on_batch(&[c]);
    }
    read.map_err(|e| format!("read failed after line {n}: {e}"))
}

/// `batch.data[from..to]` as text: borrowed from the batch's text when the
/// whole batch was valid UTF-8 (validated once), else validated alone, else
/// with invalid bytes replaced.
fn batch_str<'a>(batch: &'a LineBatch, text: Option<&'a str>, from: usize, to: usize) -> Cow<'a, str> {
    if let Some(s) = text.and_then(|t| t.get(from..to)) {
        return Cow::Borrowed(s);
    }
    let bytes = &batch.data[from..to];
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(String::from_utf8_lossy(bytes).into_owned()),
    }
}

/// Bytes to a String; the validating fast path first, lossy only if needed.
fn utf8(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(b).into_owned(),
    }
}

/// The log stream an export-task object belongs to: its folder, when the
/// object has the `<taskId>/<logStream>/000000.gz` layout.
pub fn export_stream_name(path: &str) -> String {
    let p = std::path::Path::new(path);
    let file = p.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = file.strip_suffix(".gz").unwrap_or(&file);
    if stem.len() == 6
        && stem.bytes().all(|b| b.is_ascii_digit())
        && let Some(dir) = p.parent().and_then(|d| d.file_name())
    {
        return dir.to_string_lossy().into_owned();
    }
    file
}

struct CliPageSeed<'a, 'f> {
    n: &'a mut u64,
    stream_hint: &'a str,
    f: &'a mut (dyn FnMut(CwEvent<'static>) + 'f),
}

impl<'de> serde::de::DeserializeSeed<'de> for CliPageSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for CliPageSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a filter-log-events or get-log-events page")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "events" {
                map.next_value_seed(EventsSeed { n: &mut *self.n, stream_hint: self.stream_hint, f: &mut *self.f })?;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct EventsSeed<'a, 'f> {
    n: &'a mut u64,
    stream_hint: &'a str,
    f: &'a mut (dyn FnMut(CwEvent<'static>) + 'f),
}

impl<'de> serde::de::DeserializeSeed<'de> for EventsSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for EventsSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an events array")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(e) = seq.next_element::<CliEvent>()? {
            *self.n += 1;
            (self.f)(CwEvent {
                group: None,
                stream: Cow::Owned(e.log_stream_name.unwrap_or_else(|| self.stream_hint.to_string())),
                ts_ms: e.timestamp,
                id: e.event_id,
                message: Cow::Owned(e.message),
                line: *self.n,
            });
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CliEvent {
    timestamp: i64,
    #[serde(default)]
    message: String,
    log_stream_name: Option<String>,
    event_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscriptionMessage {
    message_type: String,
    log_group: Option<String>,
    log_stream: Option<String>,
    #[serde(default)]
    log_events: Vec<SubscriptionEvent>,
}

#[derive(Deserialize)]
struct SubscriptionEvent {
    id: Option<String>,
    timestamp: i64,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct LambdaWrapper {
    awslogs: AwsLogs,
}

#[derive(Deserialize)]
struct AwsLogs {
    data: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum InsightsDoc {
    Rows(Vec<std::collections::BTreeMap<String, serde_json::Value>>),
    Query { results: Vec<Vec<InsightsCell>> },
}

#[derive(Deserialize)]
struct InsightsCell {
    field: String,
    value: String,
}

/// Reads a whole small byte slice as a container (used in tests).
pub fn events_of(kind: ContainerKind, bytes: &[u8], stream_hint: &str) -> Result<Vec<CwEvent<'static>>, String> {
    let mut out = Vec::new();
    let reader: Box<dyn BufRead + Send> = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut d = Vec::new();
        crate::gunzip::Gunzip::new(bytes).read_to_end(&mut d).map_err(|e| e.to_string())?;
        Box::new(std::io::Cursor::new(d))
    } else {
        Box::new(std::io::Cursor::new(bytes.to_vec()))
    };
    read_events(kind, reader, stream_hint, &mut |evs| out.extend(evs.iter().cloned().map(into_owned)))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recycled_event_vectors_keep_their_allocation() {
        let text = String::from("a line");
        let mut v = Vec::with_capacity(100);
        v.push(CwEvent {
            group: None,
            stream: Cow::Borrowed("s"),
            ts_ms: 0,
            id: None,
            message: Cow::Borrowed(&text),
            line: 1,
        });
        let ptr = v.as_ptr() as usize;
        let r: Vec<CwEvent<'static>> = recycle(v);
        assert_eq!((r.len(), r.capacity() >= 100, r.as_ptr() as usize), (0, true, ptr));
    }

    #[test]
    fn sniffs_each_shape_from_content() {
        assert_eq!(sniff(b"2025-04-10T12:34:56.789Z {\"a\":1}\n"), Some(ContainerKind::ExportTask));
        assert_eq!(sniff(b"{\n  \"events\": [ {\"timestamp\": 1"), Some(ContainerKind::CliEvents));
        assert_eq!(sniff(br#"{"messageType":"DATA_MESSAGE","logEvents":[]}"#), Some(ContainerKind::Subscription));
        assert_eq!(sniff(br#"{"awslogs":{"data":"H4sI"}}"#), Some(ContainerKind::LambdaWrapper));
        assert_eq!(sniff(b"@timestamp,@message,@logStream\n"), Some(ContainerKind::InsightsCsv));
        assert_eq!(sniff(br#"[{"@timestamp":"x","@message":"y"}]"#), Some(ContainerKind::InsightsJson));
        assert_eq!(sniff(b"{\"schemaType\":\"ModelInvocationLog\"}\n"), Some(ContainerKind::JsonLines));
        assert_eq!(sniff(b"2026-11-21 21:00:21,465 botocore.endpoint [DEBUG] x"), None);
    }

    #[test]
    fn real_lambda_wrapper_sample_decodes() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/formats/cloudwatch_logs/subscription_payload_lambda_event_wrapper.json"
        );
        let Ok(bytes) = std::fs::read(path) else { return };
        assert_eq!(sniff(&bytes), Some(ContainerKind::LambdaWrapper));
        let ev = events_of(ContainerKind::LambdaWrapper, &bytes, "x").unwrap();
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].group.as_deref(), Some("testLogGroup"));
        assert_eq!(ev[0].stream, "testLogStream");
        assert_eq!(ev[1].ts_ms, 1440442987001);
        assert_eq!(ev[1].id.as_deref(), Some("eventId2"));
    }

    #[test]
    fn export_events_spanning_batch_boundaries_are_whole_and_in_order() {
        let text = "stray\n2025-04-10T12:34:56.789Z one\n2025-04-10T12:34:56.790Z two\nmore\nand more\n\
                    2025-04-10T12:34:56.791Z three\n";
        for batch_bytes in [1, 7, 30, 64, 1 << 20] {
            let mut got = Vec::new();
            let mut stats = ContainerStats::default();
            read_export(Box::new(text.as_bytes()), "s", &mut stats, batch_bytes, &mut |evs| {
                got.extend(evs.iter().map(|e| (e.line, e.message.to_string())));
            })
            .unwrap();
            let want = vec![(2, "one".to_string()), (3, "two\nmore\nand more".to_string()), (6, "three".to_string())];
            assert_eq!(got, want, "batch of {batch_bytes} bytes");
            assert_eq!(stats.stray_lines, 1);
        }
    }

    #[test]
    fn export_multiline_messages_with_crlf_or_invalid_utf8_are_still_whole() {
        let mut text = b"2025-04-10T12:34:56.789Z a\r\nb\r\n2025-04-10T12:34:56.790Z c\nd\n".to_vec();
        let ev = events_of(ContainerKind::ExportTask, &text, "s").unwrap();
        assert_eq!(ev.iter().map(|e| e.message.as_ref()).collect::<Vec<_>>(), ["a\nb", "c\nd"]);
        // An invalid byte anywhere in the batch: every event falls back to its own lines.
        text.extend_from_slice(b"2025-04-10T12:34:56.791Z e\xff\nf\n");
        let ev = events_of(ContainerKind::ExportTask, &text, "s").unwrap();
        assert_eq!(ev.iter().map(|e| e.message.as_ref()).collect::<Vec<_>>(), ["a\nb", "c\nd", "e\u{fffd}\nf"]);
    }

    #[test]
    fn export_task_multiline_message_and_stream_from_layout() {
        let text = b"2025-04-10T12:34:56.789Z first\ncontinued\n2025-04-10T12:34:55.000Z second\n";
        let ev = events_of(ContainerKind::ExportTask, text, "s").unwrap();
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].message, "first\ncontinued");
        assert_eq!(ev[1].line, 3);
        assert!(ev[1].ts_ms < ev[0].ts_ms, "chunks are not sorted; order is fixed later");
        assert_eq!(export_stream_name("exp/1234/i-0377be99224f/000001.gz"), "i-0377be99224f");
    }
}
