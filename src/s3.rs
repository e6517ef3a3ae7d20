//! `s3://bucket/prefix` inputs, read in place with aws-sdk-s3: listed with
//! ListObjectsV2 (paginated), then each object streamed from GetObject into
//! the same decompression and parsing as a local file. Read-only: bfx only
//! lists and gets.
//!
//! All S3 I/O runs on one thread of its own, on a single-threaded tokio
//! runtime: [`fetch_all`] keeps up to `--s3-concurrency` GETs in flight
//! there and hands each object to the caller (the rayon pipeline) as soon as
//! it can be read. An object of up to [`PREFETCH_MAX_BYTES`] comes whole;
//! a larger one streams through a bounded channel, so it is never held whole
//! in memory. GETs in flight cost no thread each, and one thread is the
//! cheapest way to run them: with the SDK alone on two cores, 3,000 GETs
//! over loopback took 113-140 us of CPU each on one thread, 183-230 us from
//! 16 threads blocking on a runtime, and 207-287 us on a two-worker
//! runtime (thread wake-ups and work stealing, not HTTP). The SDK's
//! standard retry mode retries throttling, 5xx and dropped connections
//! before a body starts; a connection that drops mid-body is resumed from
//! the byte where it broke off ([`ResumingBody`]), so nothing is ever parsed
//! twice. An object that still cannot be read is reported, and the run is
//! partial.

use std::io::{self, Read};
use std::sync::{Arc, LazyLock, OnceLock};

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use crate::error::SourceError;
use crate::source::{Input, Origin};

/// How to reach S3.
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// AWS profile (`--profile`); else the standard chain.
    pub profile: Option<String>,
    /// Endpoint override (`--endpoint-url`); `AWS_ENDPOINT_URL_S3` /
    /// `AWS_ENDPOINT_URL` are honoured by the SDK as well.
    pub endpoint_url: Option<String>,
    /// Path-style addressing (automatic for IP and localhost endpoints).
    pub path_style: bool,
    /// Keys whose date partition (`yyyy/mm/dd[/HH]`) ends before this (UTC
    /// ms) are skipped before any GET.
    pub since_ms: Option<i64>,
    /// Keys whose date partition starts after this are skipped.
    pub until_ms: Option<i64>,
    /// Only keys matching this glob (matched against the key).
    pub key_glob: Option<String>,
    /// GETs in flight at once (`--s3-concurrency`); 0 means the default, 64.
    pub concurrency: usize,
}

/// GETs in flight at once. Small objects are bound by the time to first
/// byte: against a loopback server that waits 20 ms before each answer, 16
/// in flight read 640-690 few-KB objects a second and 64 read 2,290-2,490.
pub fn concurrency() -> usize {
    match options().concurrency {
        0 => 64,
        n => n,
    }
}

/// Objects over [`PREFETCH_MAX_BYTES`] being streamed at once, at most: each
/// has a parser of its own holding up to two read batches (4 MiB each).
pub fn streamed_concurrency() -> usize {
    concurrency().min(16)
}

static OPTIONS: OnceLock<S3Options> = OnceLock::new();

/// Sets the options used by every S3 input of this process (once).
pub fn configure(opts: S3Options) {
    let _ = OPTIONS.set(opts);
}

fn options() -> &'static S3Options {
    OPTIONS.get_or_init(S3Options::default)
}

/// The S3 thread's runtime, which that thread drives for the life of the
/// process; other threads hand it work with [`run`] and [`fetch_all`].
static IO: LazyLock<tokio::runtime::Handle> = LazyLock::new(|| {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime for S3");
    let handle = rt.handle().clone();
    std::thread::Builder::new()
        .name("bfx-s3".into())
        .spawn(move || rt.block_on(std::future::pending::<()>()))
        .expect("a thread for S3");
    handle
});

/// Runs `fut` on the S3 thread and waits for it; `None` if it panicked.
fn run<T: Send + 'static>(fut: impl Future<Output = T> + Send + 'static) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    IO.spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv().ok()
}

static CLIENT: OnceLock<aws_sdk_s3::Client> = OnceLock::new();

fn endpoint() -> Option<String> {
    options()
        .endpoint_url
        .clone()
        .or_else(|| std::env::var("AWS_ENDPOINT_URL_S3").ok())
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
        .filter(|e| !e.is_empty())
}

