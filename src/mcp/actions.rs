//! The Backstage actions registry over the MCP tools, so `@backstage/plugin-mcp-actions-backend`
//! (Backstage's `ActionsService`, `backend.actions.pluginSources: ['spectrocloud']`) can
//! aggregate this service as the `spectrocloud` plugin:
//! - `GET <base>/.backstage/actions/v1/actions`: the tools the caller may call, as actions
//!   (`{id: "spectrocloud:<tool>", name, title, description, pluginId, attributes, schema}`);
//! - `POST <base>/.backstage/actions/v2/actions/{id}/invoke` with `{input}`, and the deprecated
//!   `v1/.../invoke` with the input as the body, both answering `{output}`;
//! - `GET <base>/.backstage/auth/v1/jwks.json`: no keys (this service mints no tokens; Backstage
//!   reads it to see that the plugin speaks the new auth system).
//!
//! Every list and call is one JSON-RPC request to the MCP server in process, through rmcp's own
//! dispatch: the tools, schemas, permission filter and checks and audit are exactly those of
//! `/mcp`, and nothing keeps a second list of tools. Errors have Backstage's shape
//! (`{error: {name, message, code}, request: {method, url}, response: {statusCode}}`).

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::{Next, from_fn};
use actix_web::{Error, HttpRequest, HttpResponse, web};
use rmcp::RoleServer;
use rmcp::model::{ClientJsonRpcMessage, GetExtensions};
use rmcp::transport::OneshotTransport;
use serde_json::{Map, Value, json};

use super::McpServer;
use crate::auth::Caller;
use crate::error::{AppError, ErrorCode};
use crate::service::AppState;

/// A refusal of the registry, as Backstage's error handler would answer it.
#[derive(Debug)]
pub struct ActionError {
    status: StatusCode,
    name: &'static str,
    message: String,
    /// Our machine code (`permission_denied`, ...); Backstage's `SerializedError.code`.
    code: String,
    /// What else the tool's error said (`permission`, candidates, ...); boxed: the error
    /// stays small on the happy path.
    extra: Box<Map<String, Value>>,
}

impl From<AppError> for ActionError {
    fn from(e: AppError) -> Self {
        let mut extra = Map::new();
        if let Some(p) = e.permission {
            extra.insert("permission".into(), json!(p));
        }
        if let Some(problems) = &e.problems {
            extra.insert("problems".into(), json!(problems));
        }
        ActionError {
            status: e.code.status(),
            name: e.code.backstage_name(),
            message: e.message,
            code: e.code.as_str().into(),
            extra: Box::new(extra),
        }
    }
}

impl ActionError {
    fn not_found(id: &str) -> Self {
        let shown: String = id.chars().take(128).collect();
        AppError::not_found(format!("Action \"{shown}\" not found")).into()
    }

    fn input(id: &str, detail: &str) -> Self {
        AppError::bad_request(format!("Invalid input to action \"{id}\": {detail}")).into()
    }

    /// A tool's own error answer (`isError` with `{error, code, ...}`); a code this service
    /// does not know is the tool refusing its input.
    fn of_tool(id: &str, structured: &Value, text: Option<&str>) -> Self {
        // No code: rmcp's own refusal of arguments that do not fit the tool's schema.
        let Some(code) = structured["code"].as_str() else {
            return Self::input(id, text.unwrap_or("the arguments do not fit the schema"));
        };
        let known =
            serde_json::from_value::<ErrorCode>(json!(code)).unwrap_or(ErrorCode::BadRequest);
        let message = structured["error"]
            .as_str()
            .or(text)
            .unwrap_or("the action failed")
            .to_string();
        let mut extra = structured.as_object().cloned().unwrap_or_default();
        extra.remove("error");
        extra.remove("code");
        // Backstage's wording for an input the action refuses.
        let message = match known.status() {
            StatusCode::BAD_REQUEST => format!("Invalid input to action \"{id}\": {message}"),
            _ => message,
        };
        ActionError {
            status: known.status(),
            name: known.backstage_name(),
            message,
            code: code.to_string(),
            extra: Box::new(extra),
        }
    }

