//! Tracing set-up: an env-filter (`RUST_LOG` wins over `log.level`), text or JSON lines.

use std::io::IsTerminal;

use tracing::Subscriber;
use tracing_subscriber::fmt::format::{FmtSpan, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
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

/// The name of every HTTP request's span (`api::middleware::RequestSpan`).
pub const REQUEST_SPAN: &str = "HTTP request";

/// Span closes are logged (with their duration), so every sync run and Palette call leaves one
/// line at its span's level. A request logs its own outcome line at the outcome's level, so
/// its span's close is left out (it would say the same thing twice, at INFO).
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
                    .with_span_events(FmtSpan::CLOSE)
                    .with_writer(writer)
                    .event_format(SkipRequestClose(
                        tracing_subscriber::fmt::format()
                            .json()
                            .with_current_span(true),
                    )),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(ansi)
                    .with_span_events(FmtSpan::CLOSE)
                    .with_writer(writer)
                    .event_format(SkipRequestClose(
                        tracing_subscriber::fmt::format()
                            .with_target(true)
                            .with_ansi(ansi),
                    )),
            )
            .try_init(),
    };
}

/// Formats every event as `F` does, except the close of a request span (nothing is written).
struct SkipRequestClose<F>(F);

impl<S, N, F> FormatEvent<S, N> for SkipRequestClose<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        // A span's close arrives as an event carrying the span's own metadata.
        if meta.is_span() && meta.name() == REQUEST_SPAN {
            return Ok(());
        }
        self.0.format_event(ctx, writer, event)
    }
}
