//! The `bfx` command line: a thin layer over the library.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use bfx::analyze::{AgentOptions, AnalyzeOptions, analyze_args};
use bfx::detect::DetectorSettings;
use bfx::format::ParseOptions;
use bfx::format::prefix::{CustomFormat, LineFormat};
use bfx::prices::PriceTable;

/// Bedrock forensics: explain slow and costly AWS Bedrock calls from exported logs.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Rebuild per-call timelines; report stale-socket hangs, hidden retries and throttle amplification.
    Analyze(Box<AnalyzeArgs>),
    /// The waterfall of one SDK call (--call) or one agent turn (--turn): attempts on a time axis,
    /// connections, idle gaps, waits, outcomes, retry sleeps, fallback hops, tokens and dollars.
    Timeline(TimelineArgs),
    /// Print the price table used for cost (USD per million tokens), with each row's source and date.
    Prices(PricesArgs),
}

#[derive(clap::Args)]
struct PricesArgs {
    /// Use this table instead of the embedded one (bfx CSV or LiteLLM JSON).
    #[arg(long)]
    prices: Option<String>,
    /// Only rows whose id contains this text.
    filter: Option<String>,
    /// Output format: table, or csv in bfx's own table format (usable with --prices).
    #[arg(long, value_enum, default_value = "table")]
    format: PricesFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum PricesFormat {
    /// A table for a terminal.
    Table,
    /// bfx's CSV price format.
    Csv,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// Tables for a terminal.
    Table,
    /// The documented JSON schema (docs/json-schema.md).
    Json,
    /// Markdown, for tickets and postmortems.
    Markdown,
}

#[derive(clap::Args)]
struct TimelineArgs {
    /// Files, folders, globs, or `-` for stdin.
    #[arg(required = true)]
    inputs: Vec<String>,
    /// The call: its amz-sdk-invocation-id or any attempt's x-amzn-RequestId.
    #[arg(long, conflicts_with = "turn", required_unless_present = "turn")]
    call: Option<String>,
    /// The agent turn: its turn, request, trace or session id.
    #[arg(long)]
    turn: Option<String>,
    /// Output format: text (80 columns), json or markdown.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// A custom Python logging format.
    #[arg(long)]
    log_format: Option<String>,
    /// Price table (as for analyze).
    #[arg(long)]
    prices: Option<String>,
}

#[derive(clap::Args)]
struct AnalyzeArgs {
    /// Files, folders (searched recursively), globs, or `-` for stdin. gzip is detected from content.
    #[arg(required = true)]
    inputs: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// A custom Python logging format, e.g. '%(asctime)s [%(threadName)s] %(levelname)s %(name)s: %(message)s'.
    #[arg(long)]
    log_format: Option<String>,
    /// Idle seconds after which a pooled connection is presumed dropped by a NAT/NLB/VPC endpoint.
    #[arg(long, default_value_t = 350.0)]
    idle_threshold: f64,
    /// Include every call's timeline in JSON output.
    #[arg(long)]
    timelines: bool,
    /// Worker threads (default: all cores). Output is identical for any value.
    #[arg(long)]
    threads: Option<usize>,
    /// At most this many calls listed per finding that lists examples.
    #[arg(long, default_value_t = 100)]
    max_listed: usize,
    /// Map a JSON log field, e.g. --field model=$.llm.model_id (names: model, turn, request, trace,
    /// session, latency, ttft, error, outcome, region, from_model, to_model, reason).
    #[arg(long = "field", value_name = "NAME=$.PATH")]
    fields: Vec<String>,
    /// A requests-per-minute quota to compare peaks against, e.g. --quota us.anthropic.claude-haiku-4-5-20251001-v1:0=50.
    #[arg(long = "quota", value_name = "MODEL=RPM")]
    quotas: Vec<String>,
    /// Agent records of one stream with no turn id belong to one turn while they are at most this many seconds apart.
    #[arg(long, default_value_t = 300.0)]
    turn_gap: f64,
    /// Price table for cost: bfx's CSV (see `bfx prices --format csv`) or LiteLLM's
    /// model_prices_and_context_window.json. Default: the embedded, dated table.
    #[arg(long)]
    prices: Option<String>,
    /// Also write a self-contained HTML report (no network fetches) to this file.
    #[arg(long, value_name = "FILE")]
    html: Option<std::path::PathBuf>,
    /// Also write the normalized tables (calls, attempts, turns, usage, findings, sources) to this
    /// folder; columns are documented in docs/schema.md.
    #[arg(long, value_name = "DIR")]
    out: Option<std::path::PathBuf>,
    /// File format of --out tables.
    #[arg(long, value_enum, default_value = "parquet")]
    out_format: OutFormat,
    /// No progress bar (it is shown only when stderr is a terminal).
    #[arg(long, short)]
    quiet: bool,
    /// AWS profile for s3:// inputs (default: the standard credential chain).
    #[arg(long)]
    profile: Option<String>,
    /// S3 endpoint for s3:// inputs (VPC endpoints, S3-compatible stores); AWS_ENDPOINT_URL_S3 and
    /// AWS_ENDPOINT_URL work too.
    #[arg(long)]
    endpoint_url: Option<String>,
    /// Path-style S3 addressing (automatic for IP and localhost endpoints).
    #[arg(long)]
    s3_path_style: bool,
    /// Only this UTC time and later (2026-11-02 or 2026-11-02T14:00:00Z): S3 keys whose
    /// yyyy/mm/dd[/HH] partition ends before it are skipped before any GET, and container events
    /// and usage records before it are dropped after parsing.
    #[arg(long)]
    since: Option<String>,
    /// Only this UTC time and earlier (as --since).
    #[arg(long)]
    until: Option<String>,
    /// Only S3 keys matching this glob (e.g. '*/BedrockModelInvocationLogs/*').
    #[arg(long)]
    key_glob: Option<String>,
    /// S3 GETs in flight at once (objects over 1 MiB, streamed into a
    /// parser as they download: at most 16 of them).
    #[arg(long, default_value_t = 64)]
    s3_concurrency: usize,
}

fn utc_arg(flag: &str, v: &Option<String>) -> anyhow::Result<Option<i64>> {
    let Some(v) = v else { return Ok(None) };
    let full = if v.len() == 10 { format!("{v}T00:00:00Z") } else { v.clone() };
    bfx::usage::parse::parse_iso_ms(&full)
        .map(Some)
        .with_context(|| format!("{flag} {v}: expected a UTC date (2026-11-02) or time (2026-11-02T14:00:00Z)"))
}

/// Progress on stderr, only when stderr is a terminal and not --quiet: bytes
/// read (downloaded, for S3) with throughput and ETA, and inputs parsed.
struct Progress {
    bar: indicatif::ProgressBar,
    bytes: bfx::source::ByteProgress,
    inputs: bfx::source::ByteProgress,
}

fn progress_enabled(quiet: bool) -> bool {
    !quiet && std::io::IsTerminal::is_terminal(&std::io::stderr())
}

/// A spinner while S3 prefixes are listed.
fn listing_spinner(args: &[String], quiet: bool) -> Option<indicatif::ProgressBar> {
    if !progress_enabled(quiet) || !args.iter().any(|a| a.starts_with("s3://")) {
        return None;
    }
    let s = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    s.set_style(
        indicatif::ProgressStyle::with_template("{spinner} listing S3 objects {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    s.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(s)
}

fn progress_bar(expanded: &[bfx::source::Input], quiet: bool) -> Option<Progress> {
    if !progress_enabled(quiet) {
        return None;
    }
    let total: u64 = expanded
        .iter()
        .filter_map(|i| match &i.origin {
            bfx::source::Origin::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            bfx::source::Origin::Stdin => None,
            bfx::source::Origin::S3 { size, .. } => Some(*size),
        })
        .sum();
    let bar = indicatif::ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} reading {bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let n = expanded.len();
    bar.set_message(format!("0/{n} inputs parsed"));
    let b = bar.clone();
    let bytes = bfx::source::ByteProgress(std::sync::Arc::new(move |x| b.inc(x)));
    let b = bar.clone();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let inputs = bfx::source::ByteProgress(std::sync::Arc::new(move |_| {
        let k = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        b.set_message(format!("{k}/{n} inputs parsed"));
    }));
    Some(Progress { bar, bytes, inputs })
}

#[derive(Clone, Copy, ValueEnum)]
enum OutFormat {
    /// Apache Parquet.
    Parquet,
    /// CSV with a header row.
    Csv,
}

fn load_prices(path: &Option<String>) -> anyhow::Result<Option<PriceTable>> {
    Ok(match path {
        Some(p) => Some(PriceTable::from_file(p)?),
        None => None,
    })
}

fn per_m(p: Option<i128>) -> String {
    // Picodollars per token → dollars per million tokens, shortest exact form.
    p.map(|p| {
        let s = format!("{}.{:06}", p / 1_000_000, p % 1_000_000);
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    })
    .unwrap_or_default()
}

fn print_prices(args: &PricesArgs) -> anyhow::Result<String> {
    let table = load_prices(&args.prices)?.unwrap_or_else(PriceTable::embedded);
    let rows: Vec<_> = table.rows().filter(|r| args.filter.as_deref().is_none_or(|f| r.id.contains(f))).collect();
    let cells = |r: &bfx::prices::PriceRow| {
        vec![
            r.id.clone(),
            per_m(Some(r.input)),
            per_m(Some(r.output)),
            per_m(r.cache_read),
            per_m(r.cache_write_5m),
            per_m(r.cache_write_1h),
            per_m(r.input_above_200k),
            per_m(r.output_above_200k),
            r.min_cache_tokens.map(|n| n.to_string()).unwrap_or_default(),
            r.source.clone(),
            r.as_of.clone(),
        ]
    };
    let header = [
        "id",
        "input",
        "output",
        "cache_read",
        "cache_write_5m",
        "cache_write_1h",
        "input_above_200k",
        "output_above_200k",
        "min_cache_tokens",
        "source",
        "as_of",
    ];
    Ok(match args.format {
        PricesFormat::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(header)?;
            for r in rows {
                w.write_record(cells(r))?;
            }
            format!("# {}\n{}", table.version, String::from_utf8(w.into_inner()?)?)
        }
        PricesFormat::Table => {
            let mut t = comfy_table::Table::new();
            t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
            t.set_header(vec![
                "model id",
                "input",
                "output",
                "cache read",
                "write 5m",
                "write 1h",
                "min cache tokens",
                "TTLs",
                "profile premium",
            ]);
            let mut sources = std::collections::BTreeMap::new();
            for r in &rows {
                let c = cells(r);
                let premium = table.profile_premium_pct(r).map(|p| format!("{p:+}%")).unwrap_or_default();
                t.add_row(vec![&c[0], &c[1], &c[2], &c[3], &c[4], &c[5], &c[8], r.ttls(), &premium]);
                sources.entry((r.source.clone(), r.as_of.clone())).or_insert(0usize);
                *sources.get_mut(&(r.source.clone(), r.as_of.clone())).unwrap() += 1;
            }
            let mut s = format!("{} — USD per million tokens, on-demand\n{t}\n", table.version);
            s.push_str("Sources (rows):\n");
            for ((src, date), n) in sources {
                s.push_str(&format!("  {n:>4}  {src} ({date})\n"));
            }
            s
        }
    })
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("bfx: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Prices(args) => {
            let text = print_prices(&args)?;
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout.write_all(text.as_bytes()).and_then(|_| stdout.flush())
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                return Err(e).context("writing the table");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Timeline(args) => {
            let custom = match &args.log_format {
                Some(f) => Some(LineFormat::Custom(Box::new(CustomFormat::new(f)?))),
                None => None,
            };
            let opts = AnalyzeOptions {
                parse: ParseOptions { custom, batch_bytes: 0 },
                prices: load_prices(&args.prices)?,
                ..Default::default()
            };
            let analysis = analyze_args(&args.inputs, &opts);
            for e in &analysis.errors {
                eprintln!("bfx: {e}");
            }
            use bfx::render::waterfall as w;
            let text = if let Some(id) = &args.call {
                let call = w::find_call(&analysis, id)
                    .with_context(|| format!("no call with invocation id or request id {id} in these inputs"))?;
                let v = w::call_view(&analysis, call);
                match args.format {
                    Format::Table => w::call_text(&v),
                    Format::Json => serde_json::to_string_pretty(&v)? + "\n",
                    Format::Markdown => w::call_markdown(&v),
                }
            } else {
                let key = args.turn.as_deref().unwrap_or_default();
                let v = w::turn_view(&analysis, key).with_context(|| format!("no agent turn {key} in these inputs"))?;
                match args.format {
                    Format::Table => w::turn_text(&v),
                    Format::Json => serde_json::to_string_pretty(&v)? + "\n",
                    Format::Markdown => w::turn_markdown(&v),
                }
            };
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout.write_all(text.as_bytes()).and_then(|_| stdout.flush())
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                return Err(e).context("writing the timeline");
            }
            Ok(if analysis.is_partial() { ExitCode::from(2) } else { ExitCode::SUCCESS })
        }
        Command::Analyze(args) => {
            if let Some(n) = args.threads {
                rayon::ThreadPoolBuilder::new().num_threads(n).build_global().context("setting up threads")?;
            }
            let custom = match &args.log_format {
                Some(f) => Some(LineFormat::Custom(Box::new(CustomFormat::new(f)?))),
                None => None,
            };
            anyhow::ensure!(args.idle_threshold > 0.0, "--idle-threshold must be positive");
            let mut agent = AgentOptions { turn_gap_ms: (args.turn_gap * 1000.0).round() as i64, ..Default::default() };
            for f in &args.fields {
                agent.fields.set(f).map_err(anyhow::Error::msg)?;
            }
            for q in &args.quotas {
                let (model, rpm) = q.rsplit_once('=').context("--quota expects MODEL=RPM")?;
                let rpm: u64 = rpm.parse().with_context(|| format!("--quota {q}: RPM must be a whole number"))?;
                agent.quotas.insert(model.to_string(), rpm);
            }
            let window = (utc_arg("--since", &args.since)?, utc_arg("--until", &args.until)?);
            bfx::s3::configure(bfx::s3::S3Options {
                profile: args.profile.clone(),
                endpoint_url: args.endpoint_url.clone(),
                path_style: args.s3_path_style,
                since_ms: window.0,
                until_ms: window.1,
                key_glob: args.key_glob.clone(),
                concurrency: args.s3_concurrency.max(1),
            });
            let spinner = listing_spinner(&args.inputs, args.quiet);
            let (inputs, expand_errors) = bfx::source::expand_inputs(&args.inputs);
            if let Some(s) = spinner {
                s.finish_and_clear();
            }
            let bar = progress_bar(&inputs, args.quiet);
            let opts = AnalyzeOptions {
                parse: ParseOptions { custom, batch_bytes: 0 },
                detect: DetectorSettings { idle_threshold_s: args.idle_threshold, max_listed_calls: args.max_listed },
                agent,
                prices: load_prices(&args.prices)?,
                progress: bar.as_ref().map(|b| b.bytes.clone()),
                on_input_done: bar.as_ref().map(|b| b.inputs.clone()),
                window,
            };
            let mut analysis = bfx::analyze::analyze_expanded(&inputs, expand_errors, &opts);
            if let Some(p) = bar {
                p.bar.finish_and_clear();
            }
            if args.timelines {
                analysis = analysis.with_timelines();
            }
            if let Some(dir) = &args.out {
                let format = match args.out_format {
                    OutFormat::Parquet => bfx::tables::TableFormat::Parquet,
                    OutFormat::Csv => bfx::tables::TableFormat::Csv,
                };
                bfx::tables::write(&analysis, dir, format).map_err(anyhow::Error::msg)?;
            }
            if let Some(path) = &args.html {
                std::fs::write(path, bfx::render::html::html(&analysis))
                    .with_context(|| format!("writing the HTML report to {}", path.display()))?;
            }
            let text = match args.format {
                Format::Table => bfx::render::terminal(&analysis),
                Format::Json => bfx::render::json(&analysis),
                Format::Markdown => bfx::render::markdown::markdown(&analysis),
            };
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout.write_all(text.as_bytes()).and_then(|_| stdout.flush())
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                return Err(e).context("writing the report");
            }
            for e in &analysis.errors {
                eprintln!("bfx: {e}");
            }
            Ok(if analysis.is_partial() { ExitCode::from(2) } else { ExitCode::SUCCESS })
        }
    }
}
