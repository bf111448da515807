//! The audit log: who (subject, Palette email), what (kubeconfig download, manifest view,
//! cluster creation, sync trigger), where (environment, object), outcome, when. Written to
//! SQLite and emitted as a tracing event (target `audit`).

use serde::Serialize;
use sqlx::Row;

use crate::store::{Db, now_text};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    KubeconfigDownload,
    ManifestView,
    ClusterCreate,
    SyncTrigger,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::KubeconfigDownload => "kubeconfig.download",
            Action::ManifestView => "manifest.view",
            Action::ClusterCreate => "cluster.create",
            Action::SyncTrigger => "sync.trigger",
        }
    }
}

pub struct Event<'a> {
    pub subject: &'a str,
    pub palette_email: Option<&'a str>,
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
    tracing::info!(
        target: "audit",
        subject = e.subject,
        palette_email = e.palette_email.unwrap_or(""),
        action = e.action.as_str(),
        env = e.env,
        object = e.object_uid.unwrap_or(""),
        outcome,
        "audit"
    );
    let r = sqlx::query(
        "INSERT INTO audit_log (at, subject, palette_email, action, env, object_uid, outcome, detail)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(now_text())
    .bind(e.subject)
    .bind(e.palette_email)
    .bind(e.action.as_str())
    .bind(e.env)
    .bind(e.object_uid)
    .bind(outcome)
    .bind(e.detail)
    .execute(&db.writer)
    .await;
    if let Err(err) = r {
        tracing::error!(error = %err, "cannot write the audit log");
    }
}

#[derive(Debug, Serialize)]
pub struct Entry {
    pub id: i64,
    pub at: String,
    pub subject: String,
    pub palette_email: Option<String>,
    pub action: String,
    pub environment: String,
    pub object_uid: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
}

/// Newest first.
pub async fn list(db: &Db, limit: i64, offset: i64) -> Result<(Vec<Entry>, i64), sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, at, subject, palette_email, action, env, object_uid, outcome, detail
         FROM audit_log ORDER BY id DESC LIMIT ? OFFSET ?",
    )
    .bind(limit)
    .bind(offset)
    .fetch_all(&db.reader)
    .await?;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(&db.reader)
        .await?;
    Ok((
        rows.iter()
            .map(|r| Entry {
                id: r.get(0),
                at: r.get(1),
                subject: r.get(2),
                palette_email: r.get(3),
                action: r.get(4),
                environment: r.get(5),
                object_uid: r.get(6),
                outcome: r.get(7),
                detail: r.get(8),
            })
            .collect(),
        total,
    ))
}
