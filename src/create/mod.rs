//! Cluster creation: the wizard's body is translated into Palette's shape, completed from the
//! environment's `create_defaults`, validated (every problem at once) against Palette's models
//! and the mirror, then posted once (never retried: a repeat could create twice). A 201 is
//! written through into the mirror and audited; an `Idempotency-Key` repeats the first answer.
//!
//! Takes plain inputs (environment, caller, credential, body) and knows nothing of HTTP.

pub mod defaults;
pub mod idempotency;
mod mirror;
mod recover;
pub mod request;
pub mod translate;
pub mod validate;
mod write;

use serde_json::{Value, json};
use tracing::Instrument;

use crate::auth::audit::{self, Action};
use crate::auth::palette_user::PaletteUser;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::palette::Credential;
use crate::palette::Environment;
use crate::palette::pacing::Party;
use crate::palette::{PaletteError, Retries};
use crate::store::Db;
use crate::store::idempotency::{self as keys, Claim, Claiming, Held, KeyRef};

pub use request::endpoint_for;

/// Who asks, and the Palette user whose credential is used.
pub struct Caller<'a> {
    pub subject: &'a str,
    pub user: &'a PaletteUser,
}

impl Caller<'_> {
    pub fn credential(&self) -> Credential<'_> {
        self.user.credential()
    }

    pub fn party(&self) -> Party {
        self.user.party()
    }
}

/// Everything a creation needs besides the body.
pub struct Request<'a> {
    pub db: &'a Db,
    pub env: &'a Environment,
    pub caller: Caller<'a>,
    pub project: Option<&'a str>,
    /// The `Idempotency-Key` header, unparsed.
    pub idempotency_key: Option<&'a str>,
    /// Called when Palette rejects the credential (so a stale user token is dropped).
    pub on_denied: &'a (dyn Fn() + Sync),
}

/// The answer: status and JSON; `replayed` when it repeats an earlier answer for the same key.
#[derive(Debug)]
pub struct Created {
    pub status: u16,
    pub body: Value,
    pub replayed: bool,
}

/// POST /clusters.
pub async fn create(req: &Request<'_>, body: Value) -> AppResult<Created> {
    let endpoint = refused_audited(req, request::check(&body)).await?;
    run(req, endpoint, body).await
}

/// POST /virtualclusters `{clusterConfig}`.
pub async fn create_virtual(req: &Request<'_>, body: Value) -> AppResult<Created> {
    let config = refused_audited(req, request::check_virtual(&body)).await?;
    run(req, "virtual", config).await
}

/// The pure part: translation, defaults and the model rules → the Palette body, or problems.
pub fn plan(
    endpoint: &str,
    body: Value,
    defaults: &crate::config::CreateDefaults,
) -> (Value, Vec<crate::error::Problem>) {
    let (mut body, mut problems) = translate::translate(endpoint, body);
    defaults::apply(endpoint, &mut body, defaults.get(endpoint));
    problems.extend(validate::problems(endpoint, &body));
    (body, problems)
}

async fn run(req: &Request<'_>, endpoint: &'static str, body: Value) -> AppResult<Created> {
    let key = refused_audited(req, idempotency::parse_key(req.idempotency_key)).await?;
    let (palette_body, mut problems) = plan(endpoint, body, &req.env.config.create_defaults);
    problems.extend(mirror::problems(req.db, req.env.name(), endpoint, &palette_body).await?);
    if !problems.is_empty() {
        return refused_audited(req, Err(AppError::invalid_spec(problems))).await;
    }
    let hash = idempotency::body_hash(&palette_body);
    match key {
        None => post(req, endpoint, palette_body, &hash).await,
        Some(key) => keyed(req, endpoint, palette_body, &hash, &key).await,
    }
}

