//! Configuration: `config.toml`, `SPECTROCLOUD__SECTION__KEY` environment overrides and `${VAR}`
//! expansion, validated up front with messages that name the offending key. Secrets are wrapped
//! in [`Secret`], which never prints its value.

use std::fmt;
use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Value};
use serde::{Deserialize, Serialize, Serializer};

use crate::domain::Permission;

mod validate;
mod warnings;

/// A secret string (API key, bearer token). `Debug`, `Display` and `Serialize` print `***`.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The only way to read the value; grep for it to audit where secrets go.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub permissions: PermissionsConfig,
    #[serde(default)]
    pub sync: SyncConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub mcp: McpConfig,
    #[serde(default)]
    pub ui: UiConfig,
    #[serde(default)]
    pub history: HistoryConfig,
    #[serde(default)]
    pub audit: AuditConfig,
    #[serde(default)]
    pub notifications: NotificationsConfig,
    #[serde(default)]
    pub environments: Vec<EnvironmentConfig>,
}

/// The change history (events) and the daily fleet aggregates.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HistoryConfig {
    /// Events and daily aggregates older than this are pruned in the background.
    pub retention_days: u32,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        Self { retention_days: 90 }
    }
}

/// The audit log.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Entries whose last activity is older than this are pruned in the background.
    pub retention_days: u32,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self { retention_days: 90 }
    }
}

/// Where new events are sent.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationsConfig {
    pub webhooks: Vec<WebhookConfig>,
    /// First retry delay of a failed delivery; doubled for each further attempt.
    pub retry_base_ms: u64,
    /// Attempts per delivery before it is given up (logged and counted).
    pub max_attempts: u32,
    /// Batches waiting in the outbox per webhook; beyond it the oldest are dropped (and
    /// counted), so a dead endpoint cannot grow the database.
    pub max_pending_batches: usize,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        Self {
            webhooks: Vec::new(),
            retry_base_ms: 1000,
            max_attempts: 5,
            max_pending_batches: 1000,
        }
    }
}

/// `[[notifications.webhooks]]`: new events POSTed as JSON, signed as Standard Webhooks.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    /// Event types to send (`cluster.state_changed`, ...); empty = every type.
    #[serde(default)]
    pub types: Vec<String>,
    /// Signing secret: `whsec_<base64 of 24–64 random bytes>` as Standard Webhooks has it, or
    /// (configurations from before) any other string, whose bytes are the key. Without it
    /// deliveries are unsigned.
    #[serde(default)]
    pub secret: Option<Secret>,
}

/// Every event type the history records.
pub const EVENT_TYPES: &[&str] = &[
    "cluster.added",
    "cluster.deleted",
    "cluster.state_changed",
    "cluster.health_changed",
    "cluster.profile_version_changed",
    "cluster.kubernetes_version_changed",
    "profile.version_published",
    "profile.deleted",
];

/// The fleet page's sign-in sessions and the origin its forms must come from.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiConfig {
    /// The page's public origin (`https://sc.example.com`) when the service sits behind a
    /// proxy: sign-in and sign-out posts must carry exactly this `Origin`. Unset: `mcp.public_url`
    /// if set, else the request's own `Host` (forwarded headers are never trusted for it).
    pub public_url: Option<String>,
    /// How long a sign-in lasts, from the moment it was made (not extended by use).
    pub session_ttl_seconds: u64,
    /// Sessions kept per caller subject; a new sign-in beyond it ends the oldest.
    pub max_sessions_per_subject: usize,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            public_url: None,
            session_ttl_seconds: 8 * 3600,
            max_sessions_per_subject: 10,
        }
    }
}

impl UiConfig {
    /// The configured public origin of the page (`ui.public_url`, else `mcp.public_url`),
    /// as `scheme://host[:port]`.
    pub fn origin(&self, mcp: &McpConfig) -> Option<String> {
        let u = self.public_url.as_deref().or(mcp.public_url.as_deref())?;
        let u = url::Url::parse(u).ok()?;
        Some(u.origin().ascii_serialization()).filter(|o| o != "null")
    }
}

/// Why a `whsec_` webhook secret cannot be used, if it cannot.
fn whsec_problem(secret: &str) -> Option<String> {
    use base64::Engine;
    let b64 = secret.strip_prefix("whsec_")?;
    match base64::engine::general_purpose::STANDARD.decode(b64) {
        Ok(key) if (24..=64).contains(&key.len()) => None,
        Ok(key) => Some(format!(
            "a whsec_ secret must hold 24 to 64 bytes of key, not {} (e.g. `whsec_$(openssl rand -base64 32)`)",
            key.len()
        )),
        Err(_) => Some(
            "after `whsec_` a secret must be standard base64 (e.g. `whsec_$(openssl rand -base64 32)`)"
                .into(),
        ),
    }
}

