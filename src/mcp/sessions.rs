//! The transport edge of MCP, in front of rmcp's session manager: bounds on open sessions
//! (overall and per caller, least recently used evicted first), sessions bound to the caller
//! that opened them, JSON-RPC parse errors as 400 `-32700` (rmcp answers 415 plain text), and
//! `DELETE` answered 204 (404 for a session that has ended) instead of 202.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse, web};
use futures::StreamExt;
use rmcp::model::{ClientJsonRpcMessage, ClientRequest};
use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp_actix_web::transport::LocalSessionManager;
use serde_json::json;

use crate::auth::Caller;
use crate::config::McpConfig;

pub const SESSION_HEADER: &str = "mcp-session-id";

struct Owner {
    subject: String,
    last_used: Instant,
}

#[derive(Default)]
struct Book {
    /// Open sessions by id, as far as this guard knows (pruned against the manager).
    owners: HashMap<String, Owner>,
    /// `initialize` calls under way per subject: counted before their session exists.
    reserved: HashMap<String, usize>,
}

/// What an `initialize` may do, decided from the book (pure).
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    Admit,
    /// Admit after ending this session (the caller's least recently used).
    Evict(String),
    Refuse,
}

/// Shared by every worker: the session manager and who owns which session.
pub struct SessionGuard {
    pub manager: Arc<LocalSessionManager>,
    limits: McpConfig,
    book: Mutex<Book>,
}

impl SessionGuard {
    pub fn new(limits: &McpConfig) -> Arc<Self> {
        let mut manager = LocalSessionManager::default();
        manager.session_config.keep_alive = Some(Duration::from_secs(limits.session_idle_seconds));
        Arc::new(Self {
            manager: Arc::new(manager),
            limits: limits.clone(),
            book: Mutex::new(Book::default()),
        })
    }

    /// Open sessions, as the manager counts them.
    pub async fn open_sessions(&self) -> usize {
        self.manager.sessions.read().await.len()
    }

    /// Forgets sessions the manager has ended (idle expiry, DELETE, shutdown).
    async fn prune(&self) {
        let live = self.manager.sessions.read().await;
        if let Ok(mut book) = self.book.lock() {
            book.owners.retain(|id, _| live.contains_key(id.as_str()));
        }
    }

    /// Decides and reserves a place for `subject`'s new session.
    fn admit(&self, subject: &str) -> Admission {
        let Ok(mut book) = self.book.lock() else {
            return Admission::Refuse;
        };
        let decision = plan_admission(&book, subject, &self.limits);
        if decision != Admission::Refuse {
            *book.reserved.entry(subject.to_string()).or_default() += 1;
        }
        if let Admission::Evict(id) = &decision {
            book.owners.remove(id);
        }
        decision
    }

    /// Ends a reservation: records the session that came of it, if any.
    fn settle(&self, subject: &str, session: Option<String>) {
        if let Ok(mut book) = self.book.lock() {
            if let Some(n) = book.reserved.get_mut(subject) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    book.reserved.remove(subject);
                }
            }
            if let Some(id) = session {
                book.owners.insert(
                    id,
                    Owner {
                        subject: subject.to_string(),
                        last_used: Instant::now(),
                    },
                );
            }
        }
    }

    /// Whether `subject` may use session `id`; marks it used. Unknown ids are left to rmcp.
    fn touch(&self, id: &str, subject: &str) -> bool {
        let Ok(mut book) = self.book.lock() else {
            return false;
        };
        match book.owners.get_mut(id) {
            Some(o) if o.subject != subject => false,
            Some(o) => {
                o.last_used = Instant::now();
                true
            }
            None => true,
        }
    }
}

fn plan_admission(book: &Book, subject: &str, limits: &McpConfig) -> Admission {
    let reserved_all: usize = book.reserved.values().sum();
    let mine: Vec<(&String, &Owner)> = book
        .owners
        .iter()
        .filter(|(_, o)| o.subject == subject)
        .collect();
    let reserved_mine = book.reserved.get(subject).copied().unwrap_or(0);
    if mine.len() + reserved_mine >= limits.max_sessions_per_caller {
        // The caller's own oldest session makes room; with none left to end, refuse.
        return match mine.iter().min_by_key(|(_, o)| o.last_used) {
            Some((id, _)) => Admission::Evict((*id).clone()),
            None => Admission::Refuse,
        };
    }
    if book.owners.len() + reserved_all >= limits.max_sessions {
        return Admission::Refuse;
    }
    Admission::Admit
}

/// A JSON-RPC error answer (`id` null: the request could not be read or is not admitted).
fn rpc_error(status: StatusCode, code: i64, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": code, "message": message },
    }))
}

/// MCP's 413: a JSON-RPC error, as for any other body it cannot take.
pub fn too_large(limit: usize) -> HttpResponse {
    rpc_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        -32600,
        &format!("request body is larger than the limit of {limit} bytes"),
    )
}

