//! Sources: turning command-line INPUTs into readable byte streams.
//!
//! An INPUT is a file, a folder (searched recursively, skipping hidden
//! entries), a glob, or `-` for stdin. Compression is sniffed from the first bytes, never from the file
//! name, and gzip is always read with a multi-member decoder because Firehose
//! and CloudWatch deliveries concatenate members.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;

use serde::Serialize;

use crate::error::SourceError;

/// The longest physical line bfx keeps; longer lines are counted and skipped.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Where one input's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    /// A local file.
    File(PathBuf),
    /// Standard input (`-`).
    Stdin,
    /// An S3 object (`s3://bucket/key`), with its listed size.
    S3 {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// Size in bytes, from the listing.
        size: u64,
    },
}

/// One input to analyze, after expansion of folders and globs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Input {
    /// How the input is named in reports and evidence (`path` or `-`).
    pub name: String,
    /// Where its bytes come from.
    pub origin: Origin,
}

/// The container compression detected from an input's magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// Plain bytes.
    None,
    /// gzip, possibly several members back to back.
    Gzip,
}

/// Expands INPUT arguments into inputs, sorted and de-duplicated so that
/// output never depends on directory iteration order. Arguments that name
/// nothing are returned as errors; the others are still analyzed.
pub fn expand_inputs(args: &[String]) -> (Vec<Input>, Vec<SourceError>) {
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    let mut stdin_seen = false;
    for arg in args {
        if arg == "-" {
            if !stdin_seen {
                stdin_seen = true;
                inputs.push(Input { name: "-".into(), origin: Origin::Stdin });
            }
            continue;
        }
        if arg.starts_with("s3://") {
            match crate::s3::list(arg) {
                Ok(objects) if objects.is_empty() => errors.push(SourceError::NotFound { input: arg.clone() }),
                Ok(objects) => inputs.extend(objects),
                Err(e) => errors.push(e),
            }
            continue;
        }
        let path = PathBuf::from(arg);
        if path.is_file() {
            inputs.push(file_input(path));
        } else if path.is_dir() {
            let mut found: Vec<PathBuf> = walkdir::WalkDir::new(&path)
                .follow_links(true)
                .into_iter()
                // Like ripgrep, skip hidden files and folders (.git, .venv, ...).
                .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
                .filter_map(|e| match e {
                    Ok(e) if e.file_type().is_file() => Some(e.into_path()),
                    Ok(_) => None,
                    Err(err) => {
                        errors.push(SourceError::Walk { input: arg.clone(), message: err.to_string() });
                        None
                    }
                })
                .collect();
            found.sort();
            inputs.extend(found.into_iter().map(file_input));
        } else if arg.contains(['*', '?', '[']) {
            match glob::glob(arg) {
                Ok(paths) => {
                    let mut found: Vec<PathBuf> = paths.filter_map(Result::ok).filter(|p| p.is_file()).collect();
                    if found.is_empty() {
                        errors.push(SourceError::NotFound { input: arg.clone() });
                    }
                    found.sort();
                    inputs.extend(found.into_iter().map(file_input));
                }
                Err(e) => errors.push(SourceError::BadGlob { input: arg.clone(), message: e.to_string() }),
            }
        } else {
            errors.push(SourceError::NotFound { input: arg.clone() });
        }
    }
    let mut seen = std::collections::HashSet::new();
    inputs.retain(|i| seen.insert(i.origin.clone()));
    (inputs, errors)
}

fn file_input(path: PathBuf) -> Input {
    Input { name: path.display().to_string(), origin: Origin::File(path) }
}

/// Reports raw (still compressed) bytes read, for a progress bar.
#[derive(Clone)]
pub struct ByteProgress(pub std::sync::Arc<dyn Fn(u64) + Send + Sync>);

impl std::fmt::Debug for ByteProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ByteProgress")
    }
}

/// Counts the bytes that pass through it.
struct Counting<R> {
    inner: R,
    progress: ByteProgress,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.progress.0)(n as u64);
        Ok(n)
    }
}

/// Opens an input as a buffered stream of decompressed bytes.
pub fn open(input: &Input) -> Result<(Box<dyn BufRead + Send>, Compression), SourceError> {
    open_with_progress(input, None)
}

/// [`open`], reporting raw bytes read to `progress`.
pub fn open_with_progress(
    input: &Input,
    progress: Option<&ByteProgress>,
) -> Result<(Box<dyn BufRead + Send>, Compression), SourceError> {
    let raw: Box<dyn Read + Send> = match &input.origin {
        Origin::File(p) => Box::new(
            File::open(p).map_err(|e| SourceError::Open { input: input.name.clone(), message: e.to_string() })?,
        ),
        Origin::Stdin => Box::new(io::stdin()),
        Origin::S3 { bucket, key, size } => crate::s3::open(bucket, key, *size)?,
    };
    decode(input, raw, progress)
}