/// Bounds on MCP sessions: each holds a server task and buffers, so a caller opening session
/// after session must not grow memory without end.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct McpConfig {
    /// Open sessions across all callers; an `initialize` beyond it is refused (503).
    pub max_sessions: usize,
    /// Open sessions per caller subject; a new one beyond it ends that caller's least
    /// recently used session.
    pub max_sessions_per_caller: usize,
    /// A session without any request for this long is ended.
    pub session_idle_seconds: u64,
    /// Keep sessions (`Mcp-Session-Id`) for clients of protocol versions before 2026-07-28,
    /// answered as SSE streams. `false`: every request is served statelessly and a plain
    /// request/response answers `application/json`. 2026-07-28 clients are always stateless.
    pub legacy_sessions: bool,
    /// OAuth authorization servers named by the protected-resource metadata (RFC 9728) at
    /// `/.well-known/oauth-protected-resource`, e.g. Backstage's `https://backstage/api/auth`.
    pub authorization_servers: Vec<String>,
    /// The service's public origin (`https://spectrocloud.example.com`), for the resource
    /// identifier of that metadata; unset: taken from each request's scheme and `Host`.
    pub public_url: Option<String>,
    /// Offer the write tools (`create_spectrocloud_cluster`, `trigger_spectrocloud_sync`);
    /// they still need their permissions and are audited.
    pub write_tools: bool,
}

