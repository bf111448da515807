//! Cloud accounts (secrets removed), cluster groups and private cloud gateways.

use serde_json::{Value, json};

use super::view::View;
use super::{Answer, Briefs, Ctx, Object, not_found};
use crate::auth::scope::Kind;
use crate::domain::{CloudType, Uid};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::palette::models;
use crate::service::through::page_of;
use crate::store::{Listed, NamedRow, Page, infra};

/// `{accounts: [...]}` live from Palette, secrets stripped.
async fn live_accounts(
    ctx: &Ctx,
    cloud: &CloudType,
    project: Option<&str>,
    page: Page,
) -> AppResult<Answer> {
    let path = format!("/v1/cloudaccounts/{}", cloud.as_str());
    let answer = ctx
        .send(ctx.env.client.get(path.clone()).project(project))
        .await?;
    let mut v: Value = answer.json(&path).map_err(AppError::from)?;
    let mut items = match v.get_mut("items").map(Value::take) {
        Some(Value::Array(a)) => a,
        _ => match v {
            Value::Array(a) => a,
            _ => Vec::new(),
        },
    };
    items.iter_mut().for_each(models::strip_secrets);
    Answer::live_json(&json!({ "accounts": page_of(items, page) }))
}

/// One account live from Palette, secrets stripped.
async fn live_account(
    ctx: &Ctx,
    cloud: &CloudType,
    account: &Uid,
    project: Option<&str>,
) -> AppResult<Answer> {
    let path = format!("/v1/cloudaccounts/{}/{account}", cloud.as_str());
    let answer = ctx
        .send(ctx.env.client.get(path.clone()).project(project))
        .await
        .map_err(|e| match e.code {
            ErrorCode::NotFound => not_found("Cloud account"),
            _ => e,
        })?;
    let mut v: Value = answer.json(&path).map_err(AppError::from)?;
    models::strip_secrets(&mut v);
    Answer::live_json(&v)
}

/// `{accounts: [...]}`: aws, azure and vSphere from the mirror, other clouds (not mirrored:
/// gcp, maas, ...) from Palette.
pub async fn accounts(
    ctx: &Ctx,
    cloud: &CloudType,
    project: Option<&Uid>,
    page: Page,
) -> AppResult<Answer> {
    let project = project.map(Uid::as_str);
    if !cloud.accounts_mirrored() {
        return live_accounts(ctx, cloud, project, page).await;
    }
    match ctx.view().await? {
        View::Mirror(m) => {
            let f = m.filter(Kind::CloudAccount);
            let q = infra::AccountsOf {
                cloud_type: cloud.as_str(),
                project,
            };
            let items = infra::accounts(m.db(), m.env(), &q, &f, page).await?;
            Ok(m.list("accounts", &items))
        }
        View::Through(t) => live_accounts(ctx, cloud, project, page)
            .await
            .map_err(|e| t.unreachable(e)),
    }
}

/// One cloud account, secrets removed.
pub async fn account(
    ctx: &Ctx,
    cloud: &CloudType,
    account: &Uid,
    project: Option<&Uid>,
) -> AppResult<Answer> {
    let project = project.map(Uid::as_str);
    if !cloud.accounts_mirrored() {
        return live_account(ctx, cloud, account, project).await;
    }
    let m = match ctx.view().await? {
        View::Mirror(m) => m,
        View::Through(t) => {
            return live_account(ctx, cloud, account, project)
                .await
                .map_err(|e| t.unreachable(e));
        }
    };
    let row = infra::account(m.db(), m.env(), cloud.as_str(), account)
        .await?
        .ok_or_else(|| not_found("Cloud account"))?;
    if !m.shows(Kind::CloudAccount, row.project_uid.as_deref(), project) {
        return Err(not_found("Cloud account"));
    }
    Ok(m.raw(row.json))
}