/// A creation under an `Idempotency-Key`, scoped to the person as Palette sees them and to
/// the target project: only the same person repeating the same request gets a replay.
async fn keyed(
    req: &Request<'_>,
    endpoint: &'static str,
    body: Value,
    hash: &str,
    key: &str,
) -> AppResult<Created> {
    let identity = idempotency::identity(req.caller.user);
    let kref = KeyRef {
        env: req.env.name(),
        subject: req.caller.subject,
        identity: &identity,
        project: req.project.unwrap_or(""),
        key,
    };
    let name = cluster_name(&body);
    let claiming = Claiming {
        body_hash: hash,
        name: &name,
        owner: idempotency::instance(),
    };
    match keys::claim(req.db, &kref, &claiming, idempotency::TTL_SECONDS).await? {
        Claim::Answered(status, answer) => Ok(Created {
            status,
            body: serde_json::from_str(&answer).unwrap_or(Value::Null),
            replayed: true,
        }),
        Claim::InFlight { since, owner } => {
            let deadline = req.env.config.rate_limits.interactive_deadline_seconds;
            let now = chrono::Utc::now().timestamp();
            if !idempotency::is_stale(since, now, deadline) {
                return Err(under_way());
            }
            recover::recover(req, &kref, endpoint, body, hash, (since, &owner)).await
        }
        Claim::OtherBody => Err(AppError::new(
            ErrorCode::Conflict,
            "this Idempotency-Key was used with a different body; use a new key for a new request",
        )),
        Claim::Claimed(held) => {
            settle(req, &kref, &held, post(req, endpoint, body, hash).await).await
        }
    }
}

fn under_way() -> AppError {
    AppError::new(
        ErrorCode::Conflict,
        "a creation with this Idempotency-Key is still under way; retry in a minute",
    )
}

fn cluster_name(body: &Value) -> String {
    body["metadata"]["name"].as_str().unwrap_or("").to_string()
}

/// Records a claimed key's outcome: the answer to repeat, or the key freed for a retry.
async fn settle(
    req: &Request<'_>,
    k: &KeyRef<'_>,
    held: &Held,
    result: AppResult<Created>,
) -> AppResult<Created> {
    let stored = match &result {
        Ok(c) => keys::complete(req.db, k, held, c.status, &c.body.to_string()).await,
        Err(_) => keys::release(req.db, k, held).await,
    };
    match stored {
        Ok(true) => {}
        // This process was slow, not dead: a retry took the claim over meanwhile.
        Ok(false) => {
            tracing::warn!(
                "an idempotency claim was taken over while its creation ran; its outcome is the successor's to record"
            )
        }
        Err(e) => tracing::warn!(error = %e, "cannot record an idempotency key"),
    }
    result
}

/// Records a creation attempt in the audit log.
async fn audited(req: &Request<'_>, uid: Option<&str>, success: bool, detail: String) {
    audit::record(
        req.db,
        audit::Event {
            subject: req.caller.subject,
            user: Some(req.caller.user),
            action: Action::ClusterCreate,
            env: req.env.name(),
            object_uid: uid,
            success,
            detail: Some(detail),
        },
    )
    .await;
}

/// A request refused before reaching Palette is an attempt too: audited, then returned.
async fn refused_audited<T>(req: &Request<'_>, checked: AppResult<T>) -> AppResult<T> {
    if let Err(e) = &checked {
        audited(req, None, false, format!("refused: {}", e.message)).await;
    }
    checked
}

async fn post(req: &Request<'_>, endpoint: &str, body: Value, hash: &str) -> AppResult<Created> {
    let name = cluster_name(&body);
    let path = format!("/v1/spectroclusters/{endpoint}");
    let span = tracing::info_span!("create_cluster", endpoint, name = %name, body_sha256 = hash);
    let answer = req
        .env
        .client
        .post(path.clone())
        .project(req.project)
        .json_body(body.clone())
        .credential(req.caller.credential())
        .party(req.caller.party())
        .retries(Retries::None)
        .send()
        .instrument(span)
        .await
        .and_then(|a| a.json(&path));
    let answer = answer.map_err(|e| {
        if matches!(e, PaletteError::Unauthorized { .. }) {
            (req.on_denied)();
        }
        AppError::from(e)
    });
    let uid = answer
        .as_ref()
        .ok()
        .and_then(|v| v["uid"].as_str())
        .filter(|u| crate::palette::models::is_valid_uid(u))
        .map(str::to_string);
    let detail = match &answer {
        Ok(_) => format!("{endpoint} cluster {name} body sha256 {hash}"),
        Err(e) => format!(
            "{endpoint} cluster {name} body sha256 {hash}: {}",
            e.message
        ),
    };
    audited(req, uid.as_deref(), answer.is_ok(), detail).await;
    let mut value = answer?;
    if let Some(uid) = &uid {
        write::write_through(req, endpoint, uid, &name, &body).await;
    }
    if value.is_object() {
        value["paletteBody"] = body;
    } else {
        value = json!({ "answer": value, "paletteBody": body });
    }
    // 201 whatever 2xx Palette chose, as the original answered.
    Ok(Created {
        status: 201,
        body: value,
        replayed: false,
    })
}
