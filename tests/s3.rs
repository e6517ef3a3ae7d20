//! `s3://` inputs against a real S3-compatible server over HTTP on loopback:
//! s3s-fs, started inside the test process, behind a wrapper that counts
//! GETs and misbehaves on purpose for some keys (403, a body cut mid-way).
//! bfx runs as a subprocess and finds the server through AWS_ENDPOINT_URL,
//! as a user would point it at a VPC endpoint or an S3-compatible store.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use aws_sdk_s3::config::{Credentials, Region};
use bytes::Bytes;
use common::*;
use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result};

const KEY: &str = "AKIDBFXTEST";
const SECRET: &str = "bfx-test-secret";
const BUCKET: &str = "logs";

/// What the server and the tests share: counters, uploaded bodies and
/// switches.
#[derive(Clone, Default)]
struct State {
    /// GetObject requests received, for every key.
    gets: Arc<AtomicUsize>,
    /// Bodies uploaded through [`Server::put`], served from memory: s3s-fs
    /// hands every GET's file work to tokio's blocking pool, and on two
    /// shared cores that server cost, not bfx, would bound a throughput
    /// measurement. Listing and the misbehaving prefixes still go to s3s-fs.
    bodies: Arc<RwLock<BTreeMap<String, Bytes>>>,
    /// List from `bodies` instead of s3s-fs, for the throughput
    /// measurement: s3s-fs stats every file of a listing through tokio's
    /// blocking pool (~0.15 s per 1,000 keys here), and that server cost,
    /// not bfx, would dominate. The tests keep s3s-fs's own pagination.
    list_from_memory: Arc<AtomicBool>,
    /// Each GET from memory waits this long first: S3's first-byte latency,
    /// which only enough GETs in flight hide.
    get_delay_ms: Arc<AtomicUsize>,
    /// GETs from memory being answered now, and the most there ever were.
    in_flight: Arc<(AtomicUsize, AtomicUsize)>,
    /// GETs per key so far, for the keys of [`Chaos::flaky_get`], which
    /// fail in turn.
    attempts: Arc<Mutex<BTreeMap<String, usize>>>,
    /// `(key, Range, If-Match)` of every resuming GET of those keys.
    resumed: Arc<Mutex<Vec<(String, String, String)>>>,
}

/// s3s-fs with a GET counter, a denied prefix and prefixes whose GETs
/// misbehave on purpose.
struct Chaos {
    fs: s3s_fs::FileSystem,
    state: State,
}

impl std::ops::Deref for Chaos {
    type Target = State;
    fn deref(&self) -> &State {
        &self.state
    }
}

impl Chaos {
    /// A `flaky/` key fails each way a GET can before it succeeds: S3 asks
    /// to slow down (503), then has an internal error (500), then the
    /// connection drops half-way through the body; after that, only the
    /// rest is served, as a range pinned to the object's ETag. A `changed/`
    /// key's body is cut, then it no longer matches its ETag; a `norange/`
    /// key's body is cut, then the store ignores Range.
    async fn flaky_get(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        let key = req.input.key.clone();
        let attempt = {
            let mut a = self.attempts.lock().unwrap();
            let n = a.entry(key.clone()).or_insert(0);
            *n += 1;
            *n
        };
        // `changed/` and `norange/` keys start at the cut body.
        let attempt = if key.starts_with("flaky/") { attempt } else { attempt + 2 };
        let body = self.bodies.read().unwrap().get(&key).cloned().expect("flaky keys are uploaded with put");
        let len = body.len();
        let e_tag = e_tag_of(&body);
        match attempt {
            1 => Err(s3s::s3_error!(SlowDown, "Please reduce your request rate.")),
            2 => Err(s3s::s3_error!(InternalError, "We encountered an internal error. Please try again.")),
            3 => {
                let half = body.slice(..len / 2);
                answer(vec![Ok(half), Err(std::io::Error::other("injected connection drop"))], len, e_tag, None)
            }
            _ => {
                let range = format!("{:?}", req.input.range);
                let if_match = format!("{:?}", req.input.if_match);
                self.resumed.lock().unwrap().push((key.clone(), range, if_match));
                if key.starts_with("changed/") {
                    // Rewritten since the first GET: its ETag no longer matches.
                    return Err(s3s::s3_error!(PreconditionFailed));
                }
                if key.starts_with("norange/") {
                    // A store that ignores Range sends the whole object again.
                    return answer(vec![Ok(body)], len, e_tag, None);
                }
                let Some(Range::Int { first, last: None }) = req.input.range else {
                    return Err(s3s::s3_error!(InvalidRequest, "only the rest of the object may be asked for"));
                };
                if req.input.if_match != Some(ETagCondition::ETag(e_tag.clone())) {
                    return Err(s3s::s3_error!(PreconditionFailed));
                }
                let rest = body.slice(first as usize..);
                let range = format!("bytes {first}-{}/{len}", len - 1);
                answer(vec![Ok(rest.clone())], rest.len(), e_tag, Some(range))
            }
        }
    }
}

