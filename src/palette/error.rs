//! Typed failures of a Palette call. The API layer maps them to statuses (the `From` impl below).
//! Messages name the Palette path and status, never a credential.

use crate::error::{AppError, ErrorCode};

#[derive(Debug, Clone, thiserror::Error)]
pub enum PaletteError {
    #[error("Palette has no such resource ({path})")]
    NotFound { path: String },
    #[error("Palette rejected the credentials ({path}): {message}")]
    Unauthorized { path: String, message: String },
    #[error("Palette denied access ({path}): {message}")]
    Forbidden { path: String, message: String },
    #[error("Palette rejected the request ({path}): {message}")]
    BadRequest { path: String, message: String },
    #[error("Palette reports a conflict ({path}): {message}")]
    Conflict { path: String, message: String },
    #[error("Palette is throttling requests ({path})")]
    Throttled {
        path: String,
        retry_after: Option<u64>,
    },
    /// Refused by this service before Palette was asked: the caller already has its fair
    /// share of the prefix's budget waiting.
    #[error(
        "{waiting} of your calls on Palette's {prefix} budget are already waiting (the most one caller may queue, so others get their turn); retry after {retry_after} s"
    )]
    OverShare {
        prefix: String,
        waiting: usize,
        retry_after: u64,
    },
    #[error("Palette answered {status} ({path}): {message}")]
    Upstream {
        path: String,
        status: u16,
        message: String,
    },
    #[error("Palette did not answer in time ({path})")]
    Timeout { path: String },
    #[error("Palette is unreachable ({path}): {message}")]
    Unreachable { path: String, message: String },
    #[error("Palette sent an unreadable answer ({path}): {message}")]
    Decode { path: String, message: String },
    /// An answer that cannot be what was asked for (a number, `{}` or an error page where a
    /// list belongs): never taken as an empty listing.
    #[error(
        "{call} answered {problem}; nothing was taken from it (check Palette's status page or the environment's URL)"
    )]
    Untrusted { call: String, problem: String },
    /// An answer past the size cap (`sync.max_listing_bytes` / `sync.max_object_bytes`).
    #[error(
        "{call} answered more than {limit} bytes, the configured cap; raise sync.{setting} if Palette really sends that much"
    )]
    TooLarge {
        call: String,
        limit: u64,
        setting: &'static str,
    },
}

impl PaletteError {
    /// Worth another attempt: throttling, server errors, timeouts and connection failures.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            PaletteError::Throttled { .. }
                | PaletteError::Upstream { .. }
                | PaletteError::Timeout { .. }
                | PaletteError::Unreachable { .. }
        )
    }
}

// Beside the error it converts, so that `error` (a leaf) need not know the client.
impl From<PaletteError> for AppError {
    fn from(e: PaletteError) -> Self {
        let code = match &e {
            PaletteError::NotFound { .. } => ErrorCode::NotFound,
            PaletteError::Unauthorized { .. } | PaletteError::Forbidden { .. } => {
                ErrorCode::PaletteDenied
            }
            PaletteError::BadRequest { .. } => ErrorCode::BadRequest,
            PaletteError::Conflict { .. } => ErrorCode::Conflict,
            PaletteError::Throttled { .. } | PaletteError::OverShare { .. } => ErrorCode::Throttled,
            PaletteError::Upstream { .. }
            | PaletteError::Decode { .. }
            | PaletteError::Untrusted { .. }
            | PaletteError::TooLarge { .. } => ErrorCode::PaletteError,
            PaletteError::Timeout { .. } => ErrorCode::PaletteTimeout,
            PaletteError::Unreachable { .. } => ErrorCode::PaletteUnreachable,
        };
        let mut err = AppError::new(code, e.to_string());
        match &e {
            PaletteError::Throttled { retry_after, .. } => {
                err.retry_after = Some(retry_after.unwrap_or(2));
            }
            PaletteError::OverShare { retry_after, .. } => err.retry_after = Some(*retry_after),
            _ => {}
        }
        err
    }
}