/// Reads the whole body (at most `limit` bytes).
async fn read_body(req: &mut ServiceRequest, limit: usize) -> Result<web::Bytes, HttpResponse> {
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            rpc_error(
                StatusCode::BAD_REQUEST,
                -32700,
                "Parse error: unreadable body",
            )
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The parsed message, or the JSON-RPC error for a body that is not one (serde_json's depth
/// limit turns a 100k-deep body into a syntax error here, never a stack overflow).
fn parse(body: &[u8]) -> Result<ClientJsonRpcMessage, (i64, String)> {
    serde_json::from_slice::<ClientJsonRpcMessage>(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => (
            -32600,
            "Invalid Request: not a JSON-RPC 2.0 message".to_string(),
        ),
        _ => (-32700, format!("Parse error: {}", cut(&e.to_string(), 120))),
    })
}

fn cut(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn is_json(req: &ServiceRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// The guard in front of rmcp (after authentication: the caller is known).
pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let (Some(guard), Some(caller)) = (
        req.app_data::<web::Data<Arc<SessionGuard>>>().cloned(),
        req.extensions().get::<Caller>().cloned(),
    ) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let limit = req
        .app_data::<web::Data<crate::api::middleware::BodyLimit>>()
        .map_or(1024 * 1024, |l| l.0);
    let session = req
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut initialize = false;
    if req.method() == Method::POST && is_json(&req) {
        let body = match read_body(&mut req, limit).await {
            Ok(b) => b,
            Err(resp) => return Ok(req.into_response(resp)),
        };
        match parse(&body) {
            Ok(ClientJsonRpcMessage::Request(r)) => {
                initialize = matches!(r.request, ClientRequest::InitializeRequest(_));
            }
            Ok(_) => {}
            Err((code, message)) => {
                let resp = rpc_error(StatusCode::BAD_REQUEST, code, &message);
                return Ok(req.into_response(resp));
            }
        }
        req.set_payload(body.into());
    }
    if let Some(id) = &session {
        if !guard.touch(id, &caller.subject) {
            // Another caller's session: as if it did not exist.
            let resp = rpc_error(StatusCode::NOT_FOUND, -32600, "Session not found");
            return Ok(req.into_response(resp));
        }
        if req.method() == Method::DELETE {
            return delete(&guard, id, req, next).await;
        }
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    if !initialize {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    open(req, next, &guard, &caller.subject).await
}

/// An `initialize`: admitted within the caps, its new session recorded.
async fn open(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    guard: &SessionGuard,
    subject: &str,
) -> Result<ServiceResponse<BoxBody>, Error> {
    guard.prune().await;
    match guard.admit(subject) {
        Admission::Refuse => {
            tracing::warn!(subject, "MCP session refused: too many open sessions");
            let mut resp = rpc_error(
                StatusCode::SERVICE_UNAVAILABLE,
                -32000,
                "too many open MCP sessions; try again later",
            );
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("30"));
            return Ok(req.into_response(resp));
        }
        Admission::Evict(old) => {
            tracing::info!(
                subject,
                "MCP session limit of the caller: ending its least recently used session"
            );
            if let Err(e) = guard.manager.close_session(&old.into()).await {
                tracing::warn!(error = %e, "cannot end an MCP session");
            }
        }
        Admission::Admit => {}
    }
    let result = next.call(req).await;
    let created = result.as_ref().ok().and_then(|r| {
        r.headers()
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    });
    guard.settle(subject, created);
    Ok(result?.map_into_boxed_body())
}

/// `DELETE` of a session: 204 when it was open, 404 when it has ended or never existed.
async fn delete(
    guard: &SessionGuard,
    id: &str,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let open = guard
        .manager
        .has_session(&id.to_string().into())
        .await
        .unwrap_or(false);
    if !open {
        let resp = rpc_error(StatusCode::NOT_FOUND, -32600, "Session not found");
        return Ok(req.into_response(resp));
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    if res.status() == StatusCode::ACCEPTED {
        *res.response_mut().status_mut() = StatusCode::NO_CONTENT;
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(owned: &[(&str, &str, u64)]) -> Book {
        let now = Instant::now();
        Book {
            owners: owned
                .iter()
                .map(|(id, s, age)| {
                    (
                        id.to_string(),
                        Owner {
                            subject: s.to_string(),
                            last_used: now - Duration::from_secs(*age),
                        },
                    )
                })
                .collect(),
            reserved: HashMap::new(),
        }
    }

    fn limits(total: usize, per: usize) -> McpConfig {
        McpConfig {
            max_sessions: total,
            max_sessions_per_caller: per,
            session_idle_seconds: 60,
            ..McpConfig::default()
        }
    }

    #[test]
    fn a_caller_at_its_cap_loses_its_least_recently_used_session() {
        let b = book(&[("a1", "alice", 5), ("a2", "alice", 50), ("b1", "bob", 99)]);
        assert_eq!(
            plan_admission(&b, "alice", &limits(10, 2)),
            Admission::Evict("a2".into())
        );
        assert_eq!(plan_admission(&b, "bob", &limits(10, 2)), Admission::Admit);
    }

    #[test]
    fn the_overall_cap_refuses_and_reservations_count() {
        let mut b = book(&[("a1", "alice", 5), ("b1", "bob", 9)]);
        assert_eq!(
            plan_admission(&b, "carol", &limits(2, 5)),
            Admission::Refuse
        );
        assert_eq!(plan_admission(&b, "carol", &limits(3, 5)), Admission::Admit);
        b.reserved.insert("carol".into(), 1);
        assert_eq!(
            plan_admission(&b, "carol", &limits(3, 5)),
            Admission::Refuse
        );
        // Only reservations of its own and nothing to evict: refused.
        assert_eq!(
            plan_admission(&b, "carol", &limits(9, 1)),
            Admission::Refuse
        );
    }
}