/// [`open_with_progress`] for an input whose raw bytes are already open (an
/// S3 object fetched ahead by [`crate::s3::fetch_all`]).
pub fn decode(
    input: &Input,
    mut raw: Box<dyn Read + Send>,
    progress: Option<&ByteProgress>,
) -> Result<(Box<dyn BufRead + Send>, Compression), SourceError> {
    // A buffer the size of a small object: std zero-fills a reader's buffer
    // before its first read, and for thousands of few-KB objects 256 KiB
    // buffers each were a measurable part of the time. (Gunzip's output
    // buffer is reused per thread.)
    let known = match &input.origin {
        Origin::S3 { size, .. } => Some(*size),
        // Not for pipes and FIFOs (`<(zcat ...)`), whose length reads as 0.
        Origin::File(p) => std::fs::metadata(p).ok().filter(|m| m.is_file()).map(|m| m.len()),
        Origin::Stdin => None,
    };
    let cap = |bytes: Option<u64>| bytes.map_or(256 * 1024, |b| (b as usize).clamp(8 * 1024, 256 * 1024));
    if let Some(p) = progress {
        raw = Box::new(Counting { inner: raw, progress: p.clone() });
    }
    // Two bytes tell gzip, even from a pipe whose first write was one byte.
    let mut reader = with_head(Box::new(BufReader::with_capacity(cap(known), raw)), 2);
    let head =
        reader.fill_buf().map_err(|e| SourceError::Open { input: input.name.clone(), message: e.to_string() })?;
    // The decoded reader's first `fill_buf` holds its whole head, which is
    // what formats are sniffed from.
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok((with_head(Box::new(crate::gunzip::Gunzip::new(reader)), SNIFF_BYTES), Compression::Gzip))
    } else {
        Ok((with_head(reader, SNIFF_BYTES), Compression::None))
    }
}

/// How much of an input's decoded start its format is sniffed from: the
/// first `fill_buf` of a reader from [`decode`] holds at least this much
/// (or all of a shorter input).
pub const SNIFF_BYTES: usize = 256 * 1024;

