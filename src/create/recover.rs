//! A claim left by a process that died mid-creation (see `idempotency::is_stale`): the retry
//! takes it over and asks Palette whether that process's POST went through — a cluster of
//! that name in that scope created since the claim is recorded as the key's answer and
//! replayed; none, and the retry goes ahead as a new creation. Should Palette not answer, the
//! key is freed: a later retry posts, and Palette's refusal of a taken name (409) is the
//! backstop against a second cluster.

use serde_json::{Value, json};

use super::{Created, Request, cluster_name, post, settle, under_way};
use crate::error::AppResult;
use crate::palette::Retries;
use crate::store::idempotency::{self as keys, KeyRef};

/// Clock difference allowed between this host and Palette when comparing the claim's time
/// with the cluster's `creationTimestamp`.
const CLOCK_SKEW_SECONDS: i64 = 120;

/// Recovers the abandoned claim `(since, owner)` of `k` for this request.
pub(super) async fn recover(
    req: &Request<'_>,
    k: &KeyRef<'_>,
    endpoint: &'static str,
    body: Value,
    hash: &str,
    (since, owner): (i64, &str),
) -> AppResult<Created> {
    let Some(held) = keys::take_over(req.db, k, since, super::idempotency::instance()).await?
    else {
        // Another retry took it over first (or it was answered meanwhile).
        return Err(under_way());
    };
    let name = cluster_name(&body);
    let found = created_since(req, &name, since).await;
    tracing::warn!(
        owner,
        claimed_at = since,
        found = matches!(found, Ok(Some(_))),
        "took over an idempotency claim its process left unanswered"
    );
    match found {
        Ok(Some(uid)) => {
            let detail = format!(
                "{endpoint} cluster {name} body sha256 {hash}: found in Palette after its claim was abandoned"
            );
            super::audited(req, Some(&uid), true, detail).await;
            // As after a creation: the cluster is readable from the mirror at once.
            super::write::write_through(req, endpoint, &uid, &name, &body).await;
            let answer = json!({ "uid": uid, "paletteBody": body });
            settle(
                req,
                k,
                &held,
                Ok(Created {
                    status: 201,
                    body: answer,
                    replayed: true,
                }),
            )
            .await
        }
        Ok(None) => settle(req, k, &held, post(req, endpoint, body, hash).await).await,
        Err(e) => settle(req, k, &held, Err(e)).await,
    }
}

/// The uid of a cluster named `name` in the request's scope that Palette created at or after
/// `since` (unix seconds), if any.
async fn created_since(req: &Request<'_>, name: &str, since: i64) -> AppResult<Option<String>> {
    let path = "/v1/dashboard/spectroclusters/search";
    let answer = req
        .env
        .client
        .post(path)
        .project(req.project)
        .json_body(by_name(name))
        .credential(req.caller.credential())
        .party(req.caller.party())
        .retries(Retries::Interactive)
        .send()
        .await
        .and_then(|a| a.json(path))?;
    Ok(ours(&answer, name, since))
}

/// The cluster search's filter for one name.
fn by_name(name: &str) -> Value {
    json!({
        "filter": {
            "conjunction": "and",
            "filterGroups": [{
                "conjunction": "and",
                "filters": [{ "property": "clusterName", "type": "string",
                    "condition": { "string": { "operator": "eq", "negation": false,
                        "match": { "conjunction": "or", "values": [name] }, "ignoreCase": false } } }]
            }]
        },
        "sort": [{ "field": "clusterName", "order": "asc" }]
    })
}

/// The pure part: the first listed cluster of that name created since the claim.
fn ours(answer: &Value, name: &str, since: i64) -> Option<String> {
    answer["items"].as_array()?.iter().find_map(|c| {
        let m = &c["metadata"];
        let created = m["creationTimestamp"].as_str()?;
        let created = chrono::DateTime::parse_from_rfc3339(created)
            .ok()?
            .timestamp();
        (m["name"] == name && created >= since - CLOCK_SKEW_SECONDS)
            .then(|| m["uid"].as_str().map(str::to_string))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_cluster_of_that_name_created_since_the_claim_is_ours() {
        let since = chrono::DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
            .unwrap()
            .timestamp();
        let item = |name: &str, at: &str| json!({"metadata": {"uid": format!("uid-{name}-{at}"), "name": name, "creationTimestamp": at}});
        let answer = json!({"items": [
            item("team-a", "2026-12-01T00:00:00Z"),
            item("team-b", "2026-12-07T10:00:05Z"),
            item("team-a", "2026-12-07T10:00:05Z"),
        ]});
        assert_eq!(
            ours(&answer, "team-a", since).as_deref(),
            Some("uid-team-a-2026-12-07T10:00:05Z")
        );
        assert_eq!(ours(&answer, "team-c", since), None);
        let old_only = json!({"items": [item("team-a", "2026-12-01T00:00:00Z")]});
        assert_eq!(ours(&old_only, "team-a", since), None);
    }
}
