//! What the fleet page shows, read from the service functions' answers (the same JSON the API
//! serves, so the page and `/reports/...` cannot disagree) into display rows. No SQL and no
//! report logic here: only reshaping for the templates.

use std::collections::BTreeMap;

use super::charts::{self, BarChart, Segment, TrendChart};
use crate::domain::vocab;
use crate::error::AppResult;
use crate::service::Ctx;
use crate::service::events::{self, EventFilter};
use crate::service::reports::{self, PackUsageFilter, ProfileUsageFilter};

/// `?k=v&...` with every value percent-encoded.
fn query(pairs: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    format!("?{}", q.finish())
}

/// Where the page links to.
pub struct Links {
    pub profile_csv: String,
    pub profile_json: String,
    pub fleet_json: String,
    /// The pack-usage CSV of every pack; the template appends a search's own parameters.
    pub pack_csv: String,
}

impl Links {
    /// `via_page`: CSV from the page's own download routes (cookie) instead of the API's.
    pub fn new(base_path: &str, root: &str, env: &str, via_page: bool) -> Links {
        let api = base_path.trim_end_matches('/');
        let report = |name: &str, extra: &[(&str, &str)]| {
            let mut pairs = vec![("instance", env)];
            pairs.extend_from_slice(extra);
            format!("{api}/reports/{name}{}", query(&pairs))
        };
        let csv = |name: &str| {
            if via_page {
                format!("{root}/{name}.csv{}", query(&[("instance", env)]))
            } else {
                report(name, &[("format", "csv")])
            }
        };
        Links {
            profile_csv: csv("profile-usage"),
            profile_json: report("profile-usage", &[]),
            fleet_json: report("fleet", &[]),
            pack_csv: csv("pack-usage"),
        }
    }
}

// ------------------------------------------------------------------ environments

/// One environment in the header strip: its freshness and a link to its page.
pub struct EnvRow {
    pub name: String,
    pub href: String,
    pub synced_at: String,
    pub stale: bool,
    pub running: bool,
    pub outcome: String,
    pub current: bool,
}

pub async fn environments(ctx: &Ctx, root: &str) -> AppResult<Vec<EnvRow>> {
    // Rows show freshness and outcomes only, never counts.
    let all = crate::service::status::sync_status(&ctx.state, None, &[]).await?;
    Ok(all
        .into_iter()
        .map(|e| EnvRow {
            href: format!("{root}/{}", query(&[("instance", &e.name)])),
            current: e.name == ctx.env.name(),
            synced_at: e.last_success_at.unwrap_or_else(|| "never".into()),
            stale: e.stale,
            running: e.running.is_some(),
            outcome: e
                .last_run
                .map(|r| r.outcome.to_string())
                .unwrap_or_else(|| "none yet".into()),
            name: e.name,
        })
        .collect())
}

// ------------------------------------------------------------------ fleet

/// Clusters of the environment by state, health, cloud type and Kubernetes version.
pub struct FleetView {
    /// Every cluster, virtual ones included (as the fleet report counts).
    pub total: i64,
    /// How many of them are virtual (cloud type `nested`).
    pub virtual_clusters: i64,
    pub by_state: Vec<(String, i64)>,
    pub by_health: Vec<(String, i64)>,
    pub by_cloud: Vec<(String, i64)>,
    pub by_k8s: Vec<(String, i64)>,
}

impl FleetView {
    pub fn k8s_chart(&self) -> BarChart {
        charts::bars(&self.by_k8s, 460)
    }
}