    /// Backstage's `ErrorResponseBody` (pure).
    pub fn body(&self, method: &str, url: &str) -> Value {
        let mut error = Map::new();
        error.insert("name".into(), json!(self.name));
        error.insert("message".into(), json!(self.message));
        error.insert("code".into(), json!(self.code));
        for (k, v) in self.extra.iter() {
            error.entry(k.clone()).or_insert_with(|| v.clone());
        }
        json!({
            "error": error,
            "request": { "method": method, "url": url },
            "response": { "statusCode": self.status.as_u16() },
        })
    }

    pub fn respond(&self, req: &HttpRequest) -> HttpResponse {
        let url = req
            .uri()
            .path_and_query()
            .map_or_else(|| req.path().to_string(), |p| p.as_str().to_string());
        HttpResponse::build(self.status).json(self.body(req.method().as_str(), &url))
    }
}

// ------------------------------------------------------------------ the MCP server in process

/// What one in-process JSON-RPC request came back with.
enum Rpc {
    Result(Value),
    /// A JSON-RPC error (unknown tool, arguments that do not fit the schema, ...).
    Error(String),
}

/// Who calls: the caller and the request's headers (its Palette user, as on the routes).
pub struct Who {
    pub caller: Caller,
    pub headers: actix_web::http::header::HeaderMap,
}

impl Who {
    fn of(req: &HttpRequest, caller: Caller) -> Who {
        Who {
            caller,
            headers: req.headers().clone(),
        }
    }
}

/// `http::request::Parts` carrying the caller and headers where rmcp-actix-web puts a
/// request's extensions, so the tools find them exactly as over `/mcp`.
fn parts_with(who: &Who) -> http::request::Parts {
    let mut inner = rmcp::model::Extensions::new();
    inner.insert(who.caller.clone());
    inner.insert(super::RequestHeaders(who.headers.clone()));
    let (mut parts, ()) = http::Request::new(()).into_parts();
    parts.extensions.insert(inner);
    parts
}

/// One JSON-RPC request to the MCP server, in process, as `who`.
async fn dispatch(
    state: &web::Data<AppState>,
    who: &Who,
    method: &str,
    params: Value,
) -> Result<Rpc, AppError> {
    let message = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    let mut message: ClientJsonRpcMessage = serde_json::from_value(message)
        .map_err(|e| AppError::bad_request(format!("invalid {method} request: {e}")))?;
    if let ClientJsonRpcMessage::Request(r) = &mut message {
        r.request.extensions_mut().insert(parts_with(who));
    }
    let (transport, mut answers) = OneshotTransport::<RoleServer>::new(message);
    let running = rmcp::service::serve_directly(McpServer::new(state.clone()), transport, None);
    // The service ends by itself once its one answer is out.
    tokio::spawn(async move {
        let _ = running.waiting().await;
    });
    while let Some(answer) = answers.recv().await {
        let v = serde_json::to_value(&answer).map_err(|e| AppError::internal("answering", e))?;
        if let Some(result) = v.get("result") {
            return Ok(Rpc::Result(result.clone()));
        }
        if let Some(error) = v.get("error") {
            let message = error["message"].as_str().unwrap_or("request refused");
            return Ok(Rpc::Error(message.to_string()));
        }
        // A notification (progress, log) before the answer: not part of an action's output.
    }
    Err(AppError::internal(
        "calling a tool",
        "the MCP server ended without an answer",
    ))
}

/// Most `tools/list` pages read for one listing (a guard against a cursor that never ends).
const MAX_PAGES: usize = 64;

