//! The `spectrocloud-backend` command line: parse arguments, build, run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use palette_sim::{self as sim, Dataset, Knobs, SimConfig};
use spectrocloud_backend::config::{Config, LogConfig};
use spectrocloud_backend::domain::RunOutcome;
use spectrocloud_backend::sync::summary_table;
use spectrocloud_backend::{app, store, telemetry};

#[derive(Parser)]
#[command(
    name = "spectrocloud-backend",
    version,
    about = "A fast, reliable API over Spectro Cloud Palette, served from a local mirror (SQLite, or PostgreSQL for several replicas)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and run the sync workers until SIGINT/SIGTERM.
    Serve {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Start a Palette simulator and the server in one process, on loopback, with a temporary
    /// database and no authentication; prints the URLs, the MCP client configuration and
    /// example requests.
    Demo {
        /// Address of the API server.
        #[arg(long, default_value = "127.0.0.1:7007")]
        bind: String,
        /// Size of the simulated Palette.
        #[arg(long, value_enum, default_value_t = Dataset::Small)]
        dataset: Dataset,
        /// Also print a Palette session token per simulated user (to try X-SpectroCloud-Token).
        #[arg(long)]
        show_tokens: bool,
    },
    /// Serve a simulated Palette v1 API over deterministic synthetic data.
    PaletteSim(SimArgs),
    /// Run one sync pass, print a summary, and exit (non-zero on failure).
    Sync {
        /// Required: run a single pass (scheduled syncing is what `serve` does).
        #[arg(long)]
        once: bool,
        #[command(flatten)]
        config: ConfigArg,
        /// Only this environment (default: all).
        #[arg(long)]
        environment: Option<String>,
    },
    /// Write an online copy of the mirror database to PATH (never overwrites a file).
    Backup {
        /// Where the copy goes; must not exist yet.
        path: PathBuf,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Validate the configuration, reach the database it names, and print the configuration
    /// with secrets redacted. Errors (a set-up that cannot work, a database that cannot be
    /// used) exit 2; warnings (a likely mistake) are printed and exit 0.
    CheckConfig {
        #[command(flatten)]
        config: ConfigArg,
        /// Exit 1 when there is any warning (for CI).
        #[arg(long)]
        strict: bool,
    },
}

/// `--config PATH`, shared by every command that reads the configuration.
#[derive(Args)]
struct ConfigArg {
    /// Configuration file.
    #[arg(long, default_value = "config.toml")]
    config: PathBuf,
}

impl ConfigArg {
    /// The configuration, or exit code 2 after printing why it cannot be used.
    fn load(&self) -> Result<Config, ExitCode> {
        Config::load(&self.config).map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::from(2)
        })
    }
}

#[derive(Args)]
struct SimArgs {
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: String,
    /// Where the control API also answers past the outage gate (default: a free loopback
    /// port, printed at start).
    #[arg(long)]
    control_bind: Option<String>,
    /// Size of the simulated Palette.
    #[arg(long, value_enum, default_value_t = Dataset::Small)]
    dataset: Dataset,
    /// Seed of the data generator (same seed, same data).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The accepted API key.
    #[arg(long, default_value = "sim-api-key")]
    api_key: String,
    /// Added latency per request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Fraction of requests answered with a 5xx (0.0 to 1.0).
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Requests per second before answering 429 (0 = unlimited).
    #[arg(long, default_value_t = 0)]
    rate_limit: u32,
    /// Enforce Palette's documented per-prefix rate limits (per client address).
    #[arg(long)]
    palette_limits: bool,
    /// Multiply the rates of --palette-limits (0.2 = a fifth).
    #[arg(long, default_value_t = 1.0)]
    limits_scale: f64,
    /// Override the dataset's number of projects.
    #[arg(long)]
    projects: Option<usize>,
    /// Override the dataset's number of clusters.
    #[arg(long)]
    clusters: Option<usize>,
    /// Override the dataset's number of cluster profiles.
    #[arg(long)]
    profiles: Option<usize>,
    /// HTTP worker threads.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Every this many seconds a few clusters change state or upgrade a profile version
    /// (0 = never).
    #[arg(long, default_value_t = 0)]
    churn_seconds: u64,
}

impl TryFrom<SimArgs> for SimConfig {
    /// What to print after `error: ` (the command exits 2).
    type Error = String;