/// Largest first, then by name: the order people read counts in.
fn ranked(m: &BTreeMap<String, i64>) -> Vec<(String, i64)> {
    let mut v: Vec<(String, i64)> = m.iter().map(|(k, n)| (k.clone(), *n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

pub async fn fleet(ctx: &Ctx) -> AppResult<FleetView> {
    let (_, report) = reports::fleet_report(ctx, false).await?;
    let mine = report
        .environments
        .into_iter()
        .find(|e| e.environment == ctx.env.name());
    let Some(c) = mine.and_then(|e| e.counts) else {
        return Ok(FleetView {
            total: 0,
            virtual_clusters: 0,
            by_state: Vec::new(),
            by_health: Vec::new(),
            by_cloud: Vec::new(),
            by_k8s: Vec::new(),
        });
    };
    // Versions in version order (newest on top) reads better in a chart than by count.
    let mut by_k8s: Vec<(String, i64)> = c
        .by_kubernetes_version
        .iter()
        .map(|(k, n)| (k.clone(), *n))
        .collect();
    by_k8s.sort_by_key(|(v, _)| std::cmp::Reverse(version_key(v)));
    Ok(FleetView {
        total: c.clusters,
        virtual_clusters: c
            .by_cloud_type
            .get(crate::domain::vocab::VIRTUAL_CLOUD)
            .copied()
            .unwrap_or(0),
        by_state: ranked(&c.by_state),
        by_health: ranked(&c.by_health),
        by_cloud: ranked(&c.by_cloud_type),
        by_k8s,
    })
}

/// `1.29.10` sorts after `1.29.9`: numeric parts compared as numbers.
fn version_key(v: &str) -> Vec<(u64, String)> {
    v.split(['.', '-'])
        .map(|p| (p.parse::<u64>().unwrap_or(0), p.to_string()))
        .collect()
}

pub const TREND_DAYS: u32 = 30;

pub async fn trend(ctx: &Ctx) -> AppResult<TrendChart> {
    let (_, t) = events::fleet_trend(ctx, TREND_DAYS).await?;
    let days: Vec<String> = t.days.iter().map(|d| d.day.clone()).collect();
    let mut states: Vec<String> = t
        .days
        .iter()
        .flat_map(|d| d.by_state.keys().cloned())
        .collect();
    states.sort();
    states.dedup();
    let series: Vec<(String, Vec<i64>)> = states
        .into_iter()
        .map(|s| {
            let values = t
                .days
                .iter()
                .map(|d| d.by_state.get(&s).copied().unwrap_or(0))
                .collect();
            (s, values)
        })
        .collect();
    Ok(charts::trend(&days, &series, 460, 150))
}

// ------------------------------------------------------------------ profile usage

pub struct ProfileRow {
    pub uid: String,
    pub name: String,
    pub kind: String,
    pub cloud: String,
    pub scope: String,
    pub latest_version: String,
    pub clusters: i64,
    pub backlog: i64,
    pub unused: bool,
    pub spread: Vec<Segment>,
    /// `1.0.0: 3 · 1.1.0: 5` (every version, also those without clusters).
    pub versions_text: String,
}

pub struct Profiles {
    pub rows: Vec<ProfileRow>,
    pub unused: usize,
    pub backlog: i64,
}

pub const SPREAD_WIDTH: u32 = 160;

pub async fn profiles(ctx: &Ctx) -> AppResult<Profiles> {
    let (_, report) = reports::profile_usage_report(ctx, &ProfileUsageFilter::default()).await?;
    let rows: Vec<ProfileRow> = report
        .profiles
        .into_iter()
        .map(|p| {
            let parts: Vec<(String, i64, bool)> = p
                .versions
                .iter()
                .map(|v| (v.version.to_string(), v.clusters, v.latest))
                .collect();
            ProfileRow {
                versions_text: parts
                    .iter()
                    .map(|(v, n, _)| format!("{v}: {n}"))
                    .collect::<Vec<_>>()
                    .join(" · "),
                spread: charts::spread(&parts, SPREAD_WIDTH),
                scope: p.project_name.unwrap_or(p.scope).to_string(),
                uid: p.uid.to_string(),
                name: p.name.to_string(),
                kind: p.profile_type.to_string(),
                cloud: p.cloud_type.to_string(),
                latest_version: p.latest_version.to_string(),
                clusters: p.clusters,
                backlog: p.upgrade_backlog,
                unused: p.unused,
            }
        })
        .collect();
    Ok(Profiles {
        unused: report.unused,
        backlog: rows.iter().map(|r| r.backlog).sum(),
        rows,
    })
}

// ------------------------------------------------------------------ pack search

pub struct PackRow {
    pub name: String,
    pub version: String,
    pub layer: String,
    pub clusters: i64,
}

/// A pack name the page offers instead (close to a typo, or containing the word).
pub struct Suggestion {
    pub name: String,
    pub href: String,
}

/// The pack search: nothing until a pack name is asked for.
pub struct PackSearch {
    pub asked: bool,
    pub rows: Vec<PackRow>,
    /// Clusters on a matched pack and version.
    pub total: usize,
    /// What matched, in words (the report's `search.message`).
    pub message: String,
    pub suggestions: Vec<Suggestion>,
    /// `&name=...&version=...` for the CSV link.
    pub csv: String,
}

pub async fn packs(
    ctx: &Ctx,
    root: &str,
    name: Option<&str>,
    version: Option<&str>,
) -> AppResult<PackSearch> {
    let Some(name) = name else {
        return Ok(PackSearch {
            asked: false,
            rows: Vec::new(),
            total: 0,
            message: String::new(),
            suggestions: Vec::new(),
            csv: String::new(),
        });
    };
    let filter = PackUsageFilter {
        name: Some(name.to_string()),
        version: version.map(str::to_string),
        tag: None,
    };
    let (_, report) = reports::pack_usage_report(ctx, &filter).await?;
    let search = report.search.unwrap_or_default();
    let env = ctx.env.name();
    let suggestions = search
        .did_you_mean
        .iter()
        .chain(&search.containing)
        .map(|n| {
            let mut pairs = vec![("instance", env), ("pack", n.as_str())];
            if let Some(v) = version {
                pairs.push(("version", v));
            }
            Suggestion {
                name: n.clone(),
                href: format!("{root}/{}", query(&pairs)),
            }
        })
        .collect();
    let rows: Vec<PackRow> = report
        .packs
        .into_iter()
        .map(|p| PackRow {
            name: p.name,
            version: p.tag,
            layer: p.layer,
            clusters: p.clusters,
        })
        .collect();
    let mut pairs = vec![("name", name)];
    if let Some(v) = version {
        pairs.push(("version", v));
    }
    Ok(PackSearch {
        asked: true,
        total: search.clusters,
        message: search.message,
        suggestions,
        rows,
        csv: query(&pairs).replacen('?', "&", 1),
    })
}

// ------------------------------------------------------------------ latest changes

pub struct ChangeRow {
    pub at: String,
    pub kind: String,
    pub object: String,
    pub from: String,
    pub to: String,
}

/// How many changes the page lists.
pub const CHANGES: i64 = 25;

pub async fn changes(ctx: &Ctx) -> AppResult<Vec<ChangeRow>> {
    let filter = EventFilter {
        limit: Some(CHANGES),
        ..EventFilter::default()
    };
    let (_, page) = events::list_events(ctx, &filter).await?;
    Ok(page
        .events
        .into_iter()
        .map(|e| {
            // A state, health or version nobody knows reads as in the counts above it.
            let said = |v: Option<String>| match e.event_type.as_str() {
                "cluster.state_changed"
                | "cluster.health_changed"
                | "cluster.kubernetes_version_changed" => vocab::word(v.as_deref()).into_owned(),
                _ => v.unwrap_or_default(),
            };
            ChangeRow {
                // `2026-12-02T07:17:47.130Z` → `2026-12-02 07:17:47`: enough on a laptop screen.
                at: e.at.get(..19).unwrap_or(&e.at).replacen('T', " ", 1),
                from: said(e.from),
                to: said(e.to),
                kind: e.event_type,
                object: e.object.name,
            }
        })
        .collect())
}