fn client() -> &'static aws_sdk_s3::Client {
    CLIENT.get_or_init(|| {
        let o = options();
        run(async {
            let mut loader = aws_config::from_env();
            if let Some(p) = &o.profile {
                loader = loader.profile_name(p);
            }
            if let Some(e) = &o.endpoint_url {
                loader = loader.endpoint_url(e);
            }
            let sdk = loader.load().await;
            let host_is_local = endpoint().is_some_and(|e| {
                let host = e.split("://").nth(1).unwrap_or(&e).split(['/', ':']).next().unwrap_or("");
                host == "localhost" || host.parse::<std::net::IpAddr>().is_ok()
            });
            let conf = aws_sdk_s3::config::Builder::from(&sdk).force_path_style(o.path_style || host_is_local).build();
            aws_sdk_s3::Client::from_conf(conf)
        })
        .expect("loading the AWS configuration")
    })
}

/// Splits `s3://bucket/prefix`.
pub fn parse_url(arg: &str) -> Option<(String, String)> {
    let rest = arg.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then(|| (bucket.to_string(), prefix.to_string()))
}

/// A clear message for an S3 error: what happened, to which key, and what
/// permission or setting fixes it.
fn explain<E: ProvideErrorMetadata + std::error::Error + 'static>(e: &SdkError<E>, what: &str, action: &str) -> String {
    // Credentials that could not be loaded fail before any request is sent.
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        use aws_credential_types::provider::error::CredentialsError;
        match s.downcast_ref::<CredentialsError>() {
            Some(CredentialsError::CredentialsNotLoaded(_)) => {
                return format!(
                    "{what}: no AWS credentials found (environment, profile, SSO, web identity, container or instance role); pass --profile, or set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                );
            }
            Some(c) => {
                let why = aws_sdk_s3::error::DisplayErrorContext(c).to_string().replace('\n', " ");
                return format!("{what}: the AWS credentials could not be loaded: {why}");
            }
            None => source = s.source(),
        }
    }
    let status = e.raw_response().map(|r| r.status().as_u16());
    let code = e.code().unwrap_or("");
    match (code, status) {
        ("NoSuchBucket", _) => format!("{what}: no such bucket"),
        ("NoSuchKey", _) => format!("{what}: no such key"),
        ("ExpiredToken" | "TokenRefreshRequired", _) => {
            format!("{what}: the credentials have expired; refresh them (aws sso login, or new keys)")
        }
        ("InvalidAccessKeyId" | "SignatureDoesNotMatch", _) => {
            format!("{what}: the credentials were rejected ({code}); check the access key and secret")
        }
        ("PermanentRedirect" | "AuthorizationHeaderMalformed" | "IllegalLocationConstraintException", _) => {
            format!("{what}: the bucket is in another region; set AWS_REGION (or --profile) to the bucket's region")
        }
        // Last among the 403s: S3 answers a bad signature or an expired
        // token with 403 as well, and those need other fixes.
        ("AccessDenied", _) | (_, Some(403)) => format!("{what}: access denied; the credentials need {action} on it"),
        (_, Some(404)) => format!("{what}: not found (HTTP 404)"),
        _ => format!("{what}: {}", aws_sdk_s3::error::DisplayErrorContext(e).to_string().replace('\n', " ")),
    }
}

/// The time span a key's date partition covers, `[start, end)` in UTC ms:
/// `.../yyyy/mm/dd/HH/...` (an hour) or `.../yyyy/mm/dd/...` (a day).
pub fn key_span(key: &str) -> Option<(i64, i64)> {
    let parts: Vec<&str> = key.split('/').collect();
    let num = |s: &str, n: usize| {
        (s.len() == n && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse::<i64>().ok()).flatten()
    };
    for i in 0..parts.len().saturating_sub(3) {
        let (Some(y), Some(m), Some(d)) = (num(parts[i], 4), num(parts[i + 1], 2), num(parts[i + 2], 2)) else {
            continue;
        };
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            continue;
        }
        let day = crate::format::prefix::days_from_civil(y, m, d) * 86_400_000;
        // The hour folder only counts if something follows it (a key, not the file name).
        return Some(match parts.get(i + 3).and_then(|h| num(h, 2)).filter(|h| *h < 24 && i + 4 < parts.len()) {
            Some(h) => (day + h * 3_600_000, day + (h + 1) * 3_600_000),
            None => (day, day + 86_400_000),
        });
    }
    None
}

/// Objects delivered up to this long after their records (S3 folders are
/// named by delivery time) still count for a window.
const DELIVERY_MARGIN_MS: i64 = 3_600_000;

