//! `Config::validate`: every problem at once, each naming its key, checked section by section
//! (each section's checks beside the others of its kind, as `RateLimitsConfig::issues` does).

use std::collections::HashSet;
use std::net::SocketAddr;

use super::*;

impl Config {
    /// Every problem at once, each naming its key.
    pub fn validate(&self) -> Result<(), Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let mut issue = |key: &str, message: String| {
            issues.push(ConfigIssue {
                key: key.to_string(),
                message,
            })
        };
        // In the order the issues have always been listed.
        let bind = self.server.address_issues(&mut issue);
        self.retention_issues(&mut issue);
        self.notifications.issues(&mut issue);
        self.server.limit_issues(&mut issue);
        self.database.issues(&mut issue);
        self.auth.mode_issues(bind, &mut issue);
        self.validate_plugin_tokens(&mut issue);
        self.surface_issues(&mut issue);
        self.auth.token_issues(&mut issue);
        self.permissions.issues(&mut issue);
        self.sync.issues(&mut issue);
        let mut names = HashSet::new();
        for (i, env) in self.environments.iter().enumerate() {
            env.issues(i, &self.auth, &mut names, &mut issue);
        }
        if issues.is_empty() {
            Ok(())
        } else {
            Err(issues)
        }
    }

    /// The plugin-token section (Backstage's plugin-to-plugin tokens).
    fn validate_plugin_tokens(&self, issue: &mut impl FnMut(&str, String)) {
        let p = &self.auth.plugin_tokens;
        if !is_plugin_id(&p.plugin_id) {
            issue(
                "auth.plugin_tokens.plugin_id",
                format!(
                    "`{}` is not a plugin id (letters, digits, `_`, `-`)",
                    p.plugin_id
                ),
            );
        }
        for (i, t) in p.trusted_plugins.iter().enumerate() {
            if !is_plugin_id(t) {
                issue(
                    &format!("auth.plugin_tokens.trusted_plugins[{i}]"),
                    format!("`{t}` is not a plugin id (letters, digits, `_`, `-`)"),
                );
            }
        }
        if let Some(u) = &p.plugin_url
            && (!u.contains(PLUGIN_ID_PLACEHOLDER)
                || !is_http_url(&u.replace(PLUGIN_ID_PLACEHOLDER, "x")))
        {
            issue(
                "auth.plugin_tokens.plugin_url",
                format!("`{u}` must be an http(s) URL containing {PLUGIN_ID_PLACEHOLDER}"),
            );
        }
    }

    fn retention_issues(&self, issue: &mut impl FnMut(&str, String)) {
        if self.history.retention_days == 0 {
            issue("history.retention_days", "must be at least 1".into());
        }
        if self.audit.retention_days == 0 {
            issue("audit.retention_days", "must be at least 1".into());
        }
    }

    /// The MCP and fleet-page addresses and limits.
    fn surface_issues(&self, issue: &mut impl FnMut(&str, String)) {
        for (i, a) in self.mcp.authorization_servers.iter().enumerate() {
            if !is_http_url(a) {
                issue(
                    &format!("mcp.authorization_servers[{i}]"),
                    format!("`{a}` is not an http(s) URL"),
                );
            }
        }
        if let Some(u) = self.ui.public_url.as_deref().filter(|u| !is_http_url(u)) {
            issue(
                "ui.public_url",
                format!("`{u}` is not an http(s) URL such as https://sc.example.com"),
            );
        }
        if self.ui.session_ttl_seconds < 60 {
            issue("ui.session_ttl_seconds", "must be at least 60".into());
        }
        if self.ui.max_sessions_per_subject == 0 {
            issue("ui.max_sessions_per_subject", "must be at least 1".into());
        }
        if let Some(u) = self.mcp.public_url.as_deref().filter(|u| !is_http_url(u)) {
            issue(
                "mcp.public_url",
                format!("`{u}` is not an http(s) URL such as https://spectrocloud.example.com"),
            );
        }
    }
}

impl ServerConfig {
    /// `bind` and `base_path`; the bind address when it parses (auth mode `none` needs it).
    fn address_issues(&self, issue: &mut impl FnMut(&str, String)) -> Option<SocketAddr> {
        let bind = self.bind.parse::<SocketAddr>().ok();
        if bind.is_none() {
            issue(
                "server.bind",
                format!(
                    "`{}` is not a socket address such as 127.0.0.1:7007",
                    self.bind
                ),
            );
        }
        let bp = &self.base_path;
        if !bp.starts_with('/') || (bp.len() > 1 && bp.ends_with('/')) {
            issue(
                "server.base_path",
                format!("`{bp}` must start with `/` and not end with `/`"),
            );
        }
        bind
    }

