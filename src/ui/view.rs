//! What the fleet page shows, read from the service functions' answers (the same JSON the API
//! serves, so the page and `/reports/...` cannot disagree) into display rows. No SQL and no
//! report logic here: only reshaping for the templates.

use serde::Deserialize;

use super::charts::{self, BarChart, Segment, TrendChart};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::reports::{self, ProfileUsageFilter};
use crate::service::{Answer, Ctx};

fn parse<T: for<'de> Deserialize<'de>>(answer: &Answer, what: &str) -> AppResult<T> {
    serde_json::from_slice(answer.bytes()).map_err(|e| AppError::internal(what, e))
}

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
    /// The pack-usage CSV, without the pack's own parameters (the template adds them).
    pub pack_csv_base: String,
    pub pack_all_csv: String,
}

impl Links {
    pub fn new(base_path: &str, _root: &str, env: &str) -> Links {
        let api = base_path.trim_end_matches('/');
        let report = |name: &str, extra: &[(&str, &str)]| {
            let mut pairs = vec![("instance", env)];
            pairs.extend_from_slice(extra);
            format!("{api}/reports/{name}{}", query(&pairs))
        };
        Links {
            profile_csv: report("profile-usage", &[("format", "csv")]),
            profile_json: report("profile-usage", &[]),
            fleet_json: report("fleet", &[]),
            pack_csv_base: report("pack-usage", &[("format", "csv")]),
            pack_all_csv: report("pack-usage", &[("format", "csv")]),
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
    let all = crate::service::status::sync_status(&ctx.state, None).await?;
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
                .map(|r| r.outcome)
                .unwrap_or_else(|| "none yet".into()),
            name: e.name,
        })
        .collect())
}

// ------------------------------------------------------------------ fleet

/// Clusters of the environment by state, health, cloud type and Kubernetes version.
pub struct FleetView {
    pub total: i64,
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

fn not_available(what: &str) -> AppError {
    AppError::new(
        ErrorCode::NotFound,
        format!("{what} is not available in this build."),
    )
}

pub async fn fleet(_ctx: &Ctx) -> AppResult<FleetView> {
    Err(not_available("The fleet report"))
}

pub async fn trend(_ctx: &Ctx) -> AppResult<TrendChart> {
    Err(not_available("The 30-day trend"))
}

// ------------------------------------------------------------------ profile usage

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsageReport {
    profiles: Vec<UsageProfile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsageProfile {
    uid: String,
    name: String,
    #[serde(default)]
    scope: String,
    #[serde(rename = "type", default)]
    profile_type: String,
    #[serde(default)]
    cloud_type: String,
    #[serde(default)]
    latest_version: String,
    clusters: i64,
    upgrade_backlog: i64,
    unused: bool,
    versions: Vec<UsageVersion>,
}

#[derive(Deserialize)]
struct UsageVersion {
    version: String,
    clusters: i64,
    latest: bool,
}

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
    let answer = reports::profile_usage(ctx, &ProfileUsageFilter::default()).await?;
    let report: UsageReport = parse(&answer, "reading the profile-usage report")?;
    let rows: Vec<ProfileRow> = report
        .profiles
        .into_iter()
        .map(|p| {
            let parts: Vec<(String, i64, bool)> = p
                .versions
                .iter()
                .map(|v| (v.version.clone(), v.clusters, v.latest))
                .collect();
            ProfileRow {
                versions_text: parts
                    .iter()
                    .map(|(v, n, _)| format!("{v}: {n}"))
                    .collect::<Vec<_>>()
                    .join(" · "),
                spread: charts::spread(&parts, SPREAD_WIDTH),
                uid: p.uid,
                name: p.name,
                kind: p.profile_type,
                cloud: p.cloud_type,
                scope: p.scope,
                latest_version: p.latest_version,
                clusters: p.clusters,
                backlog: p.upgrade_backlog,
                unused: p.unused,
            }
        })
        .collect();
    Ok(Profiles {
        unused: rows.iter().filter(|r| r.unused).count(),
        backlog: rows.iter().map(|r| r.backlog).sum(),
        rows,
    })
}

// ------------------------------------------------------------------ pack search

#[derive(Deserialize)]
struct PackReport {
    packs: Vec<PackEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PackEntry {
    name: String,
    #[serde(alias = "version", default)]
    tag: String,
    #[serde(default)]
    layer: String,
    clusters: i64,
}

pub struct PackRow {
    pub name: String,
    pub version: String,
    pub layer: String,
    pub clusters: i64,
}

/// The pack search: nothing until a pack name is asked for.
pub struct PackSearch {
    pub asked: bool,
    pub rows: Vec<PackRow>,
    pub total: i64,
    pub csv: String,
}

pub async fn packs(ctx: &Ctx, name: Option<&str>, version: Option<&str>) -> AppResult<PackSearch> {
    let Some(name) = name else {
        return Ok(PackSearch {
            asked: false,
            rows: Vec::new(),
            total: 0,
            csv: String::new(),
        });
    };
    let answer = reports::pack_usage(ctx, Some(name), version).await?;
    let report: PackReport = parse(&answer, "reading the pack-usage report")?;
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
        total: rows.iter().map(|r| r.clusters).sum(),
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

pub async fn changes(_ctx: &Ctx) -> AppResult<Vec<ChangeRow>> {
    Err(not_available("The change history"))
}