fn keep_key(key: &str, size: i64, o: &S3Options) -> bool {
    if size == 0 || key.ends_with('/') || key.rsplit('/').next() == Some("aws-logs-write-test") {
        return false;
    }
    if let Some(g) = &o.key_glob
        && let Ok(p) = glob::Pattern::new(g)
        && !p.matches(key)
    {
        return false;
    }
    if let Some((start, end)) = key_span(key) {
        if o.since_ms.is_some_and(|s| end + DELIVERY_MARGIN_MS <= s) {
            return false;
        }
        if o.until_ms.is_some_and(|u| start > u + DELIVERY_MARGIN_MS) {
            return false;
        }
    }
    true
}

/// Why no S3 request can be made with this configuration, found before
/// any is sent: a named profile that no AWS config file defines, or no
/// region. (The SDK would only say that a region must be set.)
fn setup_problem() -> Option<&'static str> {
    static PROBLEM: OnceLock<Option<String>> = OnceLock::new();
    PROBLEM
        .get_or_init(|| {
            if let Some(name) = &options().profile {
                let name = name.clone();
                let set = run(async move {
                    use aws_types::os_shim_internal::{Env, Fs};
                    let files = aws_runtime::env_config::file::EnvConfigFiles::default();
                    aws_config::profile::parser::load(&Fs::real(), &Env::real(), &files, Some(name.into())).await
                });
                match set {
                    Some(Ok(set)) if set.get_profile(set.selected_profile()).is_none() => {
                        return Some(format!(
                            "the AWS profile `{}` is not defined in the AWS config or credentials file (AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE; by default ~/.aws/config and ~/.aws/credentials)",
                            set.selected_profile()
                        ));
                    }
                    Some(Err(e)) => return Some(format!("the AWS config files could not be read: {e}")),
                    _ => {}
                }
            }
            client()
                .config()
                .region()
                .is_none()
                .then(|| "no AWS region is set; set AWS_REGION, or use a --profile that sets one".to_string())
        })
        .as_deref()
}

/// Lists `s3://bucket/prefix` into inputs, in key order, with sizes.
pub fn list(arg: &str) -> Result<Vec<Input>, SourceError> {
    let (bucket, prefix) = parse_url(arg)
        .ok_or_else(|| SourceError::Open { input: arg.into(), message: "expected s3://bucket/prefix".into() })?;
    if let Some(problem) = setup_problem() {
        return Err(SourceError::Open { input: arg.into(), message: format!("listing {arg}: {problem}") });
    }
    let c = client().clone();
    let o = options();
    let arg = arg.to_string();
    let failed = SourceError::Open { input: arg.clone(), message: "the S3 listing stopped unexpectedly".into() };
    run(async move {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let resp = c
                .list_objects_v2()
                .bucket(&bucket)
                .prefix(&prefix)
                .set_continuation_token(token.clone())
                .send()
                .await
                .map_err(|e| SourceError::Open {
                    input: arg.clone(),
                    message: explain(&e, &format!("listing s3://{bucket}/{prefix}"), "s3:ListBucket"),
                })?;
            for obj in resp.contents() {
                let (Some(key), size) = (obj.key(), obj.size().unwrap_or(0)) else { continue };
                if keep_key(key, size, o) {
                    out.push(Input {
                        name: format!("s3://{bucket}/{key}"),
                        origin: Origin::S3 { bucket: bucket.clone(), key: key.to_string(), size: size.max(0) as u64 },
                    });
                }
            }
            token = resp.next_continuation_token().map(str::to_string);
            if token.is_none() || resp.is_truncated() == Some(false) {
                break;
            }
        }
        Ok(out)
    })
    .unwrap_or(Err(failed))
}

/// Objects up to this size are fetched whole in one trip to the runtime.
/// Firehose and invocation logging write thousands of objects of a few KB;
/// for those, handing each chunk from a tokio task to a parsing thread
/// through a channel cost more CPU than parsing them. Memory stays bounded:
/// at most `--s3-concurrency` such bodies are held at once.
pub const PREFETCH_MAX_BYTES: u64 = 1 << 20;

/// Whether an object of `size` bytes (as listed) is streamed into its
/// parser rather than fetched whole.
pub fn is_streamed(size: u64) -> bool {
    size > PREFETCH_MAX_BYTES
}

/// A body chunk, or why the download stopped.
type Chunk = Result<bytes::Bytes, String>;