#[async_trait::async_trait]
impl S3 for Chaos {
    async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
        self.fs.create_bucket(req).await
    }
    async fn put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        self.fs.put_object(req).await
    }
    async fn list_objects_v2(&self, req: S3Request<ListObjectsV2Input>) -> S3Result<S3Response<ListObjectsV2Output>> {
        // What S3 answers for an expired session token and for a bucket in
        // another region than the client's.
        match req.input.bucket.as_str() {
            "expired-token" => return Err(s3s::s3_error!(ExpiredToken, "The provided token has expired.")),
            "elsewhere" => {
                return Err(s3s::s3_error!(
                    PermanentRedirect,
                    "The bucket you are attempting to access must be addressed using the specified endpoint."
                ));
            }
            _ => {}
        }
        if !self.list_from_memory.load(Ordering::SeqCst) {
            return self.fs.list_objects_v2(req).await;
        }
        let prefix = req.input.prefix.clone().unwrap_or_default();
        let after = req.input.continuation_token.clone().or(req.input.start_after.clone()).unwrap_or_default();
        let max = req.input.max_keys.unwrap_or(1000).clamp(1, 1000) as usize;
        let bodies = self.bodies.read().unwrap();
        let start = if after > prefix { after.clone() } else { prefix.clone() };
        let mut keys = bodies
            .range::<str, _>((std::ops::Bound::Included(start.as_str()), std::ops::Bound::Unbounded))
            .filter(|(k, _)| **k != after)
            .take_while(|(k, _)| k.starts_with(&prefix));
        let contents: Vec<Object> = keys
            .by_ref()
            .take(max)
            .map(|(k, b)| Object { key: Some(k.clone()), size: Some(b.len() as i64), ..Default::default() })
            .collect();
        let truncated = keys.next().is_some();
        let output = ListObjectsV2Output {
            name: Some(req.input.bucket.clone()),
            prefix: Some(prefix),
            max_keys: Some(max as i32),
            key_count: Some(contents.len() as i32),
            continuation_token: req.input.continuation_token.clone(),
            is_truncated: Some(truncated),
            next_continuation_token: truncated.then(|| contents.last().and_then(|o| o.key.clone())).flatten(),
            contents: Some(contents),
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }
    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        self.fs.head_object(req).await
    }
    async fn get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        if req.input.key.starts_with("denied/") {
            return Err(s3s::s3_error!(AccessDenied, "Access Denied"));
        }
        if ["flaky/", "changed/", "norange/"].iter().any(|p| req.input.key.starts_with(p)) {
            return self.flaky_get(req).await;
        }
        let broken = req.input.key.starts_with("broken/");
        let cached = self.bodies.read().unwrap().get(&req.input.key).cloned();
        if let (false, None, Some(body)) = (broken, &req.input.range, cached) {
            let now = self.in_flight.0.fetch_add(1, Ordering::SeqCst) + 1;
            self.in_flight.1.fetch_max(now, Ordering::SeqCst);
            let delay = self.get_delay_ms.load(Ordering::SeqCst);
            if delay > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(delay as u64)).await;
            }
            self.in_flight.0.fetch_sub(1, Ordering::SeqCst);
            let (len, e_tag) = (body.len(), e_tag_of(&body));
            return answer(vec![Ok(body)], len, e_tag, None);
        }
        let mut resp = self.fs.get_object(req).await?;
        if broken && let Some(body) = resp.output.body.take() {
            // Send the first half, then fail: the client sees the
            // connection end before Content-Length bytes.
            let all = collect(body).await;
            let half = Bytes::copy_from_slice(&all[..all.len() / 2]);
            resp.output.body = Some(body_of(vec![Ok(half), Err(std::io::Error::other("injected mid-stream failure"))]));
        }
        Ok(resp)
    }
}