/// The tools `who` may call, as the MCP server lists them (JSON of rmcp's `Tool`).
async fn tools_for(state: &web::Data<AppState>, who: &Who) -> Result<Vec<Value>, AppError> {
    let mut tools = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let params = match &cursor {
            Some(c) => json!({ "cursor": c }),
            None => json!({}),
        };
        let page = match dispatch(state, who, "tools/list", params).await? {
            Rpc::Result(v) => v,
            Rpc::Error(e) => return Err(AppError::internal("listing tools", e)),
        };
        tools.extend(page["tools"].as_array().cloned().unwrap_or_default());
        match page["nextCursor"].as_str() {
            Some(c) if !c.is_empty() => cursor = Some(c.to_string()),
            _ => break,
        }
    }
    Ok(tools)
}

// ------------------------------------------------------------------ tools as actions (pure)

/// Backstage's attributes from MCP annotations, with Backstage's defaults: not read-only,
/// destructive unless read-only, not idempotent.
pub fn attributes(annotations: &Value) -> Value {
    let read_only = annotations["readOnlyHint"].as_bool().unwrap_or(false);
    json!({
        "readOnly": read_only,
        "destructive": annotations["destructiveHint"].as_bool().unwrap_or(!read_only),
        "idempotent": annotations["idempotentHint"].as_bool().unwrap_or(false),
    })
}

/// One MCP tool as a Backstage action.
pub fn action_of(plugin_id: &str, tool: &Value) -> Value {
    let name = tool["name"].as_str().unwrap_or_default();
    let title = tool["title"]
        .as_str()
        .or(tool["annotations"]["title"].as_str())
        .unwrap_or(name);
    let output = match &tool["outputSchema"] {
        Value::Null => json!({ "type": "object" }),
        schema => schema.clone(),
    };
    json!({
        "id": format!("{plugin_id}:{name}"),
        "name": name,
        "title": title,
        "description": tool["description"].as_str().unwrap_or_default(),
        "pluginId": plugin_id,
        "attributes": attributes(&tool["annotations"]),
        "schema": { "input": tool["inputSchema"], "output": output },
    })
}

/// The output of a `tools/call` result, or the tool's error as an action error.
pub fn outcome(id: &str, result: &Value) -> Result<Value, ActionError> {
    let text = result["content"]
        .as_array()
        .and_then(|c| c.iter().find_map(|p| p["text"].as_str()));
    if result["isError"] == true {
        return Err(ActionError::of_tool(id, &result["structuredContent"], text));
    }
    Ok(match (&result["structuredContent"], text) {
        (Value::Null, Some(t)) => serde_json::from_str(t).unwrap_or_else(|_| json!(t)),
        (Value::Null, None) => json!({}),
        (structured, _) => structured.clone(),
    })
}

/// The tool name of an action id (`spectrocloud:<tool>`).
pub fn tool_name<'a>(plugin_id: &str, id: &'a str) -> Option<&'a str> {
    id.strip_prefix(plugin_id)?
        .strip_prefix(':')
        .filter(|n| !n.is_empty())
}

// ------------------------------------------------------------------ routes

fn plugin_id(state: &AppState) -> &str {
    &state.config.auth.plugin_tokens.plugin_id
}

/// `GET .../v1/actions`.
pub async fn list(req: HttpRequest, state: web::Data<AppState>, caller: Caller) -> HttpResponse {
    match tools_for(&state, &Who::of(&req, caller)).await {
        Ok(tools) => {
            let actions: Vec<Value> = tools
                .iter()
                .map(|t| action_of(plugin_id(&state), t))
                .collect();
            HttpResponse::Ok().json(json!({ "actions": actions }))
        }
        Err(e) => ActionError::from(e).respond(&req),
    }
}