/// `{items: [...]}`, as the original normalises Palette's `summaries`.
pub async fn cluster_groups(ctx: &Ctx, project: Option<&Uid>, page: Page) -> AppResult<Answer> {
    let project = project.map(Uid::as_str);
    match ctx.view().await? {
        View::Mirror(m) => {
            let what = (Listed::ClusterGroups, Kind::ClusterGroup);
            m.listed("items", what.0, what.1, project, page).await
        }
        View::Through(t) => {
            t.items("items", "/v1/clustergroups/hostCluster", project, page)
                .await
        }
    }
}

/// [`cluster_groups`] as briefs.
pub async fn cluster_group_briefs(
    ctx: &Ctx,
    project: Option<&Uid>,
    page: Page,
) -> AppResult<Briefs> {
    Briefs::of(&cluster_groups(ctx, project, page).await?, "items")
}

/// [`accounts`] as briefs.
pub async fn account_briefs(
    ctx: &Ctx,
    cloud: &CloudType,
    project: Option<&Uid>,
    page: Page,
) -> AppResult<Briefs> {
    Briefs::of(&accounts(ctx, cloud, project, page).await?, "accounts")
}

/// The uid of the one visible cluster group named `name` (any case); with `project`, that
/// project's own group wins over a tenant one.
pub async fn group_named(ctx: &Ctx, name: Option<&str>, project: Option<&Uid>) -> AppResult<Uid> {
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return Err(AppError::bad_request(
            "Provide either clusterGroupName or clusterGroupUid",
        ));
    };
    let listed = cluster_groups(ctx, project, Page::ALL).await?.value()?;
    let all = listed["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let names = super::projects::visible(ctx).await?.names();
    let known: Vec<String> = all.iter().map(|g| models::name(g).to_string()).collect();
    let rows = all
        .iter()
        .filter(|g| models::name(g).eq_ignore_ascii_case(name))
        .map(|g| NamedRow {
            uid: models::uid(g).unwrap_or_default().to_string(),
            name: models::name(g).to_string(),
            scope: models::scope(g).to_string(),
            project_uid: models::project_uid(g).map(str::to_string),
            project_name: models::project_uid(g).and_then(|p| names.get(p).cloned()),
        })
        .collect();
    let lookup = super::names::Lookup {
        what: "cluster group",
        name,
        env: ctx.env.name(),
        project: project.map(Uid::as_str),
        narrow: "projectName, projectUid or clusterGroupUid",
    };
    let one = super::names::pick(&lookup, rows, &known)?;
    Uid::parse("clusterGroupUid", &one.uid)
}

/// One cluster group (its details, or its list item before details arrive).
pub async fn cluster_group(ctx: &Ctx, uid: &Uid, project: Option<&Uid>) -> AppResult<Answer> {
    let project = project.map(Uid::as_str);
    let m = match ctx.view().await? {
        View::Mirror(m) => m,
        View::Through(t) => {
            let path = format!("/v1/clustergroups/{uid}");
            return t.object(t.get(path, project), "Cluster group").await;
        }
    };
    let row = infra::cluster_group(m.db(), m.env(), uid)
        .await?
        .ok_or_else(|| not_found("Cluster group"))?;
    if !m.shows(Kind::ClusterGroup, row.project_uid.as_deref(), project) {
        return Err(not_found("Cluster group"));
    }
    Ok(m.raw(row.json))
}

/// [`cluster_group`], read.
pub async fn cluster_group_object(
    ctx: &Ctx,
    uid: &Uid,
    project: Option<&Uid>,
) -> AppResult<Object> {
    Object::of(cluster_group(ctx, uid, project).await?)
}

/// `{items: [...]}` of private cloud gateways, Palette's own shape.
pub async fn overlords(ctx: &Ctx, project: Option<&Uid>, page: Page) -> AppResult<Answer> {
    let project = project.map(Uid::as_str);
    match ctx.view().await? {
        View::Mirror(m) => {
            m.listed("items", Listed::Overlords, Kind::Overlord, project, page)
                .await
        }
        View::Through(t) => t.items("items", "/v1/overlords", project, page).await,
    }
}
