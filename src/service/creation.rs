//! Cluster creation for the HTTP routes and the MCP tool alike: the caller's context and
//! project become `create`'s inputs, so both refuse, audit and send Palette the same.

use serde_json::Value;

use super::Ctx;
use crate::create::{self, Created};
use crate::domain::Uid;
use crate::error::AppResult;

/// A cluster on a cloud (`POST /clusters`) or a virtual one in a cluster group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Cluster,
    Virtual,
}

/// Creates what `body` describes in `project` (tenant when absent); `idempotency_key` is the
/// header as sent, if any.
pub async fn create(
    ctx: &Ctx,
    kind: Kind,
    project: Option<&Uid>,
    idempotency_key: Option<&str>,
    body: Value,
) -> AppResult<Created> {
    // A credential Palette rejects is dropped, so the next call asks for a fresh one.
    let on_denied = || {
        if ctx.user.has_token() {
            ctx.user.rejected(&ctx.state.tokens);
        }
    };
    let input = create::Request {
        db: &ctx.state.db,
        env: &ctx.env,
        caller: create::Caller {
            subject: &ctx.caller.subject,
            user: &ctx.user,
        },
        project: project.map(Uid::as_str),
        idempotency_key,
        on_denied: &on_denied,
    };
    match kind {
        Kind::Cluster => create::create(&input, body).await,
        Kind::Virtual => create::create_virtual(&input, body).await,
    }
}