/// A GetObject body of `parts` in turn. An `Err` part drops the connection,
/// after a pause that lets the headers and the parts before it reach the
/// client.
fn body_of(parts: Vec<Result<Bytes, std::io::Error>>) -> StreamingBlob {
    StreamingBlob::wrap(futures::stream::unfold(parts.into_iter(), |mut parts| async move {
        let part = parts.next()?;
        if part.is_err() {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
        Some((part, parts))
    }))
}

/// The ETag the server gives an object from memory.
fn e_tag_of(body: &Bytes) -> ETag {
    ETag::Strong(format!("{:032x}", body.len()))
}

/// A GetObject answer from memory: `parts` as the body, announced as
/// `content_length` bytes.
fn answer(
    parts: Vec<Result<Bytes, std::io::Error>>,
    content_length: usize,
    e_tag: ETag,
    content_range: Option<String>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let output = GetObjectOutput {
        body: Some(body_of(parts)),
        content_length: Some(content_length as i64),
        content_range,
        e_tag: Some(e_tag),
        ..Default::default()
    };
    Ok(S3Response::new(output))
}

async fn collect(body: StreamingBlob) -> Vec<u8> {
    use futures::StreamExt;
    let mut s = body;
    let mut out = Vec::new();
    while let Some(chunk) = s.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

struct Server {
    endpoint: String,
    state: State,
    rt: tokio::runtime::Runtime,
    client: aws_sdk_s3::Client,
    _root: tempfile::TempDir,
}

impl std::ops::Deref for Server {
    type Target = State;
    fn deref(&self) -> &State {
        &self.state
    }
}

fn start() -> Server {
    let root = tempfile::tempdir().unwrap();
    let state = State::default();
    let chaos = Chaos { fs: s3s_fs::FileSystem::new(root.path()).unwrap(), state: state.clone() };
    let mut b = s3s::service::S3ServiceBuilder::new(chaos);
    b.set_auth(s3s::auth::SimpleAuth::from_single(KEY, SECRET));
    let service = b.build();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else { continue };
            // Without it, Nagle's algorithm holds each small response's body
            // until the client's delayed ACK (~40 ms per GET on loopback).
            let _ = sock.set_nodelay(true);
            let svc = service.clone();
            tokio::spawn(async move {
                let conn = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
                let _ = conn.serve_connection(hyper_util::rt::TokioIo::new(sock), svc).await;
            });
        }
    });
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .endpoint_url(&endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(KEY, SECRET, None, None, "test"))
        .force_path_style(true)
        .build();
    let client = aws_sdk_s3::Client::from_conf(conf);
    rt.block_on(client.create_bucket().bucket(BUCKET).send()).unwrap();
    Server { endpoint, state, rt, client, _root: root }
}

impl Server {
    fn put(&self, key: &str, body: Vec<u8>) {
        let body = Bytes::from(body);
        self.rt.block_on(self.client.put_object().bucket(BUCKET).key(key).body(body.clone().into()).send()).unwrap();
        self.bodies.write().unwrap().insert(key.to_string(), body);
    }

    /// Uploads `body` as `key`, and writes it to `local/key` too.
    fn put_with_local_copy(&self, local: &Path, key: &str, body: Vec<u8>) {
        std::fs::create_dir_all(local.join(key).parent().unwrap()).unwrap();
        std::fs::write(local.join(key), &body).unwrap();
        self.put(key, body);
    }

    /// Uploads every file under `dir` as `<prefix><path relative to dir>`.
    fn upload_dir(&self, dir: &Path, prefix: &str) {
        for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
            let e = e.unwrap();
            if e.file_type().is_file() {
                let rel = e.path().strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/");
                self.put(&format!("{prefix}{rel}"), std::fs::read(e.path()).unwrap());
            }
        }
    }

    /// Runs bfx with this server as the S3 endpoint (from the environment).
    /// `BFX_BIN` names another build to run instead (to compare two
    /// commits in the throughput measurement).
    fn bfx(&self, args: &[&str]) -> (i32, String, String) {
        self.bfx_with_env(args, &[])
    }

    /// [`Server::bfx`] with more (or overriding) environment variables; an
    /// empty value removes the variable.
    fn bfx_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
        let mut cmd = Command::new(std::env::var("BFX_BIN").unwrap_or(env!("CARGO_BIN_EXE_bfx").into()));
        cmd.args(args)
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .envs(env.iter().filter(|(_, v)| !v.is_empty()).copied());
        for (k, _) in env.iter().filter(|(_, v)| v.is_empty()) {
            cmd.env_remove(k);
        }
        let out = cmd.output().unwrap();
        (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
    }
}