/// Makes `reader`'s next `fill_buf` return its first `n` bytes (or all of a
/// shorter input), however its bytes arrive. A single `fill_buf`
/// returns whatever the source had ready: part of a pipe's first write, or
/// what a first network chunk of a gzip object inflates to; sniffing that
/// misread inputs whose first line had not yet arrived whole. A read error
/// inside the head is kept and returned after the bytes before it.
fn with_head(mut reader: Box<dyn BufRead + Send>, n: usize) -> Box<dyn BufRead + Send> {
    match reader.fill_buf() {
        // The common case costs nothing: the buffer already holds the head.
        Ok(b) if b.len() >= n || b.is_empty() => return reader,
        Err(_) => return reader,
        Ok(_) => {}
    }
    let mut head = Vec::new();
    let mut failed = None;
    while head.len() < n {
        match reader.fill_buf() {
            Ok([]) => break,
            Ok(b) => {
                let take = b.len().min(n - head.len());
                head.extend_from_slice(&b[..take]);
                reader.consume(take);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    match failed {
        None => Box::new(io::Cursor::new(head).chain(reader)),
        Some(e) => Box::new(io::Cursor::new(head).chain(BufReader::new(Failed(Some(e))))),
    }
}

/// A reader whose every read fails: first with the error it was given,
/// then with a copy of it.
struct Failed(Option<io::Error>);

impl Read for Failed {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(match self.0.take() {
            Some(e) => {
                self.0 = Some(io::Error::new(e.kind(), e.to_string()));
                e
            }
            None => io::Error::other("read failed"),
        })
    }
}

/// One physical line as [`LineReader`] returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineSpan {
    /// Byte range of the line inside the batch buffer, without its newline.
    pub start: usize,
    /// End of the kept bytes.
    pub end: usize,
    /// The line was longer than [`MAX_LINE_BYTES`]; only its head was kept.
    pub oversized: bool,
}

/// A batch of whole lines, read together so that they can be parsed in
/// parallel while memory stays bounded by the batch size.
#[derive(Debug, Default)]
pub struct LineBatch {
    /// The bytes of every line in the batch, each followed by the `\n` that
    /// ended it (not the last line of a stream without one); an oversized
    /// line keeps only its head.
    pub data: Vec<u8>,
    /// Where each line sits in `data`.
    pub lines: Vec<LineSpan>,
}

impl LineBatch {
    /// The bytes of line `i` of this batch.
    pub fn line(&self, i: usize) -> &[u8] {
        let s = self.lines[i];
        &self.data[s.start..s.end]
    }
}

/// Splits a byte stream into lines, keeping at most [`MAX_LINE_BYTES`] of any
/// one line so that a giant line cannot exhaust memory.
pub struct LineReader<R> {
    inner: R,
    eof: bool,
}

impl<R: BufRead> LineReader<R> {
    /// Wraps a buffered reader.
    pub fn new(inner: R) -> Self {
        LineReader { inner, eof: false }
    }

    /// Fills `batch` with whole lines until it holds about `target_bytes`.
    /// Returns `Ok(false)` once the stream is exhausted and the batch empty.
    ///
    /// Whole lines are copied from the reader's buffer in one block and split
    /// afterwards (one copy per buffer, not per line), and each line keeps
    /// its `\n` in [`LineBatch::data`], so a record spanning several lines
    /// can be borrowed as one slice.
    pub fn read_batch(&mut self, batch: &mut LineBatch, target_bytes: usize) -> io::Result<bool> {
        batch.data.clear();
        batch.lines.clear();
        // The line in progress across reader buffers: its start, and whether it was cut.
        let mut open: Option<(usize, bool)> = None;
        while !self.eof && (open.is_some() || batch.data.len() < target_bytes) {
            let buf = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Keep what was read before the failure: the caller
                    // reports the error after analyzing these lines.
                    if let Some((start, oversized)) = open {
                        push_line(batch, start, oversized);
                    }
                    self.eof = true;
                    return Err(e);
                }
            };
            if buf.is_empty() {
                self.eof = true;
                if let Some((start, oversized)) = open.take() {
                    push_line(batch, start, oversized);
                }
                break;
            }
            let mut pos = 0;
            if let Some((start, mut oversized)) = open.take() {
                match memchr::memchr(b'\n', buf) {
                    None => {
                        append_capped(batch, start, buf, &mut oversized);
                        let n = buf.len();
                        self.inner.consume(n);
                        open = Some((start, oversized));
                        continue;
                    }
                    Some(i) => {
                        append_capped(batch, start, &buf[..i], &mut oversized);
                        push_line(batch, start, oversized);
                        batch.data.push(b'\n');
                        pos = i + 1;
                    }
                }
            }
            let rest = &buf[pos..];
            // Whole lines, up to the one that reaches the target size.
            let room = target_bytes.saturating_sub(batch.data.len());
            let full =
                if rest.len() > room { memchr::memchr(b'\n', &rest[room..]).map(|i| room + i + 1) } else { None };
            let (whole, stop) = match full {
                Some(n) => (n, true),
                None => (memchr::memrchr(b'\n', rest).map_or(0, |i| i + 1), false),
            };
            split_lines(batch, &rest[..whole]);
            let mut used = pos + whole;
            if !stop && whole < rest.len() {
                let start = batch.data.len();
                let mut oversized = false;
                append_capped(batch, start, &rest[whole..], &mut oversized);
                open = Some((start, oversized));
                used = buf.len();
            }
            self.inner.consume(used);
        }
        Ok(!batch.lines.is_empty())
    }
}

impl<R: BufRead + Send> LineReader<R> {
    /// Reads the whole stream batch by batch (about `target_bytes` each),
    /// handing each batch to `process` in order, until the stream ends,
    /// `process` returns `false`, or a read fails. The lines read before a
    /// failure are processed before the error is returned, so nothing that
    /// was decompressed is lost.
    ///
    /// The next batch is read while `process` handles the current one, on
    /// another rayon worker when one is free (`rayon::join`), so gunzip and
    /// framing overlap parsing. With one thread the two run in turn, in the
    /// same order; results never depend on the overlap.
    pub fn for_each_batch(
        &mut self,
        target_bytes: usize,
        mut process: impl FnMut(&LineBatch) -> bool + Send,
    ) -> io::Result<()> {
        let mut current = LineBatch::default();
        let mut next = LineBatch::default();
        let mut read = self.read_batch(&mut current, target_bytes);
        loop {
            match read {
                Ok(false) => return Ok(()),
                Err(e) => {
                    if !current.lines.is_empty() {
                        process(&current);
                    }
                    return Err(e);
                }
                Ok(true) => {
                    let (r, go_on) = rayon::join(|| self.read_batch(&mut next, target_bytes), || process(&current));
                    if !go_on {
                        return Ok(());
                    }
                    read = r;
                    std::mem::swap(&mut current, &mut next);
                }
            }
        }
    }
}

