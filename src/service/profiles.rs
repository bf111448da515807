//! Cluster profiles: details, packs, variables, search by names and the reverse lookup
//! profile → clusters.

use serde_json::{Value, json};

use super::through::Through;
use super::view::{Mirror, View};
use super::{Answer, Brief, Ctx, Origin, not_found};
use crate::auth::scope::Kind;
use crate::domain::{ProfileNames, Uid};
use crate::error::{AppError, AppResult};
use crate::palette::models;
use crate::store::profiles::{self, ClusterOnProfile, ProfileInfo, VersionRecord};
use crate::store::{ByName, Page};
use crate::sync::Freshness;

/// A profile version the caller may see (in project `asked`, when given).
async fn visible_version(
    m: &Mirror<'_>,
    uid: &str,
    asked: Option<&Uid>,
) -> AppResult<VersionRecord> {
    let v = profiles::version(m.db(), m.env(), uid)
        .await?
        .ok_or_else(|| not_found("Profile"))?;
    if !m.shows(
        Kind::Profile,
        v.project_uid.as_deref(),
        asked.map(Uid::as_str),
    ) {
        return Err(not_found("Profile"));
    }
    Ok(v)
}

/// Any version uid: that version (Palette's `GET /v1/clusterprofiles/{uid}`).
pub async fn detail(ctx: &Ctx, uid: &Uid, project: Option<&Uid>) -> AppResult<Answer> {
    packs(ctx, uid, None, project).await
}

/// The profile with packs (values, schema, presets); `version` picks another version of the
/// same profile.
pub async fn packs(
    ctx: &Ctx,
    uid: &Uid,
    version: Option<&Uid>,
    project: Option<&Uid>,
) -> AppResult<Answer> {
    let version = version.filter(|v| *v != uid);
    let m = match ctx.view().await? {
        View::Mirror(m) => m,
        View::Through(t) => return live_packs(&t, uid, version, project).await,
    };
    let base = visible_version(&m, uid, project).await?;
    let Some(version) = version.filter(|v| v.as_str() != base.uid) else {
        return match base.json {
            Some(json) => Ok(m.raw(json)),
            None => live_packs(&through(m), uid, None, project).await,
        };
    };
    let other = visible_version(&m, version, project).await?;
    if other.profile_uid != base.profile_uid {
        return Err(not_found("Profile version"));
    }
    match other.json {
        Some(json) => Ok(m.raw(json)),
        None => live_packs(&through(m), uid, Some(version), project).await,
    }
}

