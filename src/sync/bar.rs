//! `sync --once` progress: a bar per environment on a terminal (indicatif), a plain line every
//! few seconds otherwise (logs, CI).

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tokio_util::sync::CancellationToken;

use super::SyncEngine;

/// Plain progress lines are printed this often.
const LINE_EVERY: Duration = Duration::from_secs(5);

/// Shows the progress of `envs` until `stop` is cancelled.
pub async fn watch(engine: Arc<SyncEngine>, envs: Vec<String>, stop: CancellationToken) {
    if std::io::stderr().is_terminal() {
        bars(&engine, &envs, &stop).await;
    } else {
        lines(&engine, &envs, &stop).await;
    }
}

async fn bars(engine: &SyncEngine, envs: &[String], stop: &CancellationToken) {
    let multi = MultiProgress::new();
    let style = ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let bars: Vec<ProgressBar> = envs
        .iter()
        .map(|e| {
            let b = multi.add(ProgressBar::new(0));
            b.set_style(style.clone());
            b.set_prefix(e.clone());
            b
        })
        .collect();
    loop {
        for (env, bar) in envs.iter().zip(&bars) {
            let Some(v) = engine
                .env_state(env)
                .running
                .and_then(|r| r.progress.view())
            else {
                continue;
            };
            bar.set_length(v.kinds.values().map(|k| k.total).sum());
            bar.set_position(v.kinds.values().map(|k| k.done).sum());
            let eta = v
                .eta_seconds
                .map(|s| format!(", ~{s:.0} s left"))
                .unwrap_or_default();
            bar.set_message(format!(
                "{} · {} calls · {}{eta}",
                v.phase.as_str(),
                v.palette_calls,
                v.throttles_text()
            ));
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
    for b in bars {
        b.finish_and_clear();
    }
}

async fn lines(engine: &SyncEngine, envs: &[String], stop: &CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(LINE_EVERY) => {}
        }
        for env in envs {
            if let Some(v) = engine
                .env_state(env)
                .running
                .and_then(|r| r.progress.view())
            {
                eprintln!("{env}: {}", v.line());
            }
        }
    }
}
