//! The `bfx` command line: a thin layer over the library.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use bfx::analyze::{AgentOptions, AnalyzeOptions, analyze_args};
use bfx::detect::DetectorSettings;
use bfx::format::ParseOptions;
use bfx::format::prefix::{CustomFormat, LineFormat};

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
    Analyze(AnalyzeArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// Tables for a terminal.
    Table,
    /// The documented JSON schema (docs/json-schema.md).
    Json,
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
            let opts = AnalyzeOptions {
                parse: ParseOptions { custom, batch_bytes: 0 },
                detect: DetectorSettings { idle_threshold_s: args.idle_threshold, max_listed_calls: args.max_listed },
                agent,
            };
            let mut analysis = analyze_args(&args.inputs, &opts);
            if args.timelines {
                analysis = analysis.with_timelines();
            }
            let text = match args.format {
                Format::Table => bfx::render::terminal(&analysis),
                Format::Json => bfx::render::json(&analysis),
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