/// A listed version whose details are not in yet is read through, as before the first sync.
fn through(m: Mirror<'_>) -> Through<'_> {
    Through {
        ctx: m.ctx,
        vis: m.vis,
    }
}

/// As the original: the profile, or one of its versions, from Palette.
async fn live_packs(
    t: &Through<'_>,
    uid: &Uid,
    version: Option<&Uid>,
    project: Option<&Uid>,
) -> AppResult<Answer> {
    let path = match version {
        Some(v) => format!("/v1/clusterprofiles/{uid}/versions/{v}"),
        None => format!("/v1/clusterprofiles/{uid}"),
    };
    let call = t
        .get(path, project.map(Uid::as_str))
        .query("includePackMeta", "schema,presets");
    t.object(call, "Profile").await
}

/// `{variables: [...]}` of a profile version.
pub async fn variables(ctx: &Ctx, uid: &Uid, project: Option<&Uid>) -> AppResult<Answer> {
    let m = match ctx.view().await? {
        View::Mirror(m) => m,
        View::Through(t) => return live_variables(&t, uid, project).await,
    };
    let v = visible_version(&m, uid, project).await?;
    if v.json.is_none() {
        return live_variables(&through(m), uid, project).await;
    }
    let vars = profiles::variables(m.db(), m.env(), &v.uid).await?;
    Ok(m.raw(vars.unwrap_or_else(|| "{\"variables\":[]}".into())))
}

/// A profile version's variables, as Palette defines them (`None`: the answer had none).
#[derive(Debug)]
pub struct Variables {
    pub origin: Origin,
    pub variables: Option<Value>,
}

/// [`variables`], read.
pub async fn variables_of(ctx: &Ctx, uid: &Uid, project: Option<&Uid>) -> AppResult<Variables> {
    let a = variables(ctx, uid, project).await?;
    let mut v = a.value()?;
    let variables = v.get_mut("variables").map(Value::take);
    Ok(Variables {
        origin: a.origin,
        variables,
    })
}

async fn live_variables(t: &Through<'_>, uid: &Uid, project: Option<&Uid>) -> AppResult<Answer> {
    let path = format!("/v1/clusterprofiles/{uid}/variables");
    t.object(t.get(path, project.map(Uid::as_str)), "Profile")
        .await
}

/// `{profiles: [...]}` of the listed profiles with these exact names, case-insensitive; with
/// `project`, that project's and the tenant's.
pub async fn search(ctx: &Ctx, names: &ProfileNames, project: Option<&Uid>) -> AppResult<Answer> {
    found(ctx, names, project).await?.answer()
}

async fn found(ctx: &Ctx, names: &ProfileNames, project: Option<&Uid>) -> AppResult<Listing> {
    let project = project.map(Uid::as_str);
    let m = match ctx.view().await? {
        View::Mirror(m) => m,
        View::Through(t) => {
            // Every page (the original read only the first), then exact names, any case.
            let lowered: Vec<String> = names.as_slice().iter().map(|n| n.to_lowercase()).collect();
            let body = json!({"filter": {}, "sort": [{"field": "profileName", "order": "asc"}]});
            let items: Vec<Value> = t
                .profiles_in(project, body)
                .await?
                .into_iter()
                .filter(|p| lowered.contains(&models::name(p).to_lowercase()))
                .collect();
            return Ok(Listing::Live(items));
        }
    };
    let f = m.filter(Kind::Profile);
    let items = profiles::search_by_names(m.db(), m.env(), names.as_slice(), project, &f).await?;
    Ok(Listing::Stored(m.freshness, items))
}

/// [`search`] as summaries.
pub async fn search_summaries(
    ctx: &Ctx,
    names: &ProfileNames,
    project: Option<&Uid>,
) -> AppResult<Summaries> {
    found(ctx, names, project).await?.summaries()
}

/// A pack of a profile as an agent needs it: name, version, layer, its manifests.
#[derive(Debug, Clone)]
pub struct PackSummary {
    pub name: Option<String>,
    /// The tag when the pack has one, else its version.
    pub version: Option<String>,
    pub layer: Option<String>,
    pub manifests: Vec<ManifestRef>,
    /// Its values (YAML), sent only when asked for.
    pub values: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ManifestRef {
    pub name: Option<String>,
    pub uid: Option<String>,
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

impl PackSummary {
    /// A pack of Palette's profile object (its fields at the top or under `spec`).
    pub fn of(k: &Value) -> PackSummary {
        let s = if k["spec"].is_object() { &k["spec"] } else { k };
        let manifests = s["manifests"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        PackSummary {
            name: text(&s["name"]),
            version: text(&s["tag"]).or_else(|| text(&s["version"])),
            layer: text(&s["layer"]),
            manifests: manifests
                .iter()
                .map(|m| ManifestRef {
                    name: text(&m["name"]),
                    uid: text(&m["uid"]),
                })
                .collect(),
            values: text(&s["values"]),
        }
    }

    /// The packs of a JSON array.
    pub fn all(list: &Value) -> Vec<PackSummary> {
        let list = list.as_array().map(Vec::as_slice).unwrap_or_default();
        list.iter().map(PackSummary::of).collect()
    }
}

/// A profile version with its published packs.
#[derive(Debug)]
pub struct ProfilePacks {
    pub origin: Origin,
    pub brief: Brief,
    pub profile_type: Option<String>,
    pub cloud_type: Option<String>,
    pub version: Option<String>,
    pub published: bool,
    pub packs: Vec<PackSummary>,
}

/// [`packs`] of the version itself, summarised.
pub async fn pack_summaries(
    ctx: &Ctx,
    uid: &Uid,
    project: Option<&Uid>,
) -> AppResult<ProfilePacks> {
    let got = packs(ctx, uid, None, project).await?;
    let p = got.value()?;
    let published = &p["spec"]["published"];
    Ok(ProfilePacks {
        origin: got.origin,
        brief: Brief::of(&p),
        profile_type: text(&published["type"]),
        cloud_type: text(&published["cloudType"]),
        version: text(&p["spec"]["version"]),
        published: p["status"]["isPublished"] == true,
        packs: PackSummary::all(&published["packs"]),
    })
}

/// Profiles as listed: the stored objects of the mirror, or Palette's own.
pub enum Listing {
    Stored(Freshness, Vec<String>),
    Live(Vec<Value>),
}

impl Listing {
    /// `{"profiles": [...]}`, the objects as they are.
    pub fn answer(self) -> AppResult<Answer> {
        match self {
            Listing::Stored(fresh, items) => Ok(Answer::mirror(
                fresh,
                crate::store::json_list("profiles", &items),
            )),
            Listing::Live(items) => Answer::live_json(&json!({ "profiles": items })),
        }
    }

    /// Each profile's summary, in order.
    pub fn summaries(self) -> AppResult<Summaries> {
        let (origin, profiles) = match self {
            Listing::Stored(fresh, items) => {
                let read = |t: &String| {
                    serde_json::from_str::<Value>(t)
                        .map(|v| ProfileSummary::of(&v))
                        .map_err(|e| AppError::internal("reading a stored profile", e))
                };
                let all = items.iter().map(read).collect::<AppResult<_>>()?;
                (Origin::Mirror(fresh), all)
            }
            Listing::Live(items) => (Origin::Live, items.iter().map(ProfileSummary::of).collect()),
        };
        Ok(Summaries { origin, profiles })
    }
}

/// Listed profiles' summaries and where they came from.
#[derive(Debug)]
pub struct Summaries {
    pub origin: Origin,
    pub profiles: Vec<ProfileSummary>,
}

/// A listed profile: who it is, its type and latest version (from Palette's `specSummary`).
#[derive(Debug, Clone)]
pub struct ProfileSummary {
    pub brief: Brief,
    pub profile_type: Option<String>,
    pub cloud_type: Option<String>,
    pub version: Option<String>,
}

impl ProfileSummary {
    pub fn of(p: &Value) -> ProfileSummary {
        let published = &p["specSummary"]["published"];
        ProfileSummary {
            brief: Brief::of(p),
            profile_type: text(&published["type"]),
            cloud_type: text(&published["cloudType"]),
            version: text(&p["specSummary"]["version"]),
        }
    }
}

/// The reverse lookup: every cluster on ANY version of the profile (given by any of its version
/// uids), each with the version it runs, state, project and cloud type. Needs the mirror.
pub async fn clusters(ctx: &Ctx, uid: &Uid, page: Page) -> AppResult<Answer> {
    let on = clusters_on(ctx, uid, page).await?;
    let body = json!({ "profile": on.profile, "clusters": on.clusters, "total": on.total });
    Ok(Answer::mirror(on.freshness, super::to_text(&body)?))
}

/// A profile and a page of the clusters on any of its versions (of `total`), as read.
#[derive(Debug)]
pub struct ProfileClusters {
    pub freshness: Freshness,
    pub profile: ProfileInfo,
    pub clusters: Vec<ClusterOnProfile>,
    pub total: i64,
}

/// [`clusters`] as typed rows.
pub async fn clusters_on(ctx: &Ctx, uid: &Uid, page: Page) -> AppResult<ProfileClusters> {
    let m = ctx.mirror().await?;
    let v = visible_version(&m, uid, None).await?;
    let profile = profiles::lineage(m.db(), m.env(), &v.uid)
        .await?
        .ok_or_else(|| not_found("Profile"))?;
    let f = m.filter(Kind::Cluster);
    let (clusters, total) =
        profiles::clusters_on(m.db(), m.env(), &v.profile_uid, &f, page).await?;
    Ok(ProfileClusters {
        freshness: m.freshness,
        profile,
        clusters,
        total,
    })
}

/// A profile version given by any version uid (that very version: never another), or by a
/// name (any case) that must be unambiguous among the profiles the caller can see (with
/// `project`: that project's and the tenant's); `version` (a label such as `1.0.0`) picks one
/// of its versions, else the newest (as listed). Several matches list the candidates; none
/// lists the closest names.
pub async fn resolve(
    ctx: &Ctx,
    name: Option<&str>,
    uid: Option<Uid>,
    version: Option<&str>,
    project: Option<&Uid>,
) -> AppResult<Uid> {
    let m = ctx.mirror().await?;
    let listed = match (uid, name.filter(|n| !n.is_empty())) {
        (Some(u), _) => {
            let v = visible_version(&m, &u, project).await?;
            if version.is_none_or(str::is_empty) {
                return Ok(u);
            }
            v.profile_uid
        }
        (None, Some(name)) => named(&m, name, project).await?,
        (None, None) => {
            return Err(AppError::bad_request(
                "Provide either profileName or profileUid",
            ));
        }
    };
    let Some(want) = version.filter(|v| !v.is_empty()) else {
        return Uid::parse("profileUid", &listed);
    };
    let lineage = profiles::lineage(m.db(), m.env(), &listed)
        .await?
        .ok_or_else(|| not_found("Profile"))?;
    match lineage.versions.iter().find(|v| v.version == want) {
        Some(v) => Uid::parse("profileUid", &v.uid),
        None => {
            let have: Vec<&str> = lineage
                .versions
                .iter()
                .map(|v| v.version.as_str())
                .collect();
            Err(AppError::not_found(format!(
                "Profile {} has no version {want} (it has: {})",
                lineage.name,
                have.join(", ")
            )))
        }
    }
}

/// The listed uid of the one visible profile named `name`.
async fn named(m: &Mirror<'_>, name: &str, project: Option<&Uid>) -> AppResult<String> {
    let f = m.filter(Kind::Profile);
    let by = ByName {
        env: m.env(),
        name,
        project: project.map(Uid::as_str),
    };
    let found = profiles::named(m.db(), by, &f).await?;
    let known = match found.is_empty() {
        true => profiles::names(m.db(), m.env(), &f).await?,
        false => Vec::new(),
    };
    let lookup = super::names::Lookup {
        what: "profile",
        name,
        env: m.env(),
        project: project.map(Uid::as_str),
        narrow: "projectName, projectUid or profileUid",
    };
    let one = super::names::pick(&lookup, found, &known)?;
    Ok(one.uid)
}