/// The invocation-log records of the usage fixture's S3 objects, as lines.
fn invocation_records() -> Vec<String> {
    let mut records = Vec::new();
    for e in walkdir::WalkDir::new(fixture("usage/s3")).sort_by_file_name() {
        let e = e.unwrap();
        if e.file_type().is_file() && !e.path().to_string_lossy().contains("/data/") {
            let gz = flate2::read::MultiGzDecoder::new(std::fs::File::open(e.path()).unwrap());
            records.extend(std::io::BufRead::lines(std::io::BufReader::new(gz)).map(Result::unwrap));
        }
    }
    records
}

/// bfx's JSON report of the local copy of `prefix` under `local`.
fn local_report(prefix: &str, local: &Path) -> String {
    local_bfx(&["analyze", "--format", "json", local.join(prefix).to_str().unwrap()])
}

/// Asserts that the report of `s3://BUCKET/<prefix>` equals `local_out`,
/// the report of its copy under `local`, names aside.
fn assert_same_as_local(remote: &str, local_out: &str, prefix: &str, local: &Path) {
    assert_eq!(
        remote.replace(&format!("s3://{BUCKET}/{prefix}"), "ROOT/"),
        local_out.replace(&format!("{}/", local.join(prefix.trim_end_matches('/')).display()), "ROOT/")
    );
}

/// Small object `i`: three consecutive records, about 3.5 KB of JSON.
fn three_records(records: &[String], i: usize) -> Vec<String> {
    (0..3).map(|k| records[(i * 3 + k) % records.len()].clone()).collect()
}

/// 1.5 MiB of records from the `i`th on, as stored (level 0) gzip: over the
/// 1 MiB that bfx fetches whole, so it is streamed into its parser.
fn streamed_object(records: &[String], i: usize) -> Vec<u8> {
    let mut lines = Vec::new();
    while lines.iter().map(|l: &String| l.len() + 1).sum::<usize>() < 3 << 19 {
        lines.push(records[(i + lines.len()) % records.len()].clone());
    }
    let body = gzip(&lines, flate2::Compression::none());
    assert!(body.len() as u64 > bfx::s3::PREFETCH_MAX_BYTES);
    body
}

/// `lines` as one gzip member, at `level`.
fn gzip(lines: &[String], level: flate2::Compression) -> Vec<u8> {
    use std::io::Write;
    let mut w = flate2::write::GzEncoder::new(Vec::new(), level);
    for l in lines {
        w.write_all(l.as_bytes()).unwrap();
        w.write_all(b"\n").unwrap();
    }
    w.finish().unwrap()
}

fn local_bfx(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_bfx")).args(args).output().unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_prefix_gives_the_same_report_as_a_local_copy() {
    let s = start();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/usage");
    for sub in ["app", "cloudwatch", "cur", "s3"] {
        s.upload_dir(&root.join(sub), &format!("usage/{sub}/"));
    }
    let (code, remote, err) = s.bfx(&["analyze", "--format", "json", &format!("s3://{BUCKET}/usage/")]);
    assert_eq!(code, 0, "{err}");
    let local_dirs: Vec<String> =
        ["app", "cloudwatch", "cur", "s3"].iter().map(|d| fixture(&format!("usage/{d}"))).collect();
    let mut args = vec!["analyze", "--format", "json"];
    args.extend(local_dirs.iter().map(String::as_str));
    let local = local_bfx(&args);
    let local = local.replace(&format!("{}/", root.display()), "ROOT/");
    let remote = remote.replace(&format!("s3://{BUCKET}/usage/"), "ROOT/");
    assert!(remote.contains("\"cache_ttl_expiry\""));
    assert_eq!(remote, local);
}

#[test]
fn listing_pages_past_1000_keys_and_skips_markers() {
    let s = start();
    let log = std::fs::read(fixture("botocore/throttle_v144_standard.log")).unwrap();
    let small = &log[..log.len().min(3000)];
    for i in 0..1100 {
        s.put(&format!("firehose/2026/11/02/14/obj-{i:04}"), small.to_vec());
    }
    s.put("firehose/aws-logs-write-test", b"Permission Check Successful".to_vec());
    s.put("firehose/empty", Vec::new());
    let (code, out, err) = s.bfx(&["analyze", "--format", "json", &format!("s3://{BUCKET}/firehose/")]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["sources"].as_array().unwrap().len(), 1100);
    assert_eq!(v["sources"][1099]["name"], format!("s3://{BUCKET}/firehose/2026/11/02/14/obj-1099"));
    assert_eq!(s.gets.load(Ordering::SeqCst), 1100);
}

