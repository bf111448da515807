//! The process's metrics recorder (`metrics` + `metrics-exporter-prometheus`), installed once.
//!
//! Several applications can run in one process (the tests do): each gets an `app` label
//! ([`next_app`]) on the series it emits, and its `/metrics` shows only its own series (plus
//! those emitted without an `app` label), with the label removed. Code that has no app at hand
//! may emit plain `metrics::counter!`/`histogram!` series: they are shown by every app.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
static NEXT_APP: AtomicU64 = AtomicU64::new(1);

/// Latency buckets (seconds) of Palette calls and HTTP answers.
const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// HTTP answers from the mirror take well under a millisecond: finer buckets at the low end.
const HTTP_BUCKETS: [f64; 15] = [
    0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The recorder, installed on first use. If another recorder was installed first (an embedding
/// program's), ours still renders, but sees nothing.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        // A full name is matched before a suffix.
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full("spectrocloud_http_request_duration_seconds".into()),
                    &HTTP_BUCKETS,
                )
            })
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// A label value unique to one application in this process.
pub fn next_app() -> String {
    handle();
    NEXT_APP.fetch_add(1, Ordering::Relaxed).to_string()
}

/// The exposition text of `app`: its series and the unlabelled ones, without the `app` label.
pub fn render(app: &str) -> String {
    filter(&handle().render(), app)
}

fn filter(text: &str, app: &str) -> String {
    let mine = format!("app=\"{app}\"");
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if line.starts_with('#') || !line.contains("app=\"") {
            out.push_str(line);
        } else if line.contains(&mine) {
            out.push_str(&strip(line, &mine));
        } else {
            continue;
        }
        out.push('\n');
    }
    out
}

/// Removes `label` (and its separating comma) from one sample line.
fn strip(line: &str, label: &str) -> String {
    for candidate in [format!("{label},"), format!(",{label}"), label.to_string()] {
        if line.contains(&candidate) {
            return line.replacen(&candidate, "", 1).replacen("{}", "", 1);
        }
    }
    line.to_string()
}

#[cfg(test)]
mod tests {
    use super::filter;

    #[test]
    fn an_app_sees_its_own_series_and_the_shared_ones_without_its_label() {
        let text = "# TYPE x counter\nx{app=\"1\",env=\"a\"} 3\nx{app=\"2\",env=\"a\"} 5\nx{env=\"a\",app=\"1\"} 4\ny{app=\"1\"} 1\nz 7\n";
        assert_eq!(
            filter(text, "1"),
            "# TYPE x counter\nx{env=\"a\"} 3\nx{env=\"a\"} 4\ny 1\nz 7\n"
        );
    }
}
