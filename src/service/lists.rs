//! Compact, paged, filtered lists (what an agent can read in one go): `{items, total,
//! nextCursor}` plus `truncated: true` when more follow, or counts only (`summary`). The paging
//! and filtering rules live here, as plain functions, for the MCP tools and HTTP alike.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::Ctx;
use crate::auth::scope::Kind;
use crate::domain::{Uid, vocab};
use crate::error::{AppError, AppResult};
use crate::store::clusters::{self, BriefRow};

pub const DEFAULT_LIMIT: usize = 25;
pub const MAX_LIMIT: usize = 500;

/// Which slice of a list: at most `limit` items from `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub limit: usize,
    pub offset: usize,
}

impl Window {
    /// `limit` (default 25, 1..=500) and the `cursor` of an earlier page.
    pub fn parse(limit: Option<u32>, cursor: Option<&str>) -> AppResult<Window> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(n @ 1..=500) => n as usize,
            Some(n) => {
                return Err(AppError::bad_request(format!(
                    "limit must be between 1 and {MAX_LIMIT}, not {n}"
                )));
            }
        };
        let offset = match cursor.filter(|c| !c.is_empty()) {
            None => 0,
            Some(c) => decode_cursor(c).ok_or_else(|| {
                AppError::bad_request(
                    "cursor is not one this service gave out; start again without it",
                )
            })?,
        };
        Ok(Window { limit, offset })
    }
}

fn encode_cursor(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("o:{offset}"))
}

fn decode_cursor(c: &str) -> Option<usize> {
    let raw = URL_SAFE_NO_PAD.decode(c).ok()?;
    std::str::from_utf8(&raw)
        .ok()?
        .strip_prefix("o:")?
        .parse()
        .ok()
}

/// One page of a list.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Paged<T> {
    /// This page's items (none in summary mode).
    pub items: Vec<T>,
    /// Items matching the filters, over all pages.
    pub total: usize,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// True when more items follow this page.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// Counts per field value (summary mode only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<BTreeMap<String, BTreeMap<String, usize>>>,
}

/// The page `w` of `all` (already filtered and ordered).
pub fn page<T>(all: Vec<T>, w: Window) -> Paged<T> {
    let total = all.len();
    let items: Vec<T> = all.into_iter().skip(w.offset).take(w.limit).collect();
    let end = w.offset + items.len();
    let more = end < total;
    Paged {
        items,
        total,
        next_cursor: more.then(|| encode_cursor(end)),
        truncated: more,
        summary: None,
    }
}

/// Counts only: `fields` name what to count by, `key` reads an item's value of each field.
pub fn summary<T>(all: &[T], fields: &[&str], key: impl Fn(&T, &str) -> String) -> Paged<Value> {
    let mut counts: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for item in all {
        for f in fields {
            *counts
                .entry((*f).to_string())
                .or_default()
                .entry(key(item, f))
                .or_default() += 1;
        }
    }
    Paged {
        items: Vec::new(),
        total: all.len(),
        next_cursor: None,
        truncated: false,
        summary: Some(counts),
    }
}

/// A page of JSON items, or their counts, as JSON.
pub fn to_value<T: Serialize>(p: &Paged<T>) -> AppResult<Value> {
    serde_json::to_value(p).map_err(|e| AppError::internal("writing an answer", e))
}

/// A cluster as an agent sees it: name and uid, state, health, where it runs.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterBrief {
    pub uid: String,
    pub name: String,
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    pub cloud_type: String,
    /// `project` or `tenant`.
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl From<BriefRow> for ClusterBrief {
    fn from(r: BriefRow) -> Self {
        let tags = r
            .tags
            .as_deref()
            .and_then(|t| serde_json::from_str::<Vec<String>>(t).ok())
            .unwrap_or_default();
        ClusterBrief {
            uid: r.uid,
            name: r.name,
            state: vocab::word(Some(&r.state)).into_owned(),
            health: r.health.filter(|h| !h.is_empty()),
            cloud_type: r.cloud_type,
            scope: r.scope,
            project_uid: r.project_uid,
            project_name: r.project_name,
            kubernetes_version: r.kubernetes_version.filter(|k| !k.is_empty()),
            tags,
        }
    }
}

/// Narrowing of a cluster list; every field optional, all given ones must hold.
#[derive(Debug, Default, Clone)]
pub struct ClusterFilter {
    /// Case-insensitive substring of the name.
    pub name: Option<String>,
    /// Exact state, any case (`Running`, `Provisioning`, …).
    pub state: Option<String>,
    /// Exact health, any case (`Healthy`, `UnHealthy`, …).
    pub health: Option<String>,
    pub cloud_type: Option<String>,
    /// Prefix of the Kubernetes version up to a dot, dash or plus (`1.29` matches `1.29.4`,
    /// not `1.290`).
    pub kubernetes_version: Option<String>,
    pub project: Option<Uid>,
    /// One of the cluster's tags, exactly (`stage:prod`).
    pub tag: Option<String>,
}