/// Calls the action's tool with `input`.
#[tracing::instrument(skip_all, fields(action = %id, subject = %who.caller.subject))]
async fn invoke(
    state: &web::Data<AppState>,
    who: &Who,
    id: &str,
    input: Value,
) -> Result<Value, ActionError> {
    let name = tool_name(plugin_id(state), id).ok_or_else(|| ActionError::not_found(id))?;
    let arguments = match input {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        _ => return Err(ActionError::input(id, "the input must be a JSON object")),
    };
    let params = json!({ "name": name, "arguments": arguments });
    let result = match dispatch(state, who, "tools/call", params).await? {
        Rpc::Result(result) => outcome(id, &result),
        Rpc::Error(message) => Err(ActionError::input(id, &message)),
    };
    match result {
        // A refusal of a tool the caller is not offered (a denied one excepted, which says
        // what permission is missing) is an unknown action, in Backstage's words.
        Err(e) if e.status != StatusCode::FORBIDDEN && !offered(state, who, name).await? => {
            Err(ActionError::not_found(id))
        }
        other => other,
    }
}

async fn offered(state: &web::Data<AppState>, who: &Who, name: &str) -> Result<bool, AppError> {
    Ok(tools_for(state, who)
        .await?
        .iter()
        .any(|t| t["name"] == name))
}

/// The JSON of a request body; an empty body is no input.
fn body_json(id: &str, body: &[u8]) -> Result<Value, ActionError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body).map_err(|e| ActionError::input(id, &format!("not JSON: {e}")))
}

fn answer(req: &HttpRequest, result: Result<Value, ActionError>) -> HttpResponse {
    match result {
        Ok(output) => HttpResponse::Ok().json(json!({ "output": output })),
        Err(e) => e.respond(req),
    }
}

/// `POST .../v2/actions/{id}/invoke` with `{input}` (and no `secrets`: no action takes any),
/// and the deprecated `POST .../v1/actions/{id}/invoke` with the input as the body.
pub async fn invoke_route(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> HttpResponse {
    let (version, id) = path.into_inner();
    let limit = req
        .app_data::<web::Data<crate::api::middleware::BodyLimit>>()
        .map_or(usize::MAX, |l| l.0);
    let result = async {
        // Read here, not by actix's `Bytes` extractor: its own limit (256 KiB) and plain-text
        // 413 would stand in for `server.json_limit_bytes` and Backstage's error shape.
        let body = match payload.to_bytes_limited(limit).await {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => return Err(AppError::bad_request(format!("unreadable body: {e}")).into()),
            Err(_) => return Err(crate::api::middleware::too_large(limit).into()),
        };
        let input = match version.as_str() {
            "v1" => body_json(&id, &body)?,
            _ => v2_input(&id, &body)?,
        };
        invoke(&state, &Who::of(&req, caller), &id, input).await
    }
    .await;
    answer(&req, result)
}

fn v2_input(id: &str, body: &[u8]) -> Result<Value, ActionError> {
    let mut wrapped = body_json(id, body)?;
    if !wrapped["secrets"].is_null() {
        let e = AppError::bad_request(format!("Action \"{id}\" does not accept secrets"));
        return Err(e.into());
    }
    Ok(wrapped
        .get_mut("input")
        .map(Value::take)
        .unwrap_or_default())
}

/// `GET <base>/.backstage/auth/v1/jwks.json`: this service signs no tokens.
pub async fn jwks() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "keys": [] }))
}

async fn unknown_route(req: HttpRequest) -> HttpResponse {
    ActionError::from(AppError::not_found(format!(
        "no route for {} {}",
        req.method(),
        req.path()
    )))
    .respond(&req)
}

/// The caller, with the API's bearer tokens (static, Backstage user or plugin tokens); a
/// refusal in Backstage's shape.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    crate::api::authorize::with_caller(req, next, "actions registry", |req, state, e| {
        let mut resp = ActionError::from(e).respond(req);
        if state.is_some() {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        resp
    })
    .await
}

