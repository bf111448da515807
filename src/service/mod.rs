//! The read service: one function per behaviour, shared by the HTTP routes and the MCP tools.
//! Each takes a plain [`Ctx`] (environment, caller, Palette user) and decides ONCE, inside,
//! whether the mirror answers or Palette does (before an environment's first sync), with what
//! visibility and freshness. Adapters only parse inputs into `domain` types and shape answers.

pub mod clusters;
pub mod creation;
pub mod diagnose;
pub mod enrich;
pub mod events;
pub mod history;
pub mod infra;
pub mod lists;
pub mod live;
pub mod names;
pub mod packs;
pub mod profiles;
pub mod projects;
pub mod reports;
mod state;
pub mod status;
pub mod through;
mod view;
pub mod webhooks;

use std::sync::Arc;

use actix_web::web;
use serde::Serialize;
use serde_json::Value;

use crate::auth::Caller;
use crate::auth::palette_user::PaletteUser;
use crate::error::{AppError, ErrorCode};
use crate::palette::Environment;
use crate::sync::Freshness;

pub use state::AppState;
pub use view::{Readiness, first_sync, mirror_ready, not_synced};

/// Who asks, of which environment, as which Palette user. Plain data: built by the HTTP
/// extractor or the MCP server alike.
#[derive(Clone)]
pub struct Ctx {
    pub state: web::Data<AppState>,
    pub env: Arc<Environment>,
    pub user: Arc<PaletteUser>,
    pub caller: Caller,
}

/// The environment named `name` (the first one when absent or empty).
pub fn environment(state: &AppState, name: Option<&str>) -> Result<Arc<Environment>, AppError> {
    let name = name.filter(|n| !n.is_empty());
    match state.envs.get(name) {
        Some(e) => Ok(e.clone()),
        None => Err(match name {
            Some(n) => {
                let configured: Vec<&str> = state.envs.all().iter().map(|e| e.name()).collect();
                AppError::unknown_instance(n, &configured)
            }
            None => AppError::new(
                ErrorCode::UnknownInstance,
                "no SpectroCloud environment is configured",
            ),
        }),
    }
}

/// Where an answer came from.
#[derive(Debug, Clone, Copy)]
pub enum Origin {
    /// The mirror, this fresh.
    Mirror(Freshness),
    /// Palette, live.
    Live,
}

/// An answer's JSON: text built from the mirror's stored JSON (never parsed again on the way
/// out), or bytes as Palette sent them.
#[derive(Debug)]
pub enum Body {
    Text(String),
    Bytes(Vec<u8>),
}

#[derive(Debug)]
pub struct Answer {
    pub origin: Origin,
    pub body: Body,
}

impl Answer {
    pub fn mirror(freshness: Freshness, text: String) -> Answer {
        Answer {
            origin: Origin::Mirror(freshness),
            body: Body::Text(text),
        }
    }

    pub fn live_bytes(bytes: Vec<u8>) -> Answer {
        Answer {
            origin: Origin::Live,
            body: Body::Bytes(bytes),
        }
    }

    pub fn live_json<T: Serialize>(value: &T) -> Result<Answer, AppError> {
        Ok(Answer {
            origin: Origin::Live,
            body: Body::Text(to_text(value)?),
        })
    }

    pub fn into_bytes(self) -> Vec<u8> {
        match self.body {
            Body::Text(t) => t.into_bytes(),
            Body::Bytes(b) => b,
        }
    }

    pub fn bytes(&self) -> &[u8] {
        match &self.body {
            Body::Text(t) => t.as_bytes(),
            Body::Bytes(b) => b,
        }
    }

    /// The answer parsed (for MCP tools, which reshape it).
    pub fn value(&self) -> Result<Value, AppError> {
        serde_json::from_slice(self.bytes())
            .map_err(|e| AppError::internal("reading a stored answer", e))
    }
}

/// A Palette object's identity, as a listing shows it.
#[derive(Debug, Clone)]
pub struct Brief {
    pub uid: Option<String>,
    pub name: String,
    pub scope: String,
    pub project_uid: Option<String>,
}

impl Brief {
    pub fn of(o: &Value) -> Brief {
        use crate::palette::models;
        Brief {
            uid: models::uid(o).map(str::to_string),
            name: models::name(o).to_string(),
            scope: models::scope(o).to_string(),
            project_uid: models::project_uid(o).map(str::to_string),
        }
    }
}

/// The objects of a listing as briefs, and where they came from.
#[derive(Debug)]
pub struct Briefs {
    pub origin: Origin,
    pub items: Vec<Brief>,
}

impl Briefs {
    /// The `key` objects of a list answer (`{"<key>": [...]}`).
    fn of(a: &Answer, key: &str) -> Result<Briefs, AppError> {
        let listed = a.value()?;
        let items = listed[key]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        Ok(Briefs {
            origin: a.origin,
            items: items.iter().map(Brief::of).collect(),
        })
    }
}

/// One Palette object as read (from the mirror or Palette), and where it came from.
#[derive(Debug)]
pub struct Object {
    pub origin: Origin,
    pub object: Value,
}

impl Object {
    fn of(a: Answer) -> Result<Object, AppError> {
        Ok(Object {
            object: a.value()?,
            origin: a.origin,
        })
    }
}

pub fn to_text<T: Serialize>(value: &T) -> Result<String, AppError> {
    serde_json::to_string(value).map_err(|e| AppError::internal("writing an answer", e))
}

/// 404 for an object that is not in the mirror or not visible to the caller (the two are not
/// told apart, so nothing leaks).
pub fn not_found(what: &str) -> AppError {
    AppError::not_found(format!("{what} not found"))
}
