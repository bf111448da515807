//! One error type for the whole HTTP surface: each variant maps to an honest status and a stable
//! machine code; the body is `{"error": "<human message>", "code": "<machine_code>"}` (plus
//! `permission` on 403). Messages carry context but never a secret.

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    InvalidJson,
    Unauthenticated,
    PermissionDenied,
    /// Palette refused the credential or the access (its 401/403), not our permission check.
    PaletteDenied,
    NotFound,
    UnknownInstance,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    Throttled,
    PaletteError,
    PaletteUnreachable,
    PaletteTimeout,
    NotSynced,
    InternalError,
    /// A creation request refused before Palette; the body lists every problem.
    InvalidClusterSpec,
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::BadRequest | ErrorCode::InvalidJson | ErrorCode::InvalidClusterSpec => {
                StatusCode::BAD_REQUEST
            }
            ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorCode::PermissionDenied | ErrorCode::PaletteDenied => StatusCode::FORBIDDEN,
            ErrorCode::NotFound | ErrorCode::UnknownInstance => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::Throttled => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::PaletteError => StatusCode::BAD_GATEWAY,
            ErrorCode::PaletteUnreachable | ErrorCode::NotSynced => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::PaletteTimeout => StatusCode::GATEWAY_TIMEOUT,
            ErrorCode::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `@backstage/errors` class Backstage answers with this status (its error handler
    /// maps these names to statuses; any other error keeps its own `statusCode`).
    pub fn backstage_name(self) -> &'static str {
        match self.status().as_u16() {
            400 => "InputError",
            401 => "AuthenticationError",
            403 => "NotAllowedError",
            404 => "NotFoundError",
            409 => "ConflictError",
            // What Express's body parser throws, as Backstage passes it on.
            413 => "PayloadTooLargeError",
            503 => "ServiceUnavailableError",
            _ => "Error",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::PermissionDenied => "permission_denied",
            ErrorCode::PaletteDenied => "palette_denied",
            ErrorCode::NotFound => "not_found",
            ErrorCode::UnknownInstance => "unknown_instance",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Conflict => "conflict",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::Throttled => "throttled",
            ErrorCode::PaletteError => "palette_error",
            ErrorCode::PaletteUnreachable => "palette_unreachable",
            ErrorCode::PaletteTimeout => "palette_timeout",
            ErrorCode::NotSynced => "not_synced",
            ErrorCode::InternalError => "internal_error",
            ErrorCode::InvalidClusterSpec => "invalid_cluster_spec",
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
    /// The id of the permission a 403 names (`domain::Permission::id`; the id, so that this
    /// leaf need not import `domain`, whose parsers answer with `AppError`).
    pub permission: Option<&'static str>,
    pub retry_after: Option<u64>,
    /// With `invalid_cluster_spec`: every problem found, by JSON path.
    pub problems: Option<Vec<Problem>>,
    /// For a name that matched several objects or none: what to pick from.
    pub help: Option<Box<NameHelp>>,
}

/// What a caller can do about a name that matched several objects (`candidates`) or none
/// (`didYouMean`: the closest names it may see).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NameHelp {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<Candidate>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub did_you_mean: Vec<String>,
}

/// One of several objects a name matched, told apart by uid, scope and project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    pub name: String,
    pub uid: String,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_name: Option<String>,
    pub environment: String,
}

/// One problem of a request body: the JSON path it concerns and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

impl Problem {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    permission: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    problems: Option<&'a [Problem]>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    help: Option<&'a NameHelp>,
}

impl AppError {
    /// `{error, code}` (plus `permission`, `problems`, `candidates`, `didYouMean` when set): the
    /// body of every error answer, HTTP or MCP.
    pub fn body(&self) -> serde_json::Value {
        let body = ErrorBody {
            error: &self.message,
            code: self.code.as_str(),
            permission: self.permission,
            problems: self.problems.as_deref(),
            help: self.help.as_deref(),
        };
        serde_json::to_value(body).unwrap_or_default()
    }

    /// This error with help for a name.
    pub fn with_help(mut self, help: NameHelp) -> Self {
        self.help = Some(Box::new(help));
        self
    }

    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            permission: None,
            retry_after: None,
            problems: None,
            help: None,
        }
    }
    /// 400 `invalid_cluster_spec` listing `problems`.
    pub fn invalid_spec(problems: Vec<Problem>) -> Self {
        let message = match problems.len() {
            1 => "Invalid cluster configuration: 1 problem".to_string(),
            n => format!("Invalid cluster configuration: {n} problems"),
        };
        Self {
            problems: Some(problems),
            ..Self::new(ErrorCode::InvalidClusterSpec, message)
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, message)
    }
    /// The name is cut to its first 64 characters: an answer never echoes a huge input.
    /// `name` is not among the `configured` environments (listed, so the caller can pick one).
    pub fn unknown_instance(name: &str, configured: &[&str]) -> Self {
        let shown: String = name.chars().take(64).collect();
        let more = if shown.len() < name.len() { "…" } else { "" };
        let list = match configured {
            [] => "no environment is configured".to_string(),
            names => format!("the configured ones are {}", names.join(", ")),
        };
        Self::new(
            ErrorCode::UnknownInstance,
            format!("unknown instance `{shown}{more}`: {list}"),
        )
    }
    /// A 403 naming the permission `id` (see `domain::Permission::denied`).
    pub fn permission_denied(id: &'static str) -> Self {
        Self {
            permission: Some(id),
            ..Self::new(
                ErrorCode::PermissionDenied,
                format!("Permission denied: {id} is not granted to this caller"),
            )
        }
    }
    /// An unexpected failure: the cause is logged, the caller sees a generic message.
    pub fn internal(context: &str, cause: impl std::fmt::Display) -> Self {
        tracing::error!(context, error = %cause, "internal error");
        Self::new(
            ErrorCode::InternalError,
            format!("internal error while {context}"),
        )
    }
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status_code()).json(self.body());
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(RETRY_AFTER, v);
        }
        resp
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::internal("reading the mirror", e)
    }
}

pub type AppResult<T> = Result<T, AppError>;
