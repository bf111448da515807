//! The `spectrocloud-backend` command line: parse arguments, build, run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use palette_sim::{self as sim, Dataset, Knobs, SimConfig};
use spectrocloud_backend::config::{Config, LogConfig};
use spectrocloud_backend::domain::RunOutcome;
use spectrocloud_backend::sync::summary_table;
use spectrocloud_backend::{app, telemetry};

#[derive(Parser)]
#[command(
    name = "spectrocloud-backend",
    version,
    about = "A fast, reliable API over Spectro Cloud Palette, served from a local SQLite mirror."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and run the sync workers until SIGINT/SIGTERM.
    Serve {
        /// Configuration file.
        #[arg(long, default_value = "config.toml")]
        config: PathBuf,
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
    PaletteSim {
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: String,
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
    },
    /// Run one sync pass, print a summary, and exit (non-zero on failure).
    Sync {
        /// Required: run a single pass (scheduled syncing is what `serve` does).
        #[arg(long)]
        once: bool,
        #[arg(long, default_value = "config.toml")]
        config: PathBuf,
        /// Only this environment (default: all).
        #[arg(long)]
        environment: Option<String>,
    },
    /// Write an online copy of the mirror database to PATH (never overwrites a file).
    Backup {
        /// Where the copy goes; must not exist yet.
        path: PathBuf,
        #[arg(long, default_value = "config.toml")]
        config: PathBuf,
    },
    /// Validate the configuration and print it with secrets redacted. Errors (a set-up that
    /// cannot work) exit 2; warnings (a likely mistake) are printed and exit 0.
    CheckConfig {
        #[arg(long, default_value = "config.toml")]
        config: PathBuf,
        /// Exit 1 when there is any warning (for CI).
        #[arg(long)]
        strict: bool,
    },
}

fn load(path: &Path) -> Result<Config, ExitCode> {
    Config::load(path).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
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
    let cli = Cli::parse();
    let result = match cli.command {
        Command::CheckConfig { config, strict } => {
            let c = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let warnings = c.warnings();
            for w in &warnings {
                eprintln!("warning: {}: {}", w.key, w.message);
            }
            let verdict = match warnings.len() {
                0 => String::new(),
                1 => ", with 1 warning (above)".to_string(),
                n => format!(", with {n} warnings (above)"),
            };
            println!(
                "# {} is valid{verdict}; effective configuration (secrets redacted):",
                config.display()
            );
            print!("{}", c.to_redacted_toml());
            return if strict && !warnings.is_empty() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
        Command::Serve { config } => {
            let config = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            telemetry::init(&config.log);
            for w in config.warnings() {
                tracing::warn!(key = %w.key, "configuration: {}", w.message);
            }
            app::serve(config).await
        }
        Command::Sync {
            once,
            config,
            environment,
        } => {
            if !once {
                eprintln!("error: `sync` needs --once (scheduled syncing runs inside `serve`)");
                return ExitCode::from(2);
            }
            let config = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            telemetry::init(&config.log);
            match app::sync_once(config, environment.as_deref()).await {
                Ok(reports) => {
                    print!("{}", summary_table(&reports));
                    if reports.iter().all(|r| r.outcome == RunOutcome::Success) {
                        Ok(())
                    } else {
                        Err(anyhow::anyhow!("sync failed"))
                    }
                }
                Err(e) => Err(e),
            }
        }
        Command::Backup { path, config } => {
            let config = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            telemetry::init(&config.log);
            let started = std::time::Instant::now();
            app::backup(config, &path).await.map(|bytes| {
                println!(
                    "backup written to {} ({bytes} bytes, {:.1} s)",
                    path.display(),
                    started.elapsed().as_secs_f64()
                );
            })
        }
        Command::Demo {
            bind,
            dataset,
            show_tokens,
        } => {
            telemetry::init(&LogConfig::default());
            app::demo(&bind, dataset.name(), show_tokens).await
        }
        Command::PaletteSim {
            bind,
            dataset,
            seed,
            api_key,
            latency_ms,
            error_rate,
            rate_limit,
            palette_limits,
            limits_scale,
            projects,
            clusters,
            profiles,
            workers,
            churn_seconds,
        } => {
            telemetry::init(&LogConfig::default());
            if !(0.0..=1.0).contains(&error_rate) {
                eprintln!("error: --error-rate must be between 0 and 1");
                return ExitCode::from(2);
            }
            if !(limits_scale.is_finite() && limits_scale > 0.0) {
                eprintln!("error: --limits-scale must be above 0");
                return ExitCode::from(2);
            }
            let sizes = match sim::sizes_for(dataset.name(), projects, clusters, profiles) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let config = SimConfig {
                sizes,
                seed,
                api_key,
                workers,
                knobs: Knobs {
                    latency_ms,
                    error_rate,
                    rate_limit,
                    palette_limits,
                    limits_scale,
                    churn_every_seconds: churn_seconds,
                    ..Knobs::default()
                },
            };
            sim::run_standalone(
                config,
                &bind,
                spectrocloud_backend::signal::wait_for_signal(),
            )
            .await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