fn same(want: &Option<String>, have: Option<&str>) -> bool {
    want.as_deref()
        .is_none_or(|w| have.is_some_and(|h| h.eq_ignore_ascii_case(w)))
}

impl ClusterFilter {
    pub fn keeps(&self, c: &ClusterBrief) -> bool {
        let name = self.name.as_deref().map(str::to_lowercase);
        name.is_none_or(|n| c.name.to_lowercase().contains(&n))
            && same(&self.state, Some(&c.state))
            && same(&self.health, c.health.as_deref())
            && same(&self.cloud_type, Some(&c.cloud_type))
            && self.kubernetes_version.as_deref().is_none_or(|k| {
                // The pack search's version rule: 1.3 takes 1.3.x, not 1.30.
                c.kubernetes_version
                    .as_deref()
                    .is_some_and(|v| crate::store::reports::version_matches(v, k))
            })
            && self
                .project
                .as_ref()
                .is_none_or(|p| c.project_uid.as_deref() == Some(p.as_str()))
            && self
                .tag
                .as_deref()
                .is_none_or(|t| c.tags.iter().any(|x| x == t))
    }
}

/// The fields a cluster summary counts by.
pub const CLUSTER_SUMMARY: &[&str] = &["state", "health", "cloudType", "project"];

/// The word a summary counts a cluster under, in the one vocabulary ([`vocab`]).
fn cluster_key(c: &ClusterBrief, field: &str) -> String {
    match field {
        "state" => vocab::word(Some(&c.state)).into_owned(),
        "health" => vocab::word(c.health.as_deref()).into_owned(),
        "cloudType" => vocab::word(Some(&c.cloud_type)).into_owned(),
        _ => vocab::project(c.project_name.as_deref(), c.project_uid.as_deref()).to_string(),
    }
}

/// Which clusters a list holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// Every cluster, virtual ones included: what Palette's dashboard and every count of
    /// clusters (the fleet report, the fleet page, summaries) take.
    All,
    /// Virtual clusters only.
    Virtual,
    /// Clusters that are not virtual (names of the cluster routes, which the original keeps
    /// apart from virtual ones).
    NotVirtual,
}

/// Every visible cluster of `which` matching `filter`, by name. Needs the mirror.
pub async fn cluster_briefs(
    ctx: &Ctx,
    which: Which,
    filter: &ClusterFilter,
) -> AppResult<Vec<ClusterBrief>> {
    let m = ctx.mirror().await?;
    let (kind, only) = match which {
        Which::All => (Kind::Cluster, None),
        Which::Virtual => (Kind::VirtualCluster, Some(true)),
        Which::NotVirtual => (Kind::Cluster, Some(false)),
    };
    let rows = clusters::briefs(m.db(), m.env(), only, &m.filter(kind)).await?;
    Ok(rows
        .into_iter()
        .map(ClusterBrief::from)
        .filter(|c| filter.keeps(c))
        .collect())
}

/// A page of clusters (or of virtual clusters), or their counts with `summary`.
pub async fn clusters(
    ctx: &Ctx,
    which: Which,
    filter: &ClusterFilter,
    w: Window,
    summary_only: bool,
) -> AppResult<Value> {
    let all = cluster_briefs(ctx, which, filter).await?;
    if summary_only {
        return to_value(&summary(&all, CLUSTER_SUMMARY, cluster_key));
    }
    to_value(&page(all, w))
}

/// A page of JSON items kept by `keep` (already in their order), or their count.
pub fn values(
    all: Vec<Value>,
    keep: impl Fn(&Value) -> bool,
    w: Window,
    summary_only: bool,
) -> AppResult<Value> {
    let kept: Vec<Value> = all.into_iter().filter(|v| keep(v)).collect();
    if summary_only {
        let fields = value_fields(&kept);
        return to_value(&summary(&kept, &fields, value_key));
    }
    to_value(&page(kept, w))
}

/// What a summary of JSON items may count by, each where the items carry it.
const VALUE_SUMMARY: &[&str] = &[
    "state",
    "health",
    "cloudType",
    "type",
    "layer",
    "profileVersion",
    "project",
];

/// The fields of [`VALUE_SUMMARY`] the items carry: a cluster-like item (one with a state)
/// counts by health too, since a missing health is left out of the item; every item with a
/// scope or project counts by project.
fn value_fields(items: &[Value]) -> Vec<&'static str> {
    let has = |k: &str| items.iter().any(|v| v.get(k).is_some());
    VALUE_SUMMARY
        .iter()
        .copied()
        .filter(|f| match *f {
            "health" => has("health") || has("state"),
            "project" => has("projectUid") || has("projectName") || has("scope"),
            f => has(f),
        })
        .collect()
}