#[test]
fn since_and_until_prune_keys_before_any_get() {
    let s = start();
    let day = |d: &str, h: &str| {
        format!("AWSLogs/111122223333/BedrockModelInvocationLogs/us-east-1/2026/11/{d}/{h}/obj.json.gz")
    };
    let obj = std::fs::read(
        walkdir::WalkDir::new(fixture("usage/s3"))
            .into_iter()
            .filter_map(Result::ok)
            .find(|e| e.file_type().is_file() && !e.path().to_string_lossy().contains("/data/"))
            .unwrap()
            .path(),
    )
    .unwrap();
    for (d, h) in [("02", "14"), ("02", "20"), ("03", "09"), ("03", "12"), ("04", "01")] {
        s.put(&day(d, h), obj.clone());
    }
    let url = format!("s3://{BUCKET}/AWSLogs/");
    let (code, out, err) =
        s.bfx(&["analyze", "--format", "json", "--since", "2026-11-03", "--until", "2026-11-03T10:00:00Z", &url]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = v["sources"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    // 03/09 is inside; 02/20 ends 3 h before the window and 03/12 starts 2 h
    // after it, beyond the 1 h delivery margin.
    assert_eq!(names, vec![format!("s3://{BUCKET}/{}", day("03", "09"))]);
    assert_eq!(s.gets.load(Ordering::SeqCst), 1, "only the kept key may be fetched");
}

#[test]
fn missing_bucket_denied_key_and_broken_body_are_reported_and_the_rest_goes_on() {
    let s = start();
    let log = std::fs::read(fixture("botocore/stale_v144_standard.log")).unwrap();
    s.put("mixed/a-good.log", log.clone());
    s.put("mixed/b-late.log", log.clone());
    s.put("denied/secret.log", log.clone());
    s.put("broken/cut.log", log.clone());
    // Over bfx's prefetch size, so this one is streamed, not fetched whole.
    let big = log.repeat((bfx::s3::PREFETCH_MAX_BYTES as usize / log.len()) + 1);
    s.put("broken/streamed.log", big);
    let (code, out, err) = s.bfx(&[
        "analyze",
        "--format",
        "json",
        &format!("s3://{BUCKET}/broken/"),
        &format!("s3://{BUCKET}/denied/"),
        &format!("s3://{BUCKET}/mixed/"),
        "s3://no-such-bucket/x/",
    ]);
    assert_eq!(code, 2, "a partial analysis exits 2: {err}");
    assert!(err.contains("listing s3://no-such-bucket/x/: no such bucket"), "{err}");
    assert!(
        err.contains(&format!("s3://{BUCKET}/denied/secret.log: access denied; the credentials need s3:GetObject")),
        "{err}"
    );
    // Each broken GET sends half of what it was asked for: the rest is asked
    // for three times, then the object is given up.
    for key in ["broken/cut.log", "broken/streamed.log"] {
        assert!(err.contains(&format!("s3://{BUCKET}/{key}: download failed mid-stream at byte")), "{err}");
    }
    assert_eq!(err.matches("(after 3 resumptions)").count(), 2, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    // The two good objects are analyzed in full: 11 calls each, 3 hangs each.
    let good: Vec<&serde_json::Value> =
        v["sources"].as_array().unwrap().iter().filter(|x| x["name"].as_str().unwrap().contains("/mixed/")).collect();
    assert_eq!(good.len(), 2);
    assert!(good.iter().all(|g| g["error"].is_null() && g["calls"] == 11));
    // The broken object's lines before the cut were read, and it is marked.
    let broken: Vec<&serde_json::Value> =
        v["sources"].as_array().unwrap().iter().filter(|x| x["name"].as_str().unwrap().contains("/broken/")).collect();
    assert_eq!(broken.len(), 2);
    for b in broken {
        assert!(b["error"].is_string());
        assert!(b["lines"]["lines_read"].as_u64().unwrap() > 0);
    }
}

#[test]
fn gets_in_flight_never_exceed_the_concurrency_and_large_objects_stream() {
    let s = start();
    let local = tempfile::tempdir().unwrap();
    let records = invocation_records();
    for i in 0..40 {
        let body = gzip(&three_records(&records, i), flate2::Compression::fast());
        s.put_with_local_copy(local.path(), &format!("mixed/small-{i:02}.json.gz"), body);
    }
    // And two that are streamed into their parsers.
    for i in 0..2 {
        s.put_with_local_copy(local.path(), &format!("mixed/large-{i}.json.gz"), streamed_object(&records, i));
    }
    // A first-byte wait, so that every slot fills before any GET is answered.
    s.get_delay_ms.store(30, Ordering::SeqCst);
    let url = format!("s3://{BUCKET}/mixed/");
    let (code, remote, err) = s.bfx(&["analyze", "--s3-concurrency", "4", "--format", "json", &url]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(s.in_flight.1.load(Ordering::SeqCst), 4);
    assert_eq!(s.gets.load(Ordering::SeqCst), 42);
    let v: serde_json::Value = serde_json::from_str(&remote).unwrap();
    assert_eq!(v["sources"].as_array().unwrap().len(), 42);
    assert_eq!(v["sources"][0]["name"], format!("s3://{BUCKET}/mixed/large-0.json.gz"));
    assert_same_as_local(&remote, &local_report("mixed/", local.path()), "mixed/", local.path());
}

#[test]
fn throttled_failed_and_dropped_gets_are_retried_and_each_byte_parsed_once() {
    let s = start();
    let local = tempfile::tempdir().unwrap();
    let records = invocation_records();
    // One object fetched whole and one streamed (stored gzip over 1 MiB).
    s.put_with_local_copy(local.path(), "flaky/a-small.json.gz", gzip(&three_records(&records, 0), Default::default()));
    let big = streamed_object(&records, 0);
    let big_len = big.len();
    s.put_with_local_copy(local.path(), "flaky/b-large.json.gz", big);
    let small_len = s.bodies.read().unwrap()["flaky/a-small.json.gz"].len();
    let (code, remote, err) = s.bfx(&["analyze", "--format", "json", &format!("s3://{BUCKET}/flaky/")]);
    assert_eq!(code, 0, "{err}");
    // Per object: 503 SlowDown and 500 retried by the SDK, the body cut
    // half-way, then the rest asked for once.
    assert_eq!(s.gets.load(Ordering::SeqCst), 8);
    assert_eq!(s.attempts.lock().unwrap().values().copied().collect::<Vec<_>>(), vec![4, 4]);
    let mut resumed = s.resumed.lock().unwrap().clone();
    resumed.sort();
    let tag = |len: usize| format!("Some(ETag(Strong({:?})))", format!("{len:032x}"));
    let range = |len: usize| format!("Some(Int {{ first: {}, last: None }})", len / 2);
    assert_eq!(
        resumed,
        vec![
            ("flaky/a-small.json.gz".to_string(), range(small_len), tag(small_len)),
            ("flaky/b-large.json.gz".to_string(), range(big_len), tag(big_len)),
        ]
    );
    // Identical to the local copy: no line lost or parsed twice.
    assert_same_as_local(&remote, &local_report("flaky/", local.path()), "flaky/", local.path());
}

#[test]
fn a_cut_body_is_not_resumed_from_a_changed_object_or_a_store_that_ignores_range() {
    let s = start();
    let log = std::fs::read(fixture("botocore/stale_v144_standard.log")).unwrap();
    s.put("changed/a.log", log.clone());
    s.put("norange/a.log", log.clone());
    let half = log.len() / 2;
    let (code, out, err) =
        s.bfx(&["analyze", "--format", "json", &format!("s3://{BUCKET}/changed/"), &format!("s3://{BUCKET}/norange/")]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "s3://{BUCKET}/changed/a.log: download failed mid-stream at byte {half}: streaming error; the object changed since, so it was not read on"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "s3://{BUCKET}/norange/a.log: download failed mid-stream at byte {half}: streaming error; the server did not send the rest as a range, so it was not read on"
        )),
        "{err}"
    );
    // One cut GET and one refused resumption each: no retry of a refusal.
    assert_eq!(s.gets.load(Ordering::SeqCst), 4);
    // The first half was analyzed, and only once.
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let lines_in_half = log[..half].iter().filter(|&&b| b == b'\n').count() as u64;
    for source in v["sources"].as_array().unwrap() {
        assert!(source["error"].is_string());
        assert_eq!(source["lines"]["lines_read"].as_u64().unwrap(), lines_in_half + 1, "{source}");
    }
}

#[test]
fn a_named_profile_supplies_credentials_and_region_and_missing_ones_say_so() {
    let s = start();
    s.put("x/a.log", std::fs::read(fixture("botocore/stale_v144_standard.log")).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let credentials = dir.path().join("credentials");
    std::fs::write(&config, "[profile bfx-audit]\nregion = us-east-1\n").unwrap();
    std::fs::write(&credentials, format!("[bfx-audit]\naws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\n"))
        .unwrap();
    let env = [
        ("AWS_ACCESS_KEY_ID", ""),
        ("AWS_SECRET_ACCESS_KEY", ""),
        ("AWS_REGION", ""),
        ("AWS_CONFIG_FILE", config.to_str().unwrap()),
        ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
    ];
    let url = format!("s3://{BUCKET}/x/");
    let (code, out, err) = s.bfx_with_env(&["analyze", "--profile", "bfx-audit", "--format", "json", &url], &env);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["sources"][0]["calls"], 11);
    let (code, _, err) = s.bfx_with_env(&["analyze", "--profile", "no-such-profile", &url], &env);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("listing s3://logs/x/: the AWS profile `no-such-profile` is not defined in the AWS config or credentials file"),
        "{err}"
    );
    // Without a profile, the SDK would only say "a region must be set" or
    // list every provider it tried.
    let (code, _, err) = s.bfx_with_env(&["analyze", &url], &[("AWS_REGION", "")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("listing s3://logs/x/: no AWS region is set; set AWS_REGION, or use a --profile"), "{err}");
    let (code, _, err) =
        s.bfx_with_env(&["analyze", &url], &[("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", "")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("listing s3://logs/x/: no AWS credentials found (environment, profile, SSO"), "{err}");
}

#[test]
fn rejected_expired_and_wrong_region_credentials_say_so() {
    let s = start();
    s.put("x/a.log", b"noise\n".to_vec());
    let (code, _, err) =
        s.bfx_with_env(&["analyze", &format!("s3://{BUCKET}/x/"), "s3://expired-token/x/", "s3://elsewhere/x/"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "listing s3://expired-token/x/: the credentials have expired; refresh them (aws sso login, or new keys)"
        ),
        "{err}"
    );
    assert!(
        err.contains("listing s3://elsewhere/x/: the bucket is in another region; set AWS_REGION (or --profile) to the bucket's region"),
        "{err}"
    );
    let (code, _, err) =
        s.bfx_with_env(&["analyze", &format!("s3://{BUCKET}/x/")], &[("AWS_SECRET_ACCESS_KEY", "not-the-secret")]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "listing s3://{BUCKET}/x/: the credentials were rejected (SignatureDoesNotMatch); check the access key and secret"
        )),
        "{err}"
    );
}

/// Throughput over loopback against the same files on local disk, for many
/// small objects (as Firehose writes them) and a few large ones. A measured
/// run, not a pass/fail test (speed is never asserted):
///
///     cargo test --release --test s3 -- --ignored --nocapture measure_loopback
#[test]
#[ignore]
fn measure_loopback_throughput() {
    let s = start();
    let local = tempfile::tempdir().unwrap();
    let records = invocation_records();
    let gz = |lines: &[String]| gzip(lines, flate2::Compression::fast());
    let mut cases = Vec::new();
    // 3,000 objects of 3 records (~3.5 KB of JSON each), and 4 objects of ~32 MiB.
    let mut small_bytes = 0;
    for i in 0..3000 {
        let lines = three_records(&records, i);
        small_bytes += lines.iter().map(|l| l.len() + 1).sum::<usize>();
        s.put_with_local_copy(local.path(), &format!("small/2026/11/02/14/obj-{i:05}.json.gz"), gz(&lines));
    }
    cases.push(("3,000 small objects", "small/", 3000usize, small_bytes));
    let mut big_bytes = 0;
    for i in 0..4 {
        let mut lines = Vec::new();
        let mut n = 0;
        while n < 32 << 20 {
            let l = &records[lines.len() % records.len()];
            n += l.len() + 1;
            lines.push(l.clone());
        }
        big_bytes += n;
        s.put_with_local_copy(local.path(), &format!("large/obj-{i}.json.gz"), gz(&lines));
    }
    cases.push(("4 large objects", "large/", 4, big_bytes));
    s.list_from_memory.store(true, Ordering::SeqCst);
    // CPU seconds of this process (the server; the test thread only waits)
    // and of its finished children (bfx).
    let cpu = || cpu_seconds("/proc/self/stat");
    // bfx's default unless BFX_S3_CONCURRENCY says otherwise.
    let concurrency = std::env::var("BFX_S3_CONCURRENCY").ok();
    // The server's CPU per GET and local objects/s, for the small objects.
    let mut small = None;
    for (what, prefix, objects, bytes) in cases {
        let url = format!("s3://{BUCKET}/{prefix}");
        let mut args = vec!["analyze", "--format", "json", &url];
        if let Some(c) = &concurrency {
            args.extend(["--s3-concurrency", c]);
        }
        let (t, c0) = (std::time::Instant::now(), cpu());
        let (code, remote, err) = s.bfx(&args);
        let (s3_s, c1) = (t.elapsed().as_secs_f64(), cpu());
        assert_eq!(code, 0, "{err}");
        let t = std::time::Instant::now();
        let local_out = local_report(prefix, local.path());
        let (local_s, c2) = (t.elapsed().as_secs_f64(), cpu());
        assert_same_as_local(&remote, &local_out, prefix, local.path());
        let mb = bytes as f64 / 1e6;
        let per = |secs: f64| secs / objects as f64 * 1e6;
        println!(
            "{what}: S3 loopback {s3_s:.2} s ({:.0} objects/s, {:.0} MB/s of JSON); local disk {local_s:.2} s ({:.0} objects/s, {:.0} MB/s); S3/local throughput {:.0}%",
            objects as f64 / s3_s,
            mb / s3_s,
            objects as f64 / local_s,
            mb / local_s,
            local_s / s3_s * 100.0
        );
        println!(
            "  CPU per object: bfx {:.0} us from S3, {:.0} us from disk; the S3 server {:.0} us",
            per(c1.1 - c0.1),
            per(c2.1 - c1.1),
            per(c1.0 - c0.0)
        );
        if prefix == "small/" {
            small = Some((per(c1.0 - c0.0), objects as f64 / local_s));
        }
    }
    // What any aws-sdk-s3 client must spend: the same GETs with the SDK
    // alone on the cheapest runtime (one thread), bodies read and dropped.
    // With the server's share on the same cores, that bounds S3 throughput
    // before bfx decompresses or parses a byte.
    if let Some((server_us, local_per_s)) = small {
        let sdk_us = sdk_cpu_per_get(&s, "small/", 64);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let ceiling = cores / (sdk_us + server_us) * 1e6;
        println!(
            "  the SDK alone: {sdk_us:.0} us of CPU per GET (64 in flight on one thread); with the server's {server_us:.0} us, {cores} cores serve at most {ceiling:.0} small objects/s over loopback, {:.0}% of local, before bfx parses anything",
            ceiling / local_per_s * 100.0
        );
    }
    // The same small objects behind a first-byte latency, as from S3 itself:
    // throughput is then bounded by GETs in flight over the latency.
    for delay_ms in [20usize] {
        s.get_delay_ms.store(delay_ms, Ordering::SeqCst);
        for conc in ["16", "64", "256"] {
            let t = std::time::Instant::now();
            let (code, _, err) =
                s.bfx(&["analyze", "--s3-concurrency", conc, "--format", "json", &format!("s3://{BUCKET}/small/")]);
            assert_eq!(code, 0, "{err}");
            let secs = t.elapsed().as_secs_f64();
            println!(
                "3,000 small objects, {delay_ms} ms per GET, --s3-concurrency {conc}: {secs:.2} s ({:.0} objects/s)",
                3000.0 / secs
            );
        }
    }
    s.get_delay_ms.store(0, Ordering::SeqCst);
}

/// CPU seconds (user + system) from a `/proc/.../stat` file: its task's
/// own, and its process's finished children's; zero where there is no such
/// file. Linux counts 100 ticks per second.
fn cpu_seconds(stat: &str) -> (f64, f64) {
    let stat = std::fs::read_to_string(stat).unwrap_or_default();
    let f: Vec<f64> =
        stat.rsplit(')').next().unwrap_or("").split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect();
    let at = |i: usize| f.get(i).copied().unwrap_or(0.0) / 100.0;
    (at(11) + at(12), at(13) + at(14))
}

/// CPU (user + system) per GET of the SDK alone, fetching every object
/// under `prefix` with `in_flight` GETs at once on a current-thread runtime
/// of a thread of its own, so that the thread's CPU time is the client's
/// whole cost (HTTP, signing, the orchestrator), with no parsing.
fn sdk_cpu_per_get(s: &Server, prefix: &str, in_flight: usize) -> f64 {
    use futures::StreamExt;
    let keys: Vec<String> = s.bodies.read().unwrap().keys().filter(|k| k.starts_with(prefix)).cloned().collect();
    let client = s.client.clone();
    std::thread::spawn(move || {
        let cpu = || cpu_seconds("/proc/thread-self/stat").0;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let n = keys.len();
        let c0 = cpu();
        let bytes: usize = rt.block_on(
            futures::stream::iter(keys)
                .map(|key| {
                    let client = client.clone();
                    async move {
                        let out = client.get_object().bucket(BUCKET).key(key).send().await.unwrap();
                        out.body.collect().await.unwrap().into_bytes().len()
                    }
                })
                .buffer_unordered(in_flight)
                .fold(0, |sum, n| async move { sum + n }),
        );
        assert!(bytes > 0);
        (cpu() - c0) / n as f64 * 1e6
    })
    .join()
    .unwrap()
}
