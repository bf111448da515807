//! Tracing set-up: an env-filter (`RUST_LOG` wins over `log.level`), text or JSON lines.

use std::io::IsTerminal;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry};

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber writing to stderr. Safe to call more than once (later calls
/// are ignored).
pub fn init(config: &LogConfig) {
    let ansi = std::io::stderr().is_terminal();
    install(config, std::io::stderr, ansi);
}

/// Installs the global subscriber writing to `writer` (tests capture logs this way).
pub fn init_with_writer<W>(config: &LogConfig, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    install(config, writer, false);
}

/// Span closes are logged (with their duration), so every request, sync run and Palette call
/// leaves one line at its span's level.
fn install<W>(config: &LogConfig, writer: W, ansi: bool)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // sqlx logs every statement at info; keep that out unless asked for.
    let filter = filter
        .add_directive("sqlx=warn".parse().unwrap_or_default())
        .add_directive("actix_server=warn".parse().unwrap_or_default());
    let registry = Registry::default().with(filter);
    let _ = match config.format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_events(FmtSpan::CLOSE)
                    .with_writer(writer),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(true)
                    .with_ansi(ansi)
                    .with_span_events(FmtSpan::CLOSE)
                    .with_writer(writer),
            )
            .try_init(),
    };
}