    fn limit_issues(&self, issue: &mut impl FnMut(&str, String)) {
        if self.json_limit_bytes == 0 {
            issue("server.json_limit_bytes", "must be greater than 0".into());
        }
        if self.workers == Some(0) {
            issue("server.workers", "must be at least 1".into());
        }
        for (i, o) in self.cors_allowed_origins.iter().enumerate() {
            if o != "*" && !is_http_url(o) {
                issue(
                    &format!("server.cors_allowed_origins[{i}]"),
                    format!(
                        "`{o}` is not an origin such as https://backstage.example.com (or `*`)"
                    ),
                );
            }
        }
        if let Some(id) = &self.replica_id
            && !replica_id_ok(id)
        {
            issue(
                "server.replica_id",
                format!("`{id}` must be 1 to 100 characters: letters, digits, `-`, `_`, `.`"),
            );
        }
    }
}

/// A replica id shows in logs, `/health` and `/sync/status`: short, plain characters.
fn replica_id_ok(id: &str) -> bool {
    (1..=100).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl NotificationsConfig {
    fn issues(&self, issue: &mut impl FnMut(&str, String)) {
        if self.max_attempts == 0 {
            issue("notifications.max_attempts", "must be at least 1".into());
        }
        if self.max_pending_batches == 0 {
            issue(
                "notifications.max_pending_batches",
                "must be at least 1".into(),
            );
        }
        for (i, w) in self.webhooks.iter().enumerate() {
            if !is_http_url(&w.url) {
                issue(
                    &format!("notifications.webhooks[{i}].url"),
                    format!("`{}` is not an http(s) URL", redact_url(&w.url)),
                );
            }
            for t in w
                .types
                .iter()
                .filter(|t| !EVENT_TYPES.contains(&t.as_str()))
            {
                issue(
                    &format!("notifications.webhooks[{i}].types"),
                    format!("unknown event type `{t}`: use {}", EVENT_TYPES.join(", ")),
                );
            }
            if let Some(problem) = w.secret.as_ref().and_then(|s| whsec_problem(s.expose())) {
                issue(&format!("notifications.webhooks[{i}].secret"), problem);
            }
        }
    }
}

impl DatabaseConfig {
    fn issues(&self, issue: &mut impl FnMut(&str, String)) {
        let url = &self.url;
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            if let Err(e) = url.parse::<sqlx::postgres::PgConnectOptions>() {
                issue(
                    "database.url",
                    format!(
                        "`{}` is not a PostgreSQL URL: {e}",
                        super::redacted_url(url)
                    ),
                );
            }
        } else if !url.starts_with("sqlite:") {
            issue(
                "database.url",
                format!(
                    "`{}` must be a sqlite: URL such as sqlite://data/spectrocloud.db or a PostgreSQL one such as postgres://user:password@host:5432/database",
                    super::redacted_url(url)
                ),
            );
        } else if url.contains(":memory:") || url.contains("mode=memory") {
            issue(
                "database.url",
                "an in-memory database cannot be shared by the writer and the reader pool; use a file".into(),
            );
        }
        if self.max_readers == 0 {
            issue("database.max_readers", "must be at least 1".into());
        }
    }
}

impl AuthConfig {
    /// What the mode requires (`none` only on loopback, `backstage` its keys and issuer).
    fn mode_issues(&self, bind: Option<SocketAddr>, issue: &mut impl FnMut(&str, String)) {
        match self.mode {
            AuthMode::None => {
                if let Some(addr) = bind
                    && !addr.ip().is_loopback()
                {
                    issue(
                        "auth.mode",
                        format!(
                            "\"none\" is only allowed on a loopback bind, but server.bind is {addr}; use \"static\" or \"backstage\""
                        ),
                    );
                }
            }
            AuthMode::Backstage => match &self.backstage {
                None => issue(
                    "auth.backstage.jwks_url",
                    "required when auth.mode = \"backstage\"".into(),
                ),
                Some(b) if !is_http_url(&b.jwks_url) => issue(
                    "auth.backstage.jwks_url",
                    format!("`{}` is not an http(s) URL", b.jwks_url),
                ),
                Some(b) if b.expected_issuer().is_none() => issue(
                    "auth.backstage.issuer",
                    "required: it cannot be derived from jwks_url (Backstage's keys are at `<issuer>/.well-known/jwks.json`)".into(),
                ),
                Some(_) => {}
            },
            AuthMode::Static => {}
        }
    }

    /// The static tokens (long, distinct, with a subject) and the user cache.
    fn token_issues(&self, issue: &mut impl FnMut(&str, String)) {
        let mut seen_tokens = HashSet::new();
        for (i, t) in self.tokens.iter().enumerate() {
            if t.token.expose().trim().is_empty() {
                issue(
                    &format!("auth.tokens[{i}].token"),
                    "is empty (is its environment variable set?)".into(),
                );
            } else if t.token.expose().chars().count() < MIN_TOKEN_CHARS {
                issue(
                    &format!("auth.tokens[{i}].token"),
                    format!(
                        "is shorter than {MIN_TOKEN_CHARS} characters; use a long random token (e.g. `openssl rand -hex 24`)"
                    ),
                );
            } else if !seen_tokens.insert(t.token.expose().to_string()) {
                issue(
                    &format!("auth.tokens[{i}].token"),
                    "the same token is configured twice".into(),
                );
            }
            if t.subject.trim().is_empty() {
                issue(&format!("auth.tokens[{i}].subject"), "is empty".into());
            }
            if t.palette_user
                .as_deref()
                .is_some_and(|e| !e.contains('@') || e.len() > 254)
            {
                issue(
                    &format!("auth.tokens[{i}].palette_user"),
                    "must be the Palette user's email".into(),
                );
            }
        }
        if self.user_cache_capacity == 0 {
            issue("auth.user_cache_capacity", "must be at least 1".into());
        }
    }
}

