//! OAuth 2.0 Protected Resource Metadata (RFC 9728) for the MCP endpoint: an MCP client that
//! gets a 401 finds, through `WWW-Authenticate: Bearer resource_metadata="…"`, which resource
//! it talks to, how to present a token (the `Authorization` header only) and which
//! authorization servers issue tokens for it (`mcp.authorization_servers`). Served at
//! `/.well-known/oauth-protected-resource<mcp path>` (RFC 9728 §3.1) and at the bare
//! well-known path, only when a token is needed (not with `auth.mode = "none"`).

use actix_web::http::header::HeaderValue;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::config::{AuthMode, Config};
use crate::error::AppError;
use crate::service::AppState;

pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// `<base_path>/mcp`.
pub fn mcp_path(config: &Config) -> String {
    format!("{}/mcp", config.server.base_path.trim_end_matches('/'))
}

/// The origin clients reach this service at: `mcp.public_url`, else the request's own
/// scheme and host (behind a proxy, set `public_url`).
fn origin(req: &HttpRequest, config: &Config) -> String {
    match &config.mcp.public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    }
}

/// Where the metadata of the MCP endpoint is.
pub fn metadata_url(req: &HttpRequest, config: &Config) -> String {
    format!("{}{WELL_KNOWN}{}", origin(req, config), mcp_path(config))
}

/// The `WWW-Authenticate` challenge of a 401 from the MCP endpoint.
pub fn challenge(req: &HttpRequest, config: &Config) -> HeaderValue {
    let value = format!("Bearer resource_metadata=\"{}\"", metadata_url(req, config));
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

/// The metadata document (pure).
pub fn document(resource: &str, authorization_servers: &[String]) -> Value {
    let mut doc = json!({
        "resource": resource,
        "bearer_methods_supported": ["header"],
        "resource_name": "spectrocloud-backend MCP",
    });
    if !authorization_servers.is_empty() {
        doc["authorization_servers"] = json!(authorization_servers);
    }
    doc
}

/// `GET /.well-known/oauth-protected-resource[<mcp path>]`.
pub async fn metadata(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let config = &state.config;
    if config.auth.mode == AuthMode::None {
        return actix_web::ResponseError::error_response(&AppError::not_found(
            "no token is needed here (auth.mode = \"none\"): no protected-resource metadata",
        ));
    }
    let resource = format!("{}{}", origin(&req, config), mcp_path(config));
    HttpResponse::Ok().json(document(&resource, &config.mcp.authorization_servers))
}

/// Registers the two well-known paths (outside the base path, like `/metrics`).
pub fn configure(config: &Config) -> impl FnOnce(&mut web::ServiceConfig) + use<> {
    let suffixed = format!("{WELL_KNOWN}{}", mcp_path(config));
    move |cfg| {
        cfg.route(WELL_KNOWN, web::get().to(metadata))
            .route(&suffixed, web::get().to(metadata));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_names_the_resource_and_only_configured_servers() {
        let d = document("https://sc.example/api/spectrocloud/mcp", &[]);
        assert_eq!(d["resource"], "https://sc.example/api/spectrocloud/mcp");
        assert_eq!(d["bearer_methods_supported"], json!(["header"]));
        assert!(d.get("authorization_servers").is_none());
        let d = document("r", &["https://bs.example/api/auth".into()]);
        assert_eq!(
            d["authorization_servers"],
            json!(["https://bs.example/api/auth"])
        );
    }
}