/// Where an object's chunks come from.
enum Chunks {
    /// A small object, fetched whole (a failure part-way is its last entry).
    Fetched(std::collections::VecDeque<Chunk>),
    /// A larger one, pumped by a tokio task through a bounded channel.
    Streamed(tokio::sync::mpsc::Receiver<Chunk>),
}

/// An object's bytes, as `Read`.
struct BodyReader {
    chunks: Chunks,
    cur: bytes::Bytes,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            let next = match &mut self.chunks {
                Chunks::Fetched(q) => q.pop_front(),
                Chunks::Streamed(rx) => rx.blocking_recv(),
            };
            match next {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(io::Error::other(e)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        let _ = self.cur.split_to(n);
        Ok(n)
    }
}

/// Resumptions of one object's body after its connection dropped, at most.
const MAX_RESUMES: u32 = 3;

/// An object's body that picks up where it broke off. The SDK retries a GET
/// that fails before its body starts; when the connection drops (or stalls)
/// mid-body, this asks for the rest with `Range: bytes=N-`, pinned to the
/// first response's ETag with `If-Match` so that a changed object is never
/// spliced. Every byte is delivered once, so nothing is parsed twice.
struct ResumingBody {
    client: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    /// `s3://bucket/key`, for messages.
    name: String,
    e_tag: Option<String>,
    /// Bytes delivered so far.
    offset: u64,
    body: aws_sdk_s3::primitives::ByteStream,
    resumes: u32,
}

impl ResumingBody {
    /// The next chunk, `None` at the end, or why the body cannot be read on.
    async fn next(&mut self) -> Option<Chunk> {
        loop {
            let e = match self.body.next().await? {
                Ok(b) => {
                    self.offset += b.len() as u64;
                    return Some(Ok(b));
                }
                Err(e) => e,
            };
            let failed = format!("{}: download failed mid-stream at byte {}: {e}", self.name, self.offset);
            if self.resumes == MAX_RESUMES {
                return Some(Err(format!("{failed} (after {MAX_RESUMES} resumptions)")));
            }
            self.resumes += 1;
            // 100, 200, 400 ms: a dropped connection is usually transient.
            tokio::time::sleep(std::time::Duration::from_millis(100 << (self.resumes - 1))).await;
            let rest = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(&self.key)
                .range(format!("bytes={}-", self.offset))
                .set_if_match(self.e_tag.clone())
                .send()
                .await;
            match rest {
                // A store that ignored the range would send the whole object
                // again, and its start would be parsed twice.
                Ok(out) if !out.content_range().is_some_and(|r| r.starts_with(&format!("bytes {}-", self.offset))) => {
                    return Some(Err(format!(
                        "{failed}; the server did not send the rest as a range, so it was not read on"
                    )));
                }
                Ok(out) => self.body = out.body,
                Err(e) if e.code() == Some("PreconditionFailed") => {
                    return Some(Err(format!("{failed}; the object changed since, so it was not read on")));
                }
                Err(e) => return Some(Err(format!("{failed}; resuming: {}", explain(&e, &self.name, "s3:GetObject")))),
            }
        }
    }
}

/// An object's raw bytes, ready to read, or why it could not be opened.
pub type Body = Result<Box<dyn Read + Send>, SourceError>;

/// GETs an object of `size` bytes (as listed), on the S3 thread: a small one
/// is read whole, a larger one is pumped by a task of its own through a
/// bounded channel.
async fn get(client: aws_sdk_s3::Client, bucket: String, key: String, size: u64) -> Body {
    let name = format!("s3://{bucket}/{key}");
    let first = match client.get_object().bucket(&bucket).key(&key).send().await {
        Ok(out) => out,
        Err(e) => return Err(SourceError::Open { message: explain(&e, &name, "s3:GetObject"), input: name }),
    };
    let e_tag = first.e_tag().map(str::to_string);
    let mut body = ResumingBody { client, bucket, key, name, e_tag, offset: 0, body: first.body, resumes: 0 };
    if !is_streamed(size) {
        let mut fetched = std::collections::VecDeque::new();
        while let Some(chunk) = body.next().await {
            let stop = chunk.is_err();
            fetched.push_back(chunk);
            if stop {
                break;
            }
        }
        return Ok(Box::new(BodyReader { chunks: Chunks::Fetched(fetched), cur: bytes::Bytes::new() }));
    }
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    tokio::spawn(async move {
        while let Some(chunk) = body.next().await {
            let stop = chunk.is_err();
            if tx.send(chunk).await.is_err() || stop {
                break;
            }
        }
    });
    Ok(Box::new(BodyReader { chunks: Chunks::Streamed(rx), cur: bytes::Bytes::new() }))
}

fn task_failed(bucket: &str, key: &str) -> SourceError {
    SourceError::Open { input: format!("s3://{bucket}/{key}"), message: "the download task failed unexpectedly".into() }
}

/// Opens one object of `size` bytes (as listed) for reading.
pub fn open(bucket: &str, key: &str, size: u64) -> Body {
    run(get(client().clone(), bucket.into(), key.into(), size)).unwrap_or_else(|| Err(task_failed(bucket, key)))
}

/// An S3 object to fetch, known to the caller by `index`.
#[derive(Debug, Clone)]
pub struct Fetch {
    /// The caller's name for it (its input's position).
    pub index: usize,
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Size as listed.
    pub size: u64,
}

/// A body that keeps its object's slot among the `--s3-concurrency` taken
/// until it is dropped, so objects fetched ahead of a slower parser are
/// bounded too.
struct Slotted {
    body: Box<dyn Read + Send>,
    /// Its GET's slot, and its stream's for a streamed object.
    _slot: (tokio::sync::OwnedSemaphorePermit, Option<tokio::sync::OwnedSemaphorePermit>),
}

impl Read for Slotted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.body.read(buf)
    }
}