/// The word an item counts under for `field`, as for clusters ([`cluster_key`]).
fn value_key(v: &Value, field: &str) -> String {
    if field == "project" {
        return vocab::project(v["projectName"].as_str(), v["projectUid"].as_str()).to_string();
    }
    vocab::word(v[field].as_str()).into_owned()
}

/// Whether `v[field]` contains `needle` (case-insensitive); no needle keeps everything.
pub fn name_has(v: &Value, field: &str, needle: Option<&str>) -> bool {
    needle.is_none_or(|n| {
        v[field]
            .as_str()
            .is_some_and(|s| s.to_lowercase().contains(&n.to_lowercase()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_limits_and_cursors() {
        assert_eq!(
            Window::parse(None, None).unwrap(),
            Window {
                limit: 25,
                offset: 0
            }
        );
        assert!(Window::parse(Some(0), None).is_err());
        assert!(Window::parse(Some(501), None).is_err());
        assert!(Window::parse(None, Some("garbage!")).is_err());
        let c = encode_cursor(40);
        assert_eq!(Window::parse(Some(500), Some(&c)).unwrap().offset, 40);
    }

    #[test]
    fn pages_run_to_the_end() {
        let mut w = Window::parse(Some(2), None).unwrap();
        let mut seen = Vec::new();
        loop {
            let p = page((0..5).collect::<Vec<_>>(), w);
            assert_eq!(p.total, 5);
            seen.extend(p.items);
            match p.next_cursor {
                Some(c) => {
                    assert!(p.truncated);
                    w = Window::parse(Some(2), Some(&c)).unwrap();
                }
                None => break assert!(!p.truncated),
            }
        }
        assert_eq!(seen, vec![0, 1, 2, 3, 4]);
    }

    fn brief(name: &str, k8s: &str, tags: &[&str]) -> ClusterBrief {
        ClusterBrief {
            uid: format!("uid-{name}"),
            name: name.into(),
            state: "Running".into(),
            health: Some("Healthy".into()),
            cloud_type: "eks".into(),
            scope: "project".into(),
            project_uid: Some("p1".into()),
            project_name: Some("team-a".into()),
            kubernetes_version: Some(k8s.into()),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn filters_all_must_hold() {
        let c = brief("Web-Prod", "1.29.4", &["stage:prod"]);
        assert!(ClusterFilter::default().keeps(&c));
        let f = ClusterFilter {
            name: Some("web".into()),
            state: Some("running".into()),
            kubernetes_version: Some("1.29".into()),
            tag: Some("stage:prod".into()),
            ..Default::default()
        };
        assert!(f.keeps(&c));
        let other = ClusterFilter {
            kubernetes_version: Some("1.30".into()),
            ..f.clone()
        };
        assert!(!other.keeps(&c));
        let short = ClusterFilter {
            kubernetes_version: Some("1.2".into()),
            ..f.clone()
        };
        assert!(!short.keeps(&c), "1.2 does not take 1.29.4");
        let untagged = ClusterFilter {
            tag: Some("stage:dev".into()),
            ..f
        };
        assert!(!untagged.keeps(&c));
    }

    #[test]
    fn json_summaries_count_by_the_fields_items_carry() {
        use serde_json::json;
        let items = vec![
            json!({"uid": "a", "state": "Running", "health": "Healthy", "projectUid": "p1",
                   "projectName": "team-a", "profileVersion": "1.0.0"}),
            json!({"uid": "b", "state": "Unknown", "projectUid": null, "profileVersion": "1.1.0"}),
        ];
        let v = values(items, |_| true, Window::parse(None, None).unwrap(), true).unwrap();
        let s = &v["summary"];
        assert_eq!(s["state"]["Running"], 1);
        assert_eq!(s["state"][vocab::UNKNOWN], 1);
        assert_eq!(s["health"][vocab::UNKNOWN], 1, "{s}");
        assert_eq!(s["project"][vocab::TENANT], 1);
        assert_eq!(s["profileVersion"]["1.1.0"], 1);
        assert!(s.get("layer").is_none());
        assert_eq!(v["total"], 2);
    }

    #[test]
    fn summaries_count_by_field() {
        let all = vec![brief("a", "1.29", &[]), brief("b", "1.29", &[])];
        let s = summary(&all, CLUSTER_SUMMARY, cluster_key);
        assert_eq!(s.total, 2);
        assert!(s.items.is_empty());
        assert_eq!(s.summary.unwrap()["project"]["team-a"], 2);
    }
}
