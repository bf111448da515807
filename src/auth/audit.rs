//! The audit log: who (caller subject; the Palette user Palette verified, beside the one the
//! request claimed), what (kubeconfig download, manifest view, cluster creation, sync trigger,
//! or any route refused by a permission), where (environment, object), outcome (`success`,
//! `failure`, `denied`), when. Written to SQLite and emitted as a tracing event (target
//! `audit`).

use super::palette_user::PaletteUser;
use crate::store::{Db, audit as rows};

pub use rows::Entry;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    KubeconfigDownload,
    ManifestView,
    ClusterCreate,
    SyncTrigger,
    /// Any other route, when refused.
    Access,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::KubeconfigDownload => "kubeconfig.download",
            Action::ManifestView => "manifest.view",
            Action::ClusterCreate => "cluster.create",
            Action::SyncTrigger => "sync.trigger",
            Action::Access => "access",
        }
    }

    /// The audited action a route performs, if it is one.
    pub fn of_route(method: &str, path: &str) -> Option<Action> {
        match (method, path) {
            ("GET", p) if p.ends_with("/kubeconfig") => Some(Action::KubeconfigDownload),
            ("GET", p) if p.contains("/pack/manifests/") => Some(Action::ManifestView),
            ("POST", "/clusters" | "/virtualclusters") => Some(Action::ClusterCreate),
            ("POST", "/sync") => Some(Action::SyncTrigger),
            _ => None,
        }
    }
}

pub struct Event<'a> {
    pub subject: &'a str,
    /// The request's Palette user (None: none was involved, e.g. MCP).
    pub user: Option<&'a PaletteUser>,
    pub action: Action,
    pub env: &'a str,
    pub object_uid: Option<&'a str>,
    pub success: bool,
    /// Context, e.g. the error of a failure. Never a secret.
    pub detail: Option<String>,
}

/// Records an event; a failure to write is logged, never fails the request it describes.
pub async fn record(db: &Db, e: Event<'_>) {
    let outcome = if e.success { "success" } else { "failure" };
    write(db, &e, outcome).await;
}

/// Records a request refused before it ran (permission, missing Palette token, bad input).
pub async fn record_denied(db: &Db, e: Event<'_>) {
    write(db, &e, "denied").await;
}

async fn write(db: &Db, e: &Event<'_>, outcome: &str) {
    if let Some(u) = e.user {
        u.mark_audited();
    }
    let palette_email = e.user.and_then(|u| u.email.as_deref());
    let claimed_email = e.user.and_then(|u| u.claimed_email.as_deref());
    let credential = if e.user.is_some_and(|u| u.has_token()) {
        "user_token"
    } else {
        "api_key"
    };
    tracing::info!(
        target: "audit",
        subject = e.subject,
        palette_email = palette_email.unwrap_or(""),
        claimed_email = claimed_email.unwrap_or(""),
        credential,
        action = e.action.as_str(),
        env = e.env,
        object = e.object_uid.unwrap_or(""),
        outcome,
        "audit"
    );
    let row = rows::NewEntry {
        subject: e.subject,
        palette_email,
        claimed_email,
        palette_user_uid: e.user.and_then(|u| u.verified_uid()),
        credential,
        action: e.action.as_str(),
        env: e.env,
        object_uid: e.object_uid,
        outcome,
        detail: e.detail.as_deref(),
    };
    if let Err(err) = rows::insert(db, &row).await {
        tracing::error!(error = %err, "cannot write the audit log");
    }
}

/// Newest first.
pub async fn list(db: &Db, limit: i64, offset: i64) -> Result<(Vec<Entry>, i64), sqlx::Error> {
    rows::list(db, limit, offset).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_map_to_their_actions() {
        assert_eq!(
            Action::of_route("GET", "/clusters/{clusterUid}/kubeconfig"),
            Some(Action::KubeconfigDownload)
        );
        assert_eq!(
            Action::of_route("GET", "/clusters/{clusterUid}/pack/manifests/{manifestUid}"),
            Some(Action::ManifestView)
        );
        assert_eq!(
            Action::of_route("POST", "/virtualclusters"),
            Some(Action::ClusterCreate)
        );
        assert_eq!(Action::of_route("GET", "/clusters"), None);
    }
}