/// Registers the registry under `<base_path>/.backstage` (before the base path's own scope,
/// which would otherwise claim it).
pub fn configure(base_path: &str) -> impl FnOnce(&mut web::ServiceConfig) + use<> {
    let root = format!("{}/.backstage", base_path.trim_end_matches('/'));
    move |cfg| {
        cfg.route(&format!("{root}/auth/v1/jwks.json"), web::get().to(jwks))
            .service(
                web::scope(&format!("{root}/actions"))
                    .wrap(from_fn(authenticate))
                    .route("/v1/actions", web::get().to(list))
                    .route(
                        "/{version:v1|v2}/actions/{id}/invoke",
                        web::post().to(invoke_route),
                    )
                    .default_service(web::to(unknown_route)),
            );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_becomes_an_action_with_backstage_defaults() {
        let tool = json!({
            "name": "list_spectrocloud_clusters",
            "title": "List clusters",
            "description": "Lists clusters",
            "inputSchema": {"type": "object", "properties": {"limit": {"type": "integer"}}},
            "annotations": {"readOnlyHint": true, "idempotentHint": true},
        });
        let a = action_of("spectrocloud", &tool);
        assert_eq!(a["id"], "spectrocloud:list_spectrocloud_clusters");
        assert_eq!(a["name"], "list_spectrocloud_clusters");
        assert_eq!(a["title"], "List clusters");
        assert_eq!(a["pluginId"], "spectrocloud");
        assert_eq!(
            a["attributes"],
            json!({"readOnly": true, "destructive": false, "idempotent": true})
        );
        assert_eq!(a["schema"]["input"], tool["inputSchema"]);
        assert_eq!(a["schema"]["output"], json!({"type": "object"}));

        // No annotations: Backstage's defaults (not read-only, so destructive).
        let bare = action_of("spectrocloud", &json!({"name": "x", "inputSchema": {}}));
        assert_eq!(bare["title"], "x");
        assert_eq!(
            bare["attributes"],
            json!({"readOnly": false, "destructive": true, "idempotent": false})
        );
    }

    #[test]
    fn outputs_and_tool_errors() {
        let ok = json!({"content": [{"type": "text", "text": "{\"a\":1}"}], "structuredContent": {"a": 1}});
        assert_eq!(outcome("a", &ok).unwrap(), json!({"a": 1}));
        let text_only = json!({"content": [{"type": "text", "text": "{\"b\":2}"}]});
        assert_eq!(outcome("a", &text_only).unwrap(), json!({"b": 2}));

        let denied = json!({"isError": true, "structuredContent": {
            "error": "Permission denied", "code": "permission_denied", "permission": "p"}});
        let e = outcome("a", &denied).unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        let body = e.body("POST", "/x");
        assert_eq!(body["error"]["name"], "NotAllowedError");
        assert_eq!(body["error"]["code"], "permission_denied");
        assert_eq!(body["error"]["permission"], "p");
        assert_eq!(body["response"]["statusCode"], 403);
        assert_eq!(body["request"], json!({"method": "POST", "url": "/x"}));

        let odd = json!({"isError": true, "structuredContent": {"error": "which one?", "code": "ambiguous_name"}});
        let e = outcome("a", &odd).unwrap_err();
        assert_eq!((e.status, e.name), (StatusCode::BAD_REQUEST, "InputError"));
        assert_eq!(e.code, "ambiguous_name");
        assert_eq!(e.message, "Invalid input to action \"a\": which one?");

        let schema =
            json!({"isError": true, "content": [{"type": "text", "text": "missing field `x`"}]});
        let e = outcome("spectrocloud:t", &schema).unwrap_err();
        assert_eq!((e.status, e.name), (StatusCode::BAD_REQUEST, "InputError"));
        assert_eq!(
            e.message,
            "Invalid input to action \"spectrocloud:t\": missing field `x`"
        );
    }

    #[test]
    fn action_ids_name_our_plugin() {
        assert_eq!(tool_name("spectrocloud", "spectrocloud:x"), Some("x"));
        assert_eq!(tool_name("spectrocloud", "catalog:x"), None);
        assert_eq!(tool_name("spectrocloud", "spectrocloud:"), None);
        assert_eq!(tool_name("spectrocloud", "spectrocloudx"), None);
    }
}
