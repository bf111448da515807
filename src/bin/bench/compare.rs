//! `bench reads --postgres`: the two backends' runs side by side, per route, against the
//! targets for PostgreSQL (relative to SQLite on the same dataset and machine).

use crate::load::Figures;
use crate::reads::{Kind, Row, Run};

/// Cached answers: the same speed, within the noise of a 2-core machine.
const CACHED_RATIO: f64 = 1.3;
/// Or, for sub-millisecond tails, an absolute difference below this.
const CACHED_SLACK_MS: f64 = 1.0;
/// Built reports and detail reads: within this factor of SQLite.
const BUILT_RATIO: f64 = 2.0;
/// The cold sync: unchanged, within the same noise as cached answers.
const SYNC_RATIO: f64 = 1.3;

/// The target of a row's kind, and whether PostgreSQL's figures `pg` meet it against `sq`.
fn judge(kind: Kind, sq: &Figures, pg: &Figures) -> (&'static str, bool) {
    let ratio = pg.p99_ms / sq.p99_ms.max(0.001);
    match kind {
        Kind::Cached => (
            "p99 ≤1.3× or <1 ms more",
            ratio <= CACHED_RATIO || pg.p99_ms - sq.p99_ms < CACHED_SLACK_MS,
        ),
        Kind::Built | Kind::Detail => ("p99 ≤2×", ratio <= BUILT_RATIO),
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Cached => "cached",
        Kind::Built => "built",
        Kind::Detail => "detail",
    }
}

fn verdict(pass: bool) -> &'static str {
    if pass { "met" } else { "MISSED" }
}

/// Prints the comparison of `sq` (SQLite) and `pg` (PostgreSQL).
pub fn print(sq: &Run, pg: &Run) {
    println!();
    println!(
        "{} vs {}, the same routes on the same dataset (p50 / p99 in ms; ×: {} ÷ {}):",
        sq.backend, pg.backend, pg.backend, sq.backend
    );
    println!(
        "  {:<52} {:<6} {:>7} {:>7} {:>8} | {:>7} {:>7} {:>8} | {:>6} {:>6} {:>7}  {:<24}",
        "read",
        "kind",
        "p50",
        "p99",
        "req/s",
        "p50",
        "p99",
        "req/s",
        "p50 ×",
        "p99 ×",
        "req/s ×",
        "target"
    );
    for row in &sq.rows {
        match pg.rows.iter().find(|r| r.label == row.label) {
            Some(other) => print_row(row, other),
            None => println!("  {:<52} not measured on {}", row.label, pg.backend),
        }
    }
    let ratio = pg.sync_secs / sq.sync_secs.max(0.001);
    println!(
        "  {:<52} {:>8.1} s | {:>8.1} s | {ratio:.2}×  target unchanged (≤{SYNC_RATIO}×)  {}",
        "cold sync into the empty mirror",
        sq.sync_secs,
        pg.sync_secs,
        verdict(ratio <= SYNC_RATIO)
    );
    for (what, a, b) in [
        (
            "server RSS after the sync",
            sq.rss_synced_mib,
            pg.rss_synced_mib,
        ),
        (
            "server RSS after the run",
            sq.rss_after_mib,
            pg.rss_after_mib,
        ),
    ] {
        println!(
            "  {what:<52} {a:>6.0} MiB | {b:>6.0} MiB | target <150 MiB  {}",
            verdict(a < 150.0 && b < 150.0)
        );
    }
}

fn print_row(sq: &Row, pg: &Row) {
    let (a, b) = (&sq.figures, &pg.figures);
    let (target, pass) = judge(sq.kind, a, b);
    let errors = if b.errors > 0 {
        format!(" ({} errors)", b.errors)
    } else {
        String::new()
    };
    println!(
        "  {:<52} {:<6} {:>7.2} {:>7.2} {:>8.0} | {:>7.2} {:>7.2} {:>8.0} | {:>6.2} {:>6.2} {:>7.2}  {:<24} {}{errors}",
        sq.label,
        kind_name(sq.kind),
        a.p50_ms,
        a.p99_ms,
        a.rps,
        b.p50_ms,
        b.p99_ms,
        b.rps,
        b.p50_ms / a.p50_ms.max(0.001),
        b.p99_ms / a.p99_ms.max(0.001),
        b.rps / a.rps.max(0.001),
        target,
        verdict(pass && b.errors == 0)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(p99_ms: f64) -> Figures {
        Figures {
            p99_ms,
            ..Figures::default()
        }
    }

    #[test]
    fn cached_answers_allow_the_noise_or_a_millisecond() {
        let judged = |sq, pg| judge(Kind::Cached, &figures(sq), &figures(pg)).1;
        assert!(judged(10.0, 12.9));
        assert!(!judged(10.0, 13.5));
        // Sub-millisecond tails: a small absolute difference is noise.
        assert!(judged(0.3, 1.2));
        assert!(!judged(0.3, 1.4));
    }

    #[test]
    fn built_and_detail_reads_allow_twice_sqlite() {
        for kind in [Kind::Built, Kind::Detail] {
            assert!(judge(kind, &figures(5.0), &figures(9.9)).1);
            assert!(!judge(kind, &figures(5.0), &figures(10.5)).1);
        }
    }
}