/// Fetches `objects` in order with up to `--s3-concurrency` of them fetched
/// and not yet dropped at once (and up to [`streamed_concurrency`] of those
/// streamed), calling `deliver` on this thread with each
/// one's body as soon as it can be read (a small object once it has arrived
/// whole, a larger one once its headers have), in the order they become
/// ready. Every object is delivered exactly once, a failure as its `Err`.
pub fn fetch_all(objects: Vec<Fetch>, mut deliver: impl FnMut(usize, Body)) {
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Body)>();
    let mut pending: std::collections::BTreeMap<usize, (String, String)> =
        objects.iter().map(|f| (f.index, (f.bucket.clone(), f.key.clone()))).collect();
    let c = client().clone();
    let slots = Arc::new(tokio::sync::Semaphore::new(concurrency()));
    let streams = Arc::new(tokio::sync::Semaphore::new(streamed_concurrency()));
    IO.spawn(async move {
        for f in objects {
            let stream = match is_streamed(f.size) {
                true => match streams.clone().acquire_owned().await {
                    Ok(s) => Some(s),
                    Err(_) => break,
                },
                false => None,
            };
            let Ok(slot) = slots.clone().acquire_owned().await else { break };
            let slot = (slot, stream);
            let (tx, c) = (tx.clone(), c.clone());
            tokio::spawn(async move {
                let body = get(c, f.bucket, f.key, f.size).await;
                let body = body.map(|body| Box::new(Slotted { body, _slot: slot }) as Box<dyn Read + Send>);
                let _ = tx.send((f.index, body));
            });
        }
    });
    // Ends when every sender is gone: all delivered, or a task died.
    for (i, body) in rx {
        pending.remove(&i);
        deliver(i, body);
    }
    for (i, (bucket, key)) in pending {
        deliver(i, Err(task_failed(&bucket, &key)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_partitions() {
        assert_eq!(parse_url("s3://b/p/q"), Some(("b".into(), "p/q".into())));
        assert_eq!(parse_url("s3://b"), Some(("b".into(), String::new())));
        assert_eq!(parse_url("s3:///x"), None);
        let h = key_span("AWSLogs/1/BedrockModelInvocationLogs/us-east-1/2024/11/20/16/20241120T164851056Z_9b.json.gz");
        let day = crate::format::prefix::days_from_civil(2024, 11, 20) * 86_400_000;
        assert_eq!(h, Some((day + 16 * 3_600_000, day + 17 * 3_600_000)));
        assert_eq!(key_span("firehose/2024/11/20/obj"), Some((day, day + 86_400_000)));
        assert_eq!(key_span("exportedlogs/task/stream/000000.gz"), None);
    }

    #[test]
    fn markers_and_empty_objects_are_skipped() {
        let o = S3Options::default();
        assert!(!keep_key("exportedlogs/aws-logs-write-test", 27, &o));
        assert!(!keep_key("folder/", 0, &o));
        assert!(keep_key("a/b.gz", 10, &o));
    }
}
