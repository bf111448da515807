//! The audit log: who (caller subject; the Palette user Palette verified, beside the one the
//! request claimed), what (kubeconfig download, manifest view, cluster creation, sync trigger,
//! or any route refused by a permission), where (environment, object), outcome (`success`,
//! `failure`, `denied`), when. Written to SQLite and emitted as a tracing event (target
//! `audit`).
//!
//! Bounded: denials of one subject, environment, action, route and reason within a window
//! of [`DENIAL_WINDOW_SECONDS`] are one row with a `count` (a flood of refused requests writes
//! one row a minute, not one a request), and entries past `audit.retention_days` are pruned.

use sha2::{Digest, Sha256};

use super::palette_user::PaletteUser;
use crate::domain::AuditOutcome;
use crate::store::{Db, audit as rows};

pub use rows::Entry;

/// Repeated denials within this window share one row.
pub const DENIAL_WINDOW_SECONDS: i64 = 60;

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
    let outcome = if e.success {
        AuditOutcome::Success
    } else {
        AuditOutcome::Failure
    };
    write(db, &e, outcome).await;
}

/// Records a request refused before it ran (permission, missing Palette token, bad input).
pub async fn record_denied(db: &Db, e: Event<'_>) {
    write(db, &e, AuditOutcome::Denied).await;
}

async fn write(db: &Db, e: &Event<'_>, outcome: AuditOutcome) {
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
        outcome = outcome.as_str(),
        "audit"
    );
    let palette_user_uid = e.user.and_then(|u| u.verified_uid());
    let collapse_key = (outcome == AuditOutcome::Denied).then(|| {
        let window = chrono::Utc::now().timestamp() / DENIAL_WINDOW_SECONDS;
        denial_key(window, e, credential, palette_user_uid)
    });
    let row = rows::NewEntry {
        subject: e.subject,
        palette_email,
        claimed_email,
        palette_user_uid,
        credential,
        action: e.action.as_str(),
        env: e.env,
        object_uid: e.object_uid,
        outcome,
        detail: e.detail.as_deref(),
        collapse_key: collapse_key.as_deref(),
    };
    if let Err(err) = rows::insert(db, &row).await {
        tracing::error!(error = %err, "cannot write the audit log");
    }
}

/// What makes denials "the same": the window, who (subject, credential, verified Palette
/// user), where and what (environment, action, route and reason, as the detail says). Not the
/// claimed email, which any caller may vary at will.
fn denial_key(window: i64, e: &Event<'_>, credential: &str, user_uid: Option<&str>) -> String {
    let mut h = Sha256::new();
    let window = window.to_string();
    let parts = [
        window.as_str(),
        e.subject,
        credential,
        user_uid.unwrap_or(""),
        e.env,
        e.action.as_str(),
        e.detail.as_deref().unwrap_or(""),
    ];
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Deletes entries whose last activity is older than `retention_days`; returns how many.
pub async fn prune(db: &Db, retention_days: u32) -> Result<u64, sqlx::Error> {
    let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(retention_days));
    let cutoff = cutoff.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    rows::prune(db, &cutoff).await
}

/// Newest first.
pub async fn list(db: &Db, limit: i64, offset: i64) -> Result<(Vec<Entry>, i64), sqlx::Error> {
    rows::list(db, limit, offset).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denial(subject: &'static str, detail: &str) -> Event<'static> {
        Event {
            subject,
            user: None,
            action: Action::Access,
            env: "prod",
            object_uid: None,
            success: false,
            detail: Some(detail.to_string()),
        }
    }

    #[test]
    fn denials_collapse_per_window_subject_and_reason_only() {
        let a = denial("user:default/v", "GET /clusters: permission x missing");
        let key = |w, e: &Event<'_>| denial_key(w, e, "api_key", None);
        let again = denial("user:default/v", "GET /clusters: permission x missing");
        assert_eq!(key(7, &a), key(7, &again));
        assert_ne!(key(7, &a), key(8, &a), "another window");
        let other = denial("user:default/w", "GET /clusters: permission x missing");
        assert_ne!(key(7, &a), key(7, &other), "another subject");
        let reason = denial("user:default/v", "GET /clusters: refused with 400");
        assert_ne!(key(7, &a), key(7, &reason), "another reason");
        assert_ne!(key(7, &a), denial_key(7, &a, "user_token", Some("u1")));
    }

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
