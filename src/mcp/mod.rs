//! MCP tools for AI agents (rmcp, Streamable HTTP at `<base_path>/mcp`): the original plugin's
//! actions under their names plus diagnosis, pack and write tools, answered from the mirror
//! (kubeconfigs and manifests live), with the same bearer tokens as the HTTP API. The tools
//! live in one table ([`catalog`]): `tools/list` shows a caller only the tools it may call, and
//! `tools/call` checks before any tool runs. The tools call the same `service` functions as
//! the HTTP routes.

pub mod actions;
pub mod args;
pub mod catalog;
mod entity;
pub mod oauth;
pub mod sessions;
pub mod tools;

use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError, web};
use rmcp::handler::server::router::tool::{ToolRoute, ToolRouter};
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, GetPromptRequestParams,
    GetPromptResponse, GetPromptResult, Implementation, ListPromptsResult, ListToolsResult,
    PaginatedRequestParams, Prompt, PromptArgument, PromptMessage, Role, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use rmcp_actix_web::transport::{
    LocalSessionManager, StreamableHttpService, on_request_extensions,
};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::auth::Caller;
use crate::config::{AuthMode, Config};
use crate::error::AppError;
use crate::service::AppState;

pub use catalog::{TOOLS, permission_of};
use tools::Call;

#[derive(Clone)]
pub struct McpServer {
    state: web::Data<AppState>,
}

/// The HTTP request headers of an MCP request (for the Palette user, as on the routes).
#[derive(Clone)]
pub(crate) struct RequestHeaders(pub(crate) actix_web::http::header::HeaderMap);

fn headers(ctx: &RequestContext<RoleServer>) -> actix_web::http::header::HeaderMap {
    on_request_extensions(&ctx.extensions)
        .and_then(|e| e.get::<RequestHeaders>())
        .map(|h| h.0.clone())
        .unwrap_or_default()
}

fn caller(ctx: &RequestContext<RoleServer>) -> Option<Caller> {
    on_request_extensions(&ctx.extensions)
        .and_then(|e| e.get::<Caller>())
        .cloned()
}

/// A tool's answer: its JSON, or the error body (`{error, code}`, with candidates or
/// did-you-mean names when a name did not pick one object) marked as an error, which the
/// calling model can read, unlike a protocol error.
fn answer(result: Result<Value, AppError>) -> CallToolResult {
    match result {
        Ok(v) => CallToolResult::structured(v),
        Err(e) => CallToolResult::structured_error(e.body()),
    }
}

/// A call through the rmcp router: the same [`catalog::invoke`] as `tools/call`.
fn routed(
    tc: ToolCallContext<'_, McpServer>,
) -> futures::future::BoxFuture<'_, Result<CallToolResponse, McpError>> {
    Box::pin(async move {
        let Some(c) = caller(&tc.request_context) else {
            return Ok(answer(Err(AppError::unauthenticated("no caller"))).into());
        };
        let call = Call::new(&tc.service.state, &c).with_headers(headers(&tc.request_context));
        let input = tc.arguments.map(Value::Object).unwrap_or(Value::Null);
        Ok(answer(catalog::invoke(&call, &tc.name, input).await).into())
    })
}

const DIAGNOSE_PROMPT: &str = "diagnose-cluster";

impl McpServer {
    pub fn new(state: web::Data<AppState>) -> McpServer {
        McpServer { state }
    }

    /// The tools of this configuration as an rmcp router (for adapters that enumerate and
    /// invoke tools through rmcp); every route goes through [`catalog::invoke`].
    pub fn tool_router(config: &Config) -> ToolRouter<McpServer> {
        let mut router = ToolRouter::new();
        for spec in catalog::offered(config) {
            router.add_route(ToolRoute::new_dyn(spec.tool(), routed));
        }
        router
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().enable_prompts().build())
            .with_server_info(Implementation::new("spectrocloud-backend", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Spectro Cloud Palette clusters, cluster profiles, packs, projects and cloud accounts, from a local \
                 mirror kept fresh by background sync. Objects are named by name or uid (names any case; add \
                 projectName or projectUid when a name is in several projects). Lists are paged: pass nextCursor \
                 as cursor; summary=true gives counts. Tools take an optional instanceName (the Palette environment).",
            )
    }