impl PermissionsConfig {
    fn issues(&self, issue: &mut impl FnMut(&str, String)) {
        for (i, g) in self.grants.iter().enumerate() {
            if g.principals.is_empty() {
                issue(
                    &format!("permissions.grants[{i}].principals"),
                    "lists no principal".into(),
                );
            }
            for (j, p) in g.allow.iter().enumerate() {
                if !Permission::is_valid_pattern(p) {
                    issue(
                        &format!("permissions.grants[{i}].allow[{j}]"),
                        format!(
                            "unknown permission `{p}`; expected one of {} or a wildcard such as spectrocloud.cluster.*",
                            Permission::ALL
                                .iter()
                                .map(|p| p.id())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                }
            }
        }
    }
}

impl SyncConfig {
    fn issues(&self, issue: &mut impl FnMut(&str, String)) {
        if let Err(msg) = validate_cron(&self.schedule) {
            issue("sync.schedule", msg);
        }
        if !(1..=64).contains(&self.concurrency) {
            issue("sync.concurrency", "must be between 1 and 64".into());
        }
        if !(1..=50).contains(&self.page_size) {
            issue(
                "sync.page_size",
                "must be between 1 and 50 (Palette's maximum)".into(),
            );
        }
        if self.request_timeout_seconds == 0 {
            issue("sync.request_timeout_seconds", "must be at least 1".into());
        }
        if self.run_timeout_seconds == 0 {
            issue("sync.run_timeout_seconds", "must be at least 1".into());
        }
        if !(1..=3600).contains(&self.lease_seconds) {
            issue(
                "sync.lease_seconds",
                "must be between 1 and 3600 (a dead leader's environment waits this long)".into(),
            );
        }
        for (key, value) in [
            ("sync.max_listing_bytes", self.max_listing_bytes),
            ("sync.max_object_bytes", self.max_object_bytes),
        ] {
            if value < MIN_ANSWER_BYTES {
                issue(
                    key,
                    format!("must be at least {MIN_ANSWER_BYTES} bytes (64 KiB)"),
                );
            }
        }
        let fraction = self.max_deletion_fraction;
        if !(fraction > 0.0 && fraction <= 1.0) {
            issue(
                "sync.max_deletion_fraction",
                format!(
                    "must be above 0 and at most 1 (1 = never hold deletions back), not {fraction}"
                ),
            );
        }
    }
}

impl EnvironmentConfig {
    /// The `i`th environment's issues; `names` holds the names seen before it.
    fn issues(
        &self,
        i: usize,
        auth: &AuthConfig,
        names: &mut HashSet<String>,
        issue: &mut impl FnMut(&str, String),
    ) {
        let key = |k: &str| format!("environments[{i}].{k}");
        if self.name.trim().is_empty() {
            issue(&key("name"), "is empty".into());
        } else if !self
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            issue(
                &key("name"),
                format!(
                    "`{}` may only contain letters, digits, `-`, `_` and `.`",
                    self.name
                ),
            );
        } else if !names.insert(self.name.clone()) {
            issue(
                &key("name"),
                format!("duplicate environment name `{}`", self.name),
            );
        }
        if self.url.trim().is_empty() {
            issue(&key("url"), "is empty".into());
        } else if has_userinfo(&self.url) {
            issue(
                &key("url"),
                format!(
                    "`{}` carries a user name or password; remove it (Palette authenticates with api_token)",
                    redact_url(&self.url)
                ),
            );
        } else if !is_http_url(&self.url) {
            issue(
                &key("url"),
                format!("`{}` is not an http(s) URL", redact_url(&self.url)),
            );
        }
        if self.api_token.expose().trim().is_empty() {
            issue(
                &key("api_token"),
                "is empty (is its environment variable set?)".into(),
            );
        }
        if let Some(s) = &self.schedule
            && let Err(msg) = validate_cron(s)
        {
            issue(&key("schedule"), msg);
        }
        if self.requires_user_token(auth) && !self.user_tokens {
            // No user token is ever taken for this environment, so none is ever usable.
            issue(
                &key("require_user_token"),
                "every request would be refused: user_tokens = false means no Palette user token is used here; set require_user_token = false for this environment, or user_tokens = true".into(),
            );
        }
        self.rate_limits.issues(&key("rate_limits"), &mut *issue);
        for p in &self.include_projects {
            if self.exclude_projects.contains(p) {
                issue(
                    &key("include_projects"),
                    format!("project `{p}` is both included and excluded"),
                );
            }
        }
        for i in create_defaults_issues(&self.create_defaults, &format!("environments[{i}]")) {
            issue(&i.key, i.message);
        }
    }
}