impl Default for McpConfig {
    fn default() -> Self {
        Self {
            max_sessions: 256,
            max_sessions_per_caller: 16,
            session_idle_seconds: 120,
            legacy_sessions: true,
            authorization_servers: Vec::new(),
            public_url: None,
            write_tools: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub bind: String,
    pub base_path: String,
    /// actix worker threads; default: number of CPUs.
    pub workers: Option<usize>,
    /// Largest accepted JSON body; larger bodies get 413.
    pub json_limit_bytes: usize,
    /// How long in-flight requests may take to finish after a shutdown signal.
    pub shutdown_timeout_seconds: u64,
    /// Show length and first characters of a Palette user token in `/auth/debug`.
    pub debug_tokens: bool,
    /// Browser origins allowed to call the API directly (CORS), e.g. the Backstage app's
    /// `https://backstage.example.com`; `*` allows any. Empty: no CORS headers at all.
    pub cors_allowed_origins: Vec<String>,
    /// `Strict-Transport-Security: max-age=<this>` on every answer; 0 (default) = not sent.
    /// Set it only behind a TLS-terminating proxy that serves this API over https alone.
    pub hsts_max_age_seconds: u64,
    /// Memory for whole mirror answers and their gzip/br forms (least recently used evicted
    /// first); 0 turns the response cache off.
    pub response_cache_bytes: usize,
    /// A caller's `Cache-Control: no-cache` rebuilds one answer at most once in this many
    /// milliseconds (within it, the answer just built is served); 0 = every one rebuilds.
    pub no_cache_rebuild_interval_ms: u64,
    /// This process's name among replicas (it holds sync leases under it); unset: the host
    /// name and the process id. See [`ServerConfig::replica_id`].
    pub replica_id: Option<String>,
}

impl ServerConfig {
    /// `replica_id`, else `<host name>-<process id>`: distinct for every process, also two
    /// on one host (a `sync --once` beside the server).
    pub fn replica_id(&self) -> String {
        match &self.replica_id {
            Some(id) => id.clone(),
            None => format!("{}-{}", host_name(), std::process::id()),
        }
    }
}

/// The host's name (`HOSTNAME`, else the kernel's), `localhost` when neither says.
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:7007".into(),
            base_path: "/api/spectrocloud".into(),
            workers: None,
            json_limit_bytes: 1024 * 1024,
            shutdown_timeout_seconds: 30,
            debug_tokens: false,
            cors_allowed_origins: Vec::new(),
            hsts_max_age_seconds: 0,
            response_cache_bytes: 32 * 1024 * 1024,
            no_cache_rebuild_interval_ms: 5_000,
            replica_id: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// Printed (`check-config`) without its password.
    #[serde(serialize_with = "serialize_redacted_url")]
    pub url: String,
    /// Size of the read-only connection pool (the writer is always a single connection).
    pub max_readers: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://data/spectrocloud.db".into(),
            max_readers: 8,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// No caller authentication; allowed only on a loopback bind.
    None,
    #[default]
    Static,
    Backstage,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub mode: AuthMode,
    pub tokens: Vec<StaticToken>,
    pub backstage: Option<BackstageAuthConfig>,
    /// Backstage plugin-to-plugin tokens (`auth.mode = "backstage"`), e.g. the actions
    /// registry called by `mcp-actions` on behalf of a user.
    pub plugin_tokens: PluginTokensConfig,
    /// How long a Palette user's project scope (from `/v1/users/me`) is trusted before re-reading.
    pub user_scope_ttl_seconds: u64,
    /// Refuse (401 + re-auth header) a request without a usable Palette user token instead of
    /// answering with the environment key's view. `environments[].require_user_token` overrides.
    pub require_user_token: bool,
    /// Most entries of each in-memory user cache (tokens, verified identities) and most stored
    /// `user_scopes` rows per environment; the least recently used go first.
    pub user_cache_capacity: usize,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            mode: AuthMode::Static,
            tokens: Vec::new(),
            backstage: None,
            plugin_tokens: PluginTokensConfig::default(),
            user_scope_ttl_seconds: 300,
            require_user_token: false,
            user_cache_capacity: 10_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StaticToken {
    pub token: Secret,
    pub subject: String,
    #[serde(default)]
    pub groups: Vec<String>,
    /// The Palette user (email) this token belongs to: makes the caller personal, so a cached
    /// Palette token Palette verified as this email serves its later requests.
    #[serde(default)]
    pub palette_user: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BackstageAuthConfig {
    pub jwks_url: String,
    /// Expected `iss` claim; unset = derived from `jwks_url` (Backstage serves its keys at
    /// `<issuer>/.well-known/jwks.json`).
    #[serde(default)]
    pub issuer: Option<String>,
    /// Expected `aud` claim; unset = not checked.
    #[serde(default)]
    pub audience: Option<String>,
}

impl BackstageAuthConfig {
    /// The `iss` every token must carry: the configured one, else the JWKS URL's base.
    pub fn expected_issuer(&self) -> Option<String> {
        self.issuer.clone().filter(|i| !i.is_empty()).or_else(|| {
            self.jwks_url
                .strip_suffix("/.well-known/jwks.json")
                .filter(|b| !b.is_empty())
                .map(str::to_string)
        })
    }
}

/// Which Backstage plugins may call with their own tokens, and where their keys are.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginTokensConfig {
    /// This service's plugin id: the `aud` Backstage puts in tokens minted for it.
    pub plugin_id: String,
    /// Calling plugins (`sub`) whose tokens are accepted; any other is refused before a key
    /// is fetched, so the key caches stay few. Empty: plugin tokens are refused.
    pub trusted_plugins: Vec<String>,
    /// A plugin's base URL with `{{pluginId}}` in it, as Backstage's discovery answers it;
    /// its keys are at `<base>/.backstage/auth/v1/jwks.json`. Unset: derived from
    /// `auth.backstage.jwks_url` (`<backend>/api/auth/.well-known/jwks.json` →
    /// `<backend>/api/{{pluginId}}`).
    pub plugin_url: Option<String>,
}

impl Default for PluginTokensConfig {
    fn default() -> Self {
        Self {
            plugin_id: "spectrocloud".into(),
            trusted_plugins: vec!["mcp-actions".into()],
            plugin_url: None,
        }
    }
}

pub const PLUGIN_ID_PLACEHOLDER: &str = "{{pluginId}}";

impl PluginTokensConfig {
    /// The JWKS URL of `plugin` (its id already checked against the trusted list).
    pub fn jwks_url(&self, backstage: &BackstageAuthConfig, plugin: &str) -> Option<String> {
        let template = match &self.plugin_url {
            Some(t) => t.clone(),
            None => backstage
                .jwks_url
                .strip_suffix("/auth/.well-known/jwks.json")
                .map(|b| format!("{b}/{PLUGIN_ID_PLACEHOLDER}"))?,
        };
        let base = template.replace(PLUGIN_ID_PLACEHOLDER, plugin);
        Some(format!(
            "{}/.backstage/auth/v1/jwks.json",
            base.trim_end_matches('/')
        ))
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PermissionsConfig {
    pub enabled: bool,
    pub grants: Vec<Grant>,
}

impl Default for PermissionsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            grants: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    pub principals: Vec<String>,
    pub allow: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncConfig {
    /// Cron expression with seconds (6 fields); per-environment override allowed.
    pub schedule: String,
    /// In-flight Palette requests per environment.
    pub concurrency: usize,
    pub stale_after_seconds: u64,
    /// A run taking longer than this is abandoned (nothing is applied).
    pub run_timeout_seconds: u64,
    /// Page size for Palette list calls (Palette caps it at 50).
    pub page_size: u32,
    pub request_timeout_seconds: u64,
    /// Retries after the first attempt on 429, 5xx and connection errors.
    pub max_retries: u32,
    /// First retry delay; doubles each attempt, with jitter.
    pub retry_base_ms: u64,
    /// Run a sync for every environment as soon as the service starts.
    pub on_startup: bool,
    /// An environment's sync lease: one process syncs it at a time, renewing the lease every
    /// third of this while the run lasts; a run whose holder stopped is taken over once the
    /// lease expires.
    pub lease_seconds: u64,
    /// Details older than this are fetched again even when Palette reports no change
    /// (it does not always move `lastModifiedTimestamp`, e.g. on health changes).
    pub detail_max_age_seconds: u64,
    /// At most this many such refreshes per kind and run, oldest first.
    pub refresh_per_run: usize,
    /// Largest answer read for one page of a listing; a larger one fails the run.
    pub max_listing_bytes: u64,
    /// Largest answer read for anything else (one object's details, a kubeconfig).
    pub max_object_bytes: u64,
    /// A run that would delete more than this fraction of a kind at once holds those
    /// deletions back until the next run lists the same absence.
    pub max_deletion_fraction: f64,
    /// Kinds with fewer objects than this in the mirror are never held back (deleting 1 of 2
    /// projects is ordinary).
    pub deletion_guard_min_objects: usize,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            schedule: "0 */5 * * * *".into(),
            concurrency: 8,
            stale_after_seconds: 900,
            run_timeout_seconds: 1800,
            page_size: 50,
            request_timeout_seconds: 30,
            max_retries: 4,
            retry_base_ms: 250,
            on_startup: true,
            lease_seconds: 30,
            detail_max_age_seconds: 6 * 3600,
            refresh_per_run: 500,
            max_listing_bytes: 256 * 1024 * 1024,
            max_object_bytes: 32 * 1024 * 1024,
            max_deletion_fraction: 0.5,
            deletion_guard_min_objects: 10,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `tracing` filter directive; `RUST_LOG` wins when set.
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    /// Selected by the `instance` query parameter; the first environment is the default.
    pub name: String,
    pub url: String,
    #[serde(default)]
    pub tenant: String,
    pub api_token: Secret,
    /// Project names to mirror; empty = all.
    #[serde(default)]
    pub include_projects: Vec<String>,
    #[serde(default)]
    pub exclude_projects: Vec<String>,
    /// Overrides `sync.schedule` for this environment.
    #[serde(default)]
    pub schedule: Option<String>,
    /// Whether Palette user tokens (`X-SpectroCloud-Token`) are sent to this environment. Turn
    /// off for a Palette whose users do not sign in through Backstage: their tokens belong to
    /// another Palette and must not be sent here.
    #[serde(default = "default_true")]
    pub user_tokens: bool,
    /// `[environments.create_defaults.<cloud>]`: values for creation fields the Backstage
    /// wizard never collects (a value in the request wins). Keys: `CREATE_DEFAULT_KEYS`.
    #[serde(default)]
    pub create_defaults: CreateDefaults,
    /// Overrides `auth.require_user_token` for this environment.
    #[serde(default)]
    pub require_user_token: Option<bool>,
    /// Palette's rate limits this client keeps to (defaults: the documented ones).
    #[serde(default)]
    pub rate_limits: RateLimitsConfig,
}

/// Cloud type → field → default value (a string, or a list of strings for vSphere lists).
pub type CreateDefaults =
    std::collections::BTreeMap<String, std::collections::BTreeMap<String, serde_json::Value>>;

/// The keys each cloud type's creation defaults may set.
pub const CREATE_DEFAULT_KEYS: &[(&str, &[&str])] = &[
    ("eks", &["region", "sshKeyName", "vpcId", "instanceType"]),
    ("aws", &["region", "sshKeyName", "vpcId", "instanceType"]),
    ("aks", AZURE_DEFAULT_KEYS),
    ("azure", AZURE_DEFAULT_KEYS),
    (
        "vsphere",
        &[
            "datacenter",
            "folder",
            "imageTemplateFolder",
            "sshKeys",
            "ntpServers",
        ],
    ),
];

const AZURE_DEFAULT_KEYS: &[&str] = &[
    "subscriptionId",
    "resourceGroup",
    "location",
    "sshKey",
    "vnetName",
    "vnetResourceGroup",
    "vnetCidrBlock",
    "instanceType",
];

/// Problems of one environment's `create_defaults`, each with its key.
fn create_defaults_issues(defaults: &CreateDefaults, prefix: &str) -> Vec<ConfigIssue> {
    let mut issues = Vec::new();
    for (cloud, fields) in defaults {
        let key = format!("{prefix}.create_defaults.{cloud}");
        let Some((_, allowed)) = CREATE_DEFAULT_KEYS.iter().find(|(c, _)| c == cloud) else {
            issues.push(ConfigIssue {
                key,
                message: "is not a cloud type (eks, aws, aks, azure, vsphere)".into(),
            });
            continue;
        };
        for (field, value) in fields {
            let key = format!("{key}.{field}");
            let list = matches!(field.as_str(), "sshKeys" | "ntpServers");
            let message = if !allowed.contains(&field.as_str()) {
                format!(
                    "is not a default for {cloud}; allowed: {}",
                    allowed.join(", ")
                )
            } else if list && !is_string_list(value) {
                "must be a non-empty list of non-empty strings".into()
            } else if !list && value.as_str().is_none_or(|v| v.trim().is_empty()) {
                "must be a non-empty string".into()
            } else {
                continue;
            };
            issues.push(ConfigIssue { key, message });
        }
    }
    issues
}

fn is_string_list(v: &serde_json::Value) -> bool {
    v.as_array().is_some_and(|a| {
        !a.is_empty()
            && a.iter()
                .all(|s| s.as_str().is_some_and(|s| !s.trim().is_empty()))
    })
}

/// `[environments.rate_limits]`: the limits Palette applies to this client, per rate-limit
/// prefix (see `palette::limits`). A tenant whose limits were raised says so here.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitsConfig {
    /// Multiplies every rate (after the overrides below).
    pub scale: f64,
    /// Replaces Palette's default limit (10/s, burst 5) for prefixes without an override.
    pub default: Option<crate::domain::limits::Limit>,
    /// Per prefix, e.g. `"/v1/dashboard" = { rate = 20, burst = 5 }`.
    pub prefixes: std::collections::BTreeMap<String, crate::domain::limits::Limit>,
    /// How long a person's call (kubeconfig, read-through, creation...) may take in all,
    /// waiting for its turn included; past it the answer is 429 or 504.
    pub interactive_deadline_seconds: u64,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        RateLimitsConfig {
            scale: 1.0,
            default: None,
            prefixes: Default::default(),
            interactive_deadline_seconds: 30,
        }
    }
}

impl RateLimitsConfig {
    /// The limit the client keeps to on `prefix`.
    pub fn limit(&self, prefix: &str) -> crate::domain::limits::Limit {
        use crate::domain::limits::{Limit, documented};
        let base = match self.prefixes.get(prefix) {
            Some(l) => *l,
            None => match (documented(prefix), self.default) {
                (d, Some(own)) if d == Limit::DEFAULT => own,
                (d, _) => d,
            },
        };
        base.scaled(self.scale)
    }

    fn issues(&self, key: &str, issue: &mut impl FnMut(&str, String)) {
        if !(self.scale.is_finite() && self.scale > 0.0) {
            issue(&format!("{key}.scale"), "must be a number above 0".into());
        }
        if self.interactive_deadline_seconds == 0 {
            issue(
                &format!("{key}.interactive_deadline_seconds"),
                "must be at least 1".into(),
            );
        }
        let limits = self
            .default
            .iter()
            .map(|l| (format!("{key}.default"), l))
            .chain(
                self.prefixes
                    .iter()
                    .map(|(p, l)| (format!("{key}.prefixes.\"{p}\""), l)),
            );
        for (k, l) in limits {
            if !(l.rate.is_finite() && l.rate > 0.0) {
                issue(&k, format!("rate {} must be above 0 requests/s", l.rate));
            }
            if !(l.burst.is_finite() && l.burst >= 1.0) {
                issue(&k, format!("burst {} must be at least 1", l.burst));
            }
        }
        for p in self.prefixes.keys() {
            if crate::domain::limits::prefix(p) != *p {
                issue(
                    &format!("{key}.prefixes.\"{p}\""),
                    format!(
                        "`{p}` is not a rate-limit prefix; paths under it count against `{}`",
                        crate::domain::limits::prefix(p)
                    ),
                );
            }
        }
    }
}

fn default_true() -> bool {
    true
}

impl EnvironmentConfig {
    pub fn schedule<'a>(&'a self, sync: &'a SyncConfig) -> &'a str {
        self.schedule.as_deref().unwrap_or(&sync.schedule)
    }

    /// Whether a request to this environment needs a usable Palette user token.
    pub fn requires_user_token(&self, auth: &AuthConfig) -> bool {
        self.require_user_token.unwrap_or(auth.require_user_token)
    }
}

/// One problem found in the configuration, tied to the key it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    pub key: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {0} not found")]
    NotFound(String),
    #[error("config file {path}: {message}")]
    Parse { path: String, message: String },
    /// A `SPECTROCLOUD__…` override is wrong, not the file.
    #[error("environment variable {var}: {message}")]
    Override { var: String, message: String },
    #[error("invalid configuration:\n{}", format_issues(.0))]
    Invalid(Vec<ConfigIssue>),
}

/// Whether `bind` (`host:port`) is a loopback address (`localhost:<port>` included).
pub fn is_loopback_bind(bind: &str) -> bool {
    bind.strip_prefix("localhost:").is_some()
        || bind
            .parse::<std::net::SocketAddr>()
            .is_ok_and(|a| a.ip().is_loopback())
}

fn format_issues(issues: &[ConfigIssue]) -> String {
    issues
        .iter()
        .map(|i| format!("  - {}: {}", i.key, i.message))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Config {
    /// Loads `path`, applies `SPECTROCLOUD__SECTION__KEY` overrides, expands `${VAR}` and validates.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        if !path.is_file() {
            return Err(ConfigError::NotFound(path.display().to_string()));
        }
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Parse {
            path: origin.clone(),
            message: format!("cannot read: {}", e.kind()),
        })?;
        check_toml_syntax(&text, &origin)?;
        let figment = Figment::new()
            .merge(Toml::string(&text))
            .merge(Env::prefixed("SPECTROCLOUD__").split("__"));
        Self::from_figment(figment, &origin)
    }

    /// Parses TOML text (no environment overrides; `${VAR}` is still expanded) and validates.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        check_toml_syntax(text, "<inline>")?;
        Self::from_figment(Figment::from(Toml::string(text)), "<inline>")
    }

    fn from_figment(figment: Figment, origin: &str) -> Result<Config, ConfigError> {
        let overrides = env_overrides();
        let parse_err = |e: figment::Error| match blamed_override(&e, &overrides) {
            Some(var) => ConfigError::Override {
                var,
                message: describe_figment_error(e),
            },
            None => ConfigError::Parse {
                path: origin.to_string(),
                message: describe_figment_error(e),
            },
        };
        let raw: Dict = figment.extract().map_err(parse_err)?;
        let mut issues = Vec::new();
        let expanded: Dict = raw
            .into_iter()
            .map(|(k, v)| {
                let v = expand_value(v, &k, &mut issues);
                (k, v)
            })
            .collect();
        // Unset variables are reported together with every other problem, not one at a time.
        let config: Config = Figment::from(Serialized::defaults(expanded))
            .extract()
            .map_err(parse_err)?;
        if let Err(more) = config.validate() {
            issues.extend(more);
        }
        if issues.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid(issues))
        }
    }

    /// The environment named `name`, or the first one when `name` is `None`.
    pub fn environment(&self, name: Option<&str>) -> Option<&EnvironmentConfig> {
        match name {
            None => self.environments.first(),
            Some(n) => self.environments.iter().find(|e| e.name == n),
        }
    }

    /// The effective configuration as TOML, secrets shown as `***`.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render config: {e}\n"))
    }
}