/// Appends part of the line that starts at `start`, keeping at most
/// [`MAX_LINE_BYTES`] of it.
fn append_capped(batch: &mut LineBatch, start: usize, bytes: &[u8], oversized: &mut bool) {
    let room = MAX_LINE_BYTES.saturating_sub(batch.data.len() - start);
    if bytes.len() > room {
        *oversized = true;
    }
    batch.data.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

/// Appends `block`, whole lines each ending in `\n`, and records them.
fn split_lines(batch: &mut LineBatch, block: &[u8]) {
    let mut s = batch.data.len();
    batch.data.extend_from_slice(block);
    while s < batch.data.len() {
        let Some(i) = memchr::memchr(b'\n', &batch.data[s..]) else { break };
        let mut nl = s + i;
        let mut oversized = false;
        if nl - s > MAX_LINE_BYTES {
            // Only a reader whose buffer exceeds the cap gets here.
            batch.data.drain(s + MAX_LINE_BYTES..nl);
            nl = s + MAX_LINE_BYTES;
            oversized = true;
        }
        let end = if nl > s && batch.data[nl - 1] == b'\r' { nl - 1 } else { nl };
        batch.lines.push(LineSpan { start: s, end, oversized });
        s = nl + 1;
    }
}

fn push_line(batch: &mut LineBatch, start: usize, oversized: bool) {
    let mut end = batch.data.len();
    if end > start && batch.data[end - 1] == b'\r' {
        end -= 1;
    }
    batch.lines.push(LineSpan { start, end, oversized });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Its pieces, one per read; then the end, or an error if `.1`.
    struct Pieces(Vec<&'static [u8]>, bool);

    impl Read for Pieces {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return if self.1 { Err(io::Error::other("connection reset")) } else { Ok(0) };
            }
            let p = self.0.remove(0);
            buf[..p.len()].copy_from_slice(p);
            Ok(p.len())
        }
    }

    #[test]
    fn with_head_gathers_the_head_across_reads_and_keeps_an_error_for_after_it() {
        let pieces = || vec![&b"abcd"[..], b"efgh", b"ijkl"];
        let mut r = with_head(Box::new(BufReader::new(Pieces(pieces(), false))), 10);
        assert_eq!(r.fill_buf().unwrap(), b"abcdefghij");
        let mut all = String::new();
        r.read_to_string(&mut all).unwrap();
        assert_eq!(all, "abcdefghijkl");
        // Shorter than the head: all of it, then the error.
        let mut r = with_head(Box::new(BufReader::new(Pieces(pieces(), true))), 100);
        assert_eq!(r.fill_buf().unwrap(), b"abcdefghijkl");
        r.consume(12);
        assert_eq!(r.fill_buf().unwrap_err().to_string(), "connection reset");
        assert_eq!(r.fill_buf().unwrap_err().to_string(), "connection reset");
    }

    #[test]
    fn giant_line_is_cut_and_flagged_but_following_lines_survive() {
        let mut text = vec![b'x'; MAX_LINE_BYTES + 10];
        text.extend_from_slice(b"\nnext\n");
        let mut r = LineReader::new(&text[..]);
        let mut b = LineBatch::default();
        assert!(r.read_batch(&mut b, 1 << 30).unwrap());
        assert_eq!(b.lines.len(), 2);
        assert!(b.lines[0].oversized);
        assert_eq!(b.line(0).len(), MAX_LINE_BYTES);
        assert_eq!(b.line(1), b"next");
    }

    #[test]
    fn lines_are_the_same_whatever_the_reader_buffer_and_batch_sizes() {
        let mut text = Vec::new();
        for i in 0..300 {
            text.extend_from_slice(format!("line {i} {}\r\n\n", "y".repeat(i % 37)).as_bytes());
        }
        text.extend_from_slice(b"tail without newline");
        let want: Vec<&[u8]> = text.split(|&c| c == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l)).collect();
        for cap in [1, 2, 7, 64, 4096] {
            for target in [1, 5, 100, 1 << 20] {
                let mut r = LineReader::new(BufReader::with_capacity(cap, &text[..]));
                let mut b = LineBatch::default();
                let mut got: Vec<Vec<u8>> = Vec::new();
                while r.read_batch(&mut b, target).unwrap() {
                    for i in 0..b.lines.len() {
                        got.push(b.line(i).to_vec());
                        // Adjacent lines are separated by exactly their newline.
                        if i + 1 < b.lines.len() {
                            assert_eq!(b.data[b.lines[i].end..b.lines[i + 1].start].last(), Some(&b'\n'));
                        }
                    }
                }
                assert_eq!(got, want, "reader buffer {cap}, batch {target}");
            }
        }
    }

    #[test]
    fn last_line_without_newline_and_crlf() {
        let mut r = LineReader::new(&b"a\r\nb"[..]);
        let mut b = LineBatch::default();
        r.read_batch(&mut b, 1 << 20).unwrap();
        assert_eq!(b.line(0), b"a");
        assert_eq!(b.line(1), b"b");
    }
}