    /// Only the tools the caller may call.
    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let tools = match caller(&ctx) {
            Some(c) => catalog::list(&self.state.config, &c),
            None => Vec::new(),
        };
        Ok(ListToolsResult::with_all_items(tools))
    }

    /// The permission check of every tool, before it runs (in [`catalog::invoke`]).
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let Some(c) = caller(&ctx) else {
            return Ok(answer(Err(AppError::unauthenticated("no caller"))).into());
        };
        let call = Call::new(&self.state, &c).with_headers(headers(&ctx));
        let input = request.arguments.map(Value::Object).unwrap_or(Value::Null);
        Ok(answer(catalog::invoke(&call, &request.name, input).await).into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        let mut name = PromptArgument::new("clusterName");
        name.description = Some("The cluster's name (or uid)".into());
        name.required = Some(true);
        let prompt = Prompt::new(
            DIAGNOSE_PROMPT,
            Some("Diagnose a SpectroCloud cluster: what is wrong and what to check next."),
            Some(vec![name]),
        )
        .with_title("Diagnose a cluster");
        Ok(ListPromptsResult::with_all_items(vec![prompt]))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        if request.name != DIAGNOSE_PROMPT {
            return Err(McpError::invalid_params(
                format!("unknown prompt {}", request.name),
                None,
            ));
        }
        let cluster = request
            .arguments
            .as_ref()
            .and_then(|a| a.get("clusterName"))
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| McpError::invalid_params("clusterName is required", None))?;
        let text = format!(
            "Diagnose the SpectroCloud cluster `{cluster}`. Call diagnose_spectrocloud_cluster with \
             clusterName `{cluster}` (if the name is ambiguous, pick a candidate by projectName or use its \
             clusterUid). Report its state and health, unhealthy machine pools, failing conditions, the \
             Kubernetes and agent versions and the last heartbeat. Then check the profiles it runs with \
             get_spectrocloud_cluster_profiles, and whether the mirror is fresh with \
             get_spectrocloud_sync_status. End with the likely cause and the next steps."
        );
        Ok(
            GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
                .with_description(format!("Diagnose cluster {cluster}"))
                .into(),
        )
    }
}

/// Authenticates MCP requests with the API's bearer tokens; the caller reaches the tools.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    crate::api::authorize::with_caller(req, next, "mcp", |req, state, e| {
        let mut resp = e.error_response();
        if let Some(state) = state {
            // RFC 9728: the challenge says where the protected-resource metadata is.
            let challenge = oauth::challenge(req, &state.config);
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        resp
    })
    .await
}

/// The Streamable HTTP service, built once and shared by every worker (sessions live in it).
pub fn service(
    state: web::Data<AppState>,
    config: &Config,
    shutdown: CancellationToken,
    sessions: Arc<LocalSessionManager>,
) -> StreamableHttpService<McpServer, LocalSessionManager> {
    // rmcp's Host check guards unauthenticated loopback servers against DNS rebinding; with
    // bearer tokens required, a rebinding page has no token, so any Host is accepted.
    let hosts: Vec<String> = match config.auth.mode {
        AuthMode::None => vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
        _ => Vec::new(),
    };
    StreamableHttpService::builder()
        .service_factory(Arc::new(move || Ok(McpServer::new(state.clone()))))
        .session_manager(sessions)
        .on_request_fn(|req, ext| {
            if let Some(c) = req.extensions().get::<Caller>() {
                ext.insert(c.clone());
            }
            ext.insert(RequestHeaders(req.headers().clone()));
        })
        .allowed_hosts(hosts)
        // A plain request/response answers application/json, not a one-event SSE stream,
        // wherever the request is served statelessly (2026-07-28 clients, or every client
        // with `mcp.legacy_sessions = false`).
        .json_response(true)
        // The guard reads JSON bodies first with this limit; rmcp's own (4 MiB) must not differ.
        .max_request_body_bytes(config.server.json_limit_bytes)
        .stateful_mode(config.mcp.legacy_sessions)
        .cancellation_token(shutdown)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_names_its_permission_and_writes_are_opt_in() {
        let mut config = Config::default();
        let read = McpServer::tool_router(&config).list_all();
        assert_eq!(read.len() + 2, TOOLS.len());
        config.mcp.write_tools = true;
        let all = McpServer::tool_router(&config).list_all();
        assert_eq!(all.len(), TOOLS.len());
        for t in all {
            assert!(
                permission_of(&t.name).is_some(),
                "tool {} has no permission",
                t.name
            );
            assert!(t.title.is_some() && t.annotations.is_some() && t.output_schema.is_some());
        }
    }
}
