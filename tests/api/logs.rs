//! Logs: one line per request outcome, at the outcome's level, short and free of `Debug`
//! output (a 404 used to leave two WARN lines of about 700 characters).

use crate::helpers::*;

/// The captured log lines at INFO or above that mention `marker` (the harness also captures
/// DEBUG, e.g. the authorization's own line).
fn lines_with(marker: &str) -> Vec<String> {
    captured_logs()
        .lines()
        .filter(|l| l.contains(marker) && matches!(level(l), "INFO" | "WARN" | "ERROR"))
        .map(str::to_string)
        .collect()
}

/// The level word of a text log line (`2026-…Z  INFO …`).
fn level(line: &str) -> &str {
    line.split_whitespace().nth(1).unwrap_or("")
}

async fn get_as(app: &TestApp, path: &str, agent: &str) -> u16 {
    app.client
        .get(app.url(path))
        .header("User-Agent", agent)
        .send()
        .await
        .expect("request sent")
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_not_found_is_one_short_info_line() {
    let app = spawn_app().await;
    let route = "log-marker-no-route-41c9";
    let instance = "log-marker-unknown-instance-9b2e";
    assert_eq!(get_as(&app, "/no/such/route", route).await, 404);
    assert_eq!(
        get_as(&app, "/sync/status?instance=nope", instance).await,
        404
    );
    app.stop().await;
    for marker in [route, instance] {
        let lines = lines_with(marker);
        assert_eq!(lines.len(), 1, "one line per outcome: {lines:#?}");
        let line = &lines[0];
        assert_eq!(level(line), "INFO", "a 404 is not a warning: {line}");
        assert!(line.contains("404"), "{line}");
        assert!(!line.contains("AppError {"), "no Debug output: {line}");
        assert!(line.len() < 600, "{} characters: {line}", line.len());
    }
}

#[tokio::test]
async fn a_service_failure_is_one_warning_line() {
    remember_secret("log-test-key-0c1d");
    let app = spawn_app_with(|c| {
        // Never synced (the harness syncs on demand only): every mirror read is 503.
        let env = spectrocloud_backend::config::EnvironmentConfig {
            name: "cold".into(),
            url: "http://127.0.0.1:1".into(),
            tenant: "acme".into(),
            api_token: spectrocloud_backend::config::Secret::new("log-test-key-0c1d"),
            include_projects: vec![],
            exclude_projects: vec![],
            schedule: None,
            user_tokens: true,
            create_defaults: Default::default(),
            require_user_token: None,
            rate_limits: Default::default(),
        };
        c.environments = vec![env];
    })
    .await;
    let marker = "log-marker-not-synced-5d70";
    assert_eq!(get_as(&app, "/clusters", marker).await, 503);
    app.stop().await;
    let lines = lines_with(marker);
    assert_eq!(lines.len(), 1, "one line per outcome: {lines:#?}");
    assert_eq!(level(&lines[0]), "WARN", "{}", lines[0]);
    assert!(!lines[0].contains("AppError {"), "{}", lines[0]);
}