/// Static bearer tokens shorter than this are refused: they can be guessed.
pub const MIN_TOKEN_CHARS: usize = 16;

/// The authority part of `scheme://authority/...`, when there is one.
fn authority(s: &str) -> Option<&str> {
    let rest = s.split_once("://")?.1;
    Some(rest.split(['/', '?', '#']).next().unwrap_or(rest))
}

/// Whether a URL names a user or password (`http://u:pw@host`).
fn has_userinfo(s: &str) -> bool {
    authority(s).is_some_and(|a| a.contains('@'))
}

/// The URL with any user name and password replaced by `***`, for messages and answers. Works
/// on text that does not parse as a URL too, so a password never shows through an error.
pub fn redact_url(s: &str) -> String {
    match authority(s).and_then(|a| a.rfind('@').map(|at| (a, at))) {
        Some((a, at)) => {
            let start = s.len() - s.split_once("://").map_or(0, |(_, r)| r.len());
            format!("{}***@{}", &s[..start], &s[start + at + 1..start + a.len()])
                + &s[start + a.len()..]
        }
        None => s.to_string(),
    }
}

/// Backstage's own rule for plugin ids in a token's `sub`.
pub fn is_plugin_id(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn is_http_url(s: &str) -> bool {
    url::Url::parse(s)
        .map(|u| (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some())
        .unwrap_or(false)
}

/// Cron with seconds, exactly as the scheduler parses it.
/// The smallest size cap allowed: below this, ordinary Palette answers would fail.
const MIN_ANSWER_BYTES: u64 = 64 * 1024;

pub fn validate_cron(expr: &str) -> Result<(), String> {
    tokio_cron_scheduler::Job::new_async(expr, |_, _| Box::pin(async {}))
        .map(|_| ())
        .map_err(|_| {
            format!(
                "`{expr}` is not a cron expression with seconds (six fields, e.g. \"0 */5 * * * *\")"
            )
        })
}

/// Every `SPECTROCLOUD__SECTION__KEY` set: (`section.key`, the variable's name).
fn env_overrides() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter_map(|var| {
            let rest = var.strip_prefix("SPECTROCLOUD__")?;
            let key = rest
                .split("__")
                .collect::<Vec<_>>()
                .join(".")
                .to_lowercase();
            Some((key, var))
        })
        .collect()
}

/// The override an error is about, when its key was set by one (`sync.concurency` from
/// `SPECTROCLOUD__SYNC__CONCURENCY`), so the message does not blame the file.
fn blamed_override(e: &figment::Error, overrides: &[(String, String)]) -> Option<String> {
    e.clone().into_iter().find_map(|e| {
        let path = e.path.join(".").to_lowercase();
        overrides
            .iter()
            .find(|(key, _)| {
                !path.is_empty() && (path == *key || path.starts_with(&format!("{key}.")))
            })
            .map(|(_, var)| var.clone())
    })
}

fn describe_figment_error(e: figment::Error) -> String {
    e.into_iter()
        .map(|e| {
            let path = e.path.join(".");
            let kind = describe_kind(&e.kind);
            if path.is_empty() {
                kind
            } else {
                format!("{path}: {kind}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A figment error kind without the offending value (which may be a secret): `invalid type:
/// found string "hunter2"` becomes `invalid type: found a string, expected ...`.
fn describe_kind(kind: &figment::error::Kind) -> String {
    use figment::error::Kind;
    match kind {
        Kind::InvalidType(actual, expected) => {
            format!(
                "invalid type: found {}, expected {expected}",
                actual_kind(actual)
            )
        }
        Kind::InvalidValue(actual, expected) => {
            format!(
                "invalid value: found {}, expected {expected}",
                actual_kind(actual)
            )
        }
        Kind::Unsupported(actual) => format!("unsupported {}", actual_kind(actual)),
        Kind::UnsupportedKey(actual, expected) => {
            format!(
                "unsupported key {}, expected {expected}",
                actual_kind(actual)
            )
        }
        Kind::Message(m) => cut(m.lines().next().unwrap_or(""), 200),
        // A closed set: its values, plainly (figment nests them in backquotes).
        Kind::UnknownVariant(found, allowed) => format!(
            "unknown value `{}`; allowed: {}",
            cut(found, 64),
            allowed.join(", ")
        ),
        other => other.to_string(),
    }
}

fn actual_kind(actual: &figment::error::Actual) -> &'static str {
    use figment::error::Actual;
    match actual {
        Actual::Bool(_) => "a boolean",
        Actual::Unsigned(_) | Actual::Signed(_) => "an integer",
        Actual::Float(_) => "a float",
        Actual::Char(_) | Actual::Str(_) => "a string",
        Actual::Bytes(_) => "bytes",
        Actual::Seq => "an array",
        Actual::Map => "a table",
        _ => "another kind of value",
    }
}

/// At most `max` characters of `s`.
fn cut(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Parses the TOML text only to report a syntax error by key, line and column. The toml
/// crate's own message quotes the offending line, which for an unquoted `api_token = abc...`
/// is the secret itself; this never shows the line.
fn check_toml_syntax(text: &str, origin: &str) -> Result<(), ConfigError> {
    let Err(e) = toml::from_str::<toml::Table>(text) else {
        return Ok(());
    };
    let offset = e.span().map_or(0, |s| s.start).min(text.len());
    Err(ConfigError::Parse {
        path: origin.to_string(),
        message: syntax_message(text, offset, e.message()),
    })
}

/// `line L, column C (key `k` in [table]): message` for a syntax error at byte `offset`.
fn syntax_message(text: &str, offset: usize, message: &str) -> String {
    let offset = (0..=offset)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    let before = &text[..offset];
    let line_no = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..offset].chars().count() + 1;
    let line = text[line_start..].lines().next().unwrap_or("");
    let key = line.split_once('=').map(|(k, _)| k.trim()).filter(|k| {
        !k.is_empty()
            && k.len() <= 100
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.\"' ".contains(c))
    });
    let table = before
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']') && l.len() <= 100);
    let mut out = format!("TOML syntax error at line {line_no}, column {column}");
    match (key, table) {
        (Some(k), Some(t)) => out.push_str(&format!(" (key `{k}` in {t})")),
        (Some(k), None) => out.push_str(&format!(" (key `{k}`)")),
        (None, Some(t)) => out.push_str(&format!(" (in {t})")),
        (None, None) => {}
    }
    let message = cut(message.lines().next().unwrap_or("").trim(), 120);
    if !message.is_empty() {
        out.push_str(": ");
        out.push_str(&message);
    }
    out.push_str(" (the line is not shown: it may hold a secret)");
    out
}

/// Replaces `${VAR}` and `${VAR:-default}` in every string value; unset variables are reported
/// against the key that used them.
fn expand_value(v: Value, key: &str, issues: &mut Vec<ConfigIssue>) -> Value {
    match v {
        Value::String(tag, s) => match expand_str(&s) {
            Ok(out) => Value::String(tag, out),
            Err(var) => {
                issues.push(ConfigIssue {
                    key: key.to_string(),
                    message: format!("environment variable `{var}` is not set"),
                });
                Value::String(tag, s)
            }
        },
        Value::Dict(tag, d) => Value::Dict(
            tag,
            d.into_iter()
                .map(|(k, v)| {
                    let sub = format!("{key}.{k}");
                    (k, expand_value(v, &sub, issues))
                })
                .collect(),
        ),
        Value::Array(tag, a) => Value::Array(
            tag,
            a.into_iter()
                .enumerate()
                .map(|(i, v)| expand_value(v, &format!("{key}[{i}]"), issues))
                .collect(),
        ),
        other => other,
    }
}

/// `${VAR}` → value of VAR (error naming VAR if unset); `${VAR:-x}` → x when unset or empty;
/// `$$` → `$`.
pub fn expand_str(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(body) = after.strip_prefix('{') {
            let Some(end) = body.find('}') else {
                out.push_str(&rest[pos..]);
                return Ok(out);
            };
            let inner = &body[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            match (std::env::var(name).ok().filter(|v| !v.is_empty()), default) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => return Err(name.to_string()),
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn serialize_redacted_url<S: serde::Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&redacted_url(url))
}

/// A database URL with its password replaced, for messages and logs: the one before the `@`
/// and a `password=` (or `sslpassword=`) in the query, which PostgreSQL's URLs accept too.
pub fn redacted_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            let secret = |k: &str| {
                k.eq_ignore_ascii_case("password") || k.eq_ignore_ascii_case("sslpassword")
            };
            if u.query_pairs().any(|(k, _)| secret(&k)) {
                let pairs: Vec<(String, String)> = u
                    .query_pairs()
                    .map(|(k, v)| {
                        let v = if secret(&k) {
                            "***".to_string()
                        } else {
                            v.into_owned()
                        };
                        (k.into_owned(), v)
                    })
                    .collect();
                u.query_pairs_mut().clear().extend_pairs(pairs);
            }
            u.to_string()
        }
        // Credentials can only be before an `@`.
        Err(_) if !url.contains('@') => url.to_string(),
        Err(_) => "(an unparsable URL with credentials)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_the_query_is_hidden_too() {
        let shown = redacted_url("postgres://app@db/mirror?sslmode=require&password=Pw-s3cret-44");
        assert!(!shown.contains("Pw-s3cret-44"), "{shown}");
        assert!(shown.contains("sslmode=require"), "{shown}");
        assert!(
            shown.contains("password=***") || shown.contains("password=%2A%2A%2A"),
            "{shown}"
        );
    }

    #[test]
    fn the_printed_configuration_hides_the_database_password() {
        let mut c = Config::default();
        c.database.url = "postgres://app:Pw-s3cret-55@db.internal:5432/mirror".into();
        let printed = c.to_redacted_toml();
        assert!(!printed.contains("Pw-s3cret-55"), "{printed}");
        assert!(
            printed.contains("url = \"postgres://app:***@db.internal:5432/mirror\""),
            "{printed}"
        );
    }

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "*** ***");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"***\"");
    }

    #[test]
    fn backstage_issuer_is_derived_from_the_jwks_url() {
        let b = |url: &str, issuer: Option<&str>| BackstageAuthConfig {
            jwks_url: url.into(),
            issuer: issuer.map(str::to_string),
            audience: None,
        };
        assert_eq!(
            b("https://bs.example/api/auth/.well-known/jwks.json", None).expected_issuer(),
            Some("https://bs.example/api/auth".into())
        );
        assert_eq!(
            b("https://bs.example/keys", Some("https://iss")).expected_issuer(),
            Some("https://iss".into())
        );
        assert_eq!(b("https://bs.example/keys", None).expected_issuer(), None);
    }

    #[test]
    fn plugin_keys_are_found_beside_the_auth_backend() {
        let b = BackstageAuthConfig {
            jwks_url: "https://bs.example/api/auth/.well-known/jwks.json".into(),
            issuer: None,
            audience: None,
        };
        let mut p = PluginTokensConfig::default();
        assert_eq!(
            p.jwks_url(&b, "mcp-actions").as_deref(),
            Some("https://bs.example/api/mcp-actions/.backstage/auth/v1/jwks.json")
        );
        p.plugin_url = Some("http://{{pluginId}}.internal:7007/api/{{pluginId}}/".into());
        assert_eq!(
            p.jwks_url(&b, "mcp-actions").as_deref(),
            Some("http://mcp-actions.internal:7007/api/mcp-actions/.backstage/auth/v1/jwks.json")
        );
        let elsewhere = BackstageAuthConfig {
            jwks_url: "https://keys.example/jwks".into(),
            issuer: Some("https://iss".into()),
            audience: None,
        };
        p.plugin_url = None;
        assert_eq!(p.jwks_url(&elsewhere, "mcp-actions"), None);

        let mut c = Config::default();
        c.auth.mode = AuthMode::Backstage;
        c.auth.backstage = Some(elsewhere);
        c.auth.plugin_tokens.trusted_plugins = vec!["mcp-actions".into(), "bad/id".into()];
        c.auth.plugin_tokens.plugin_url = Some("http://bs.example/api/plugin".into());
        let keys: Vec<String> = c
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|i| i.key)
            .collect();
        assert_eq!(
            keys,
            [
                "auth.plugin_tokens.trusted_plugins[1]",
                "auth.plugin_tokens.plugin_url"
            ]
        );
    }

    #[test]
    fn urls_lose_their_userinfo() {
        assert_eq!(
            redact_url("http://u:pw@host:8080/x?y"),
            "http://***@host:8080/x?y"
        );
        assert_eq!(redact_url("https://tok@h"), "https://***@h");
        assert_eq!(redact_url("https://h/a@b"), "https://h/a@b");
        assert_eq!(redact_url("not a url"), "not a url");
        assert!(has_userinfo("http://u:pw@host") && !has_userinfo("http://host/p@x"));
    }

    #[test]
    fn syntax_errors_name_key_line_and_column_never_the_line() {
        let text = "[server]\nbind = \"x\"\n\n[[environments]]\napi_token = s3cr3t-value\n";
        let Err(ConfigError::Parse { message, .. }) = check_toml_syntax(text, "f") else {
            panic!("a syntax error");
        };
        assert!(message.contains("line 5"), "{message}");
        assert!(message.contains("column 13"), "{message}");
        assert!(
            message.contains("`api_token` in [[environments]]"),
            "{message}"
        );
        assert!(!message.contains("s3cr3t"), "{message}");
    }

    #[test]
    fn type_errors_do_not_print_the_value() {
        let e = Config::from_toml_str("[auth]\nmode = 123456789\n").unwrap_err();
        let text = e.to_string();
        assert!(!text.contains("123456789"), "{text}");
        assert!(text.contains("auth.mode"), "{text}");
    }

    #[test]
    fn expands_variables() {
        // SAFETY: test-only variable names unique to this test.
        unsafe { std::env::set_var("SCB_TEST_EXPAND_A", "alpha") };
        assert_eq!(expand_str("x-${SCB_TEST_EXPAND_A}-y").unwrap(), "x-alpha-y");
        assert_eq!(expand_str("${SCB_TEST_UNSET_B:-dflt}").unwrap(), "dflt");
        assert_eq!(expand_str("a$$b").unwrap(), "a$b");
        assert_eq!(
            expand_str("${SCB_TEST_UNSET_C}").unwrap_err(),
            "SCB_TEST_UNSET_C"
        );
    }
}