    fn try_from(a: SimArgs) -> Result<SimConfig, String> {
        if !(0.0..=1.0).contains(&a.error_rate) {
            return Err("--error-rate must be between 0 and 1".into());
        }
        if !(a.limits_scale.is_finite() && a.limits_scale > 0.0) {
            return Err("--limits-scale must be above 0".into());
        }
        let sizes = sim::sizes_for(a.dataset.name(), a.projects, a.clusters, a.profiles)?;
        Ok(SimConfig {
            sizes,
            seed: a.seed,
            api_key: a.api_key,
            workers: a.workers,
            control_bind: a.control_bind,
            knobs: Knobs {
                latency_ms: a.latency_ms,
                error_rate: a.error_rate,
                rate_limit: a.rate_limit,
                palette_limits: a.palette_limits,
                limits_scale: a.limits_scale,
                churn_every_seconds: a.churn_seconds,
                ..Knobs::default()
            },
        })
    }
}

fn main() -> ExitCode {
    spectrocloud_backend::memory::limit_arenas();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run()),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> ExitCode {
    match Cli::parse().command {
        Command::CheckConfig { config, strict } => check_config(&config, strict).await,
        Command::Serve { config } => serve(&config).await,
        Command::Sync {
            once,
            config,
            environment,
        } => sync_once(once, &config, environment.as_deref()).await,
        Command::Backup { path, config } => backup(&path, &config).await,
        Command::Demo {
            bind,
            dataset,
            show_tokens,
        } => {
            telemetry::init(&LogConfig::default());
            finish(app::demo(&bind, dataset.name(), show_tokens).await)
        }
        Command::PaletteSim(args) => palette_sim(args).await,
    }
}

/// The exit code of a command that ran: 0, or 1 after printing the error and its causes.
fn finish(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn check_config(arg: &ConfigArg, strict: bool) -> ExitCode {
    let c = match arg.load() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let warnings = c.warnings();
    for w in &warnings {
        eprintln!("warning: {}: {}", w.key, w.message);
    }
    // The database this configuration names must answer, with a schema this binary can use.
    let database = match store::check::database(&c.database).await {
        Ok(reached) => reached,
        Err(problem) => {
            eprintln!("error: database.url: {problem}");
            return ExitCode::from(2);
        }
    };
    println!("# database: {database}");
    let verdict = match warnings.len() {
        0 => String::new(),
        1 => ", with 1 warning (above)".to_string(),
        n => format!(", with {n} warnings (above)"),
    };
    println!(
        "# {} is valid{verdict}; effective configuration (secrets redacted):",
        arg.config.display()
    );
    print!("{}", c.to_redacted_toml());
    if strict && !warnings.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

async fn serve(arg: &ConfigArg) -> ExitCode {
    let config = match arg.load() {
        Ok(c) => c,
        Err(code) => return code,
    };
    telemetry::init(&config.log);
    for w in config.warnings() {
        tracing::warn!(key = %w.key, "configuration: {}", w.message);
    }
    finish(app::serve(config).await)
}

async fn sync_once(once: bool, arg: &ConfigArg, environment: Option<&str>) -> ExitCode {
    if !once {
        eprintln!("error: `sync` needs --once (scheduled syncing runs inside `serve`)");
        return ExitCode::from(2);
    }
    let config = match arg.load() {
        Ok(c) => c,
        Err(code) => return code,
    };
    telemetry::init(&config.log);
    finish(
        app::sync_once(config, environment)
            .await
            .and_then(|reports| {
                print!("{}", summary_table(&reports));
                if reports.iter().all(|r| r.outcome == RunOutcome::Success) {
                    Ok(())
                } else {
                    Err(anyhow::anyhow!("sync failed"))
                }
            }),
    )
}

async fn backup(path: &Path, arg: &ConfigArg) -> ExitCode {
    let config = match arg.load() {
        Ok(c) => c,
        Err(code) => return code,
    };
    telemetry::init(&config.log);
    let started = std::time::Instant::now();
    finish(app::backup(config, path).await.map(|bytes| {
        println!(
            "backup written to {} ({bytes} bytes, {:.1} s)",
            path.display(),
            started.elapsed().as_secs_f64()
        );
    }))
}

async fn palette_sim(args: SimArgs) -> ExitCode {
    telemetry::init(&LogConfig::default());
    let bind = args.bind.clone();
    match SimConfig::try_from(args) {
        Ok(config) => finish(
            sim::run_standalone(
                config,
                &bind,
                spectrocloud_backend::signal::wait_for_signal(),
            )
            .await,
        ),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
