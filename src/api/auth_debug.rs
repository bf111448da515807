//! `GET /auth/debug`: who the caller is and whether a Palette user token came with the request.
//! Header NAMES only; a token's length and first characters only with `server.debug_tokens`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::extract::User;
use crate::auth::Caller;
use crate::auth::palette_user::TOKEN_HEADER;
use crate::error::AppResult;
use crate::service::AppState;

pub async fn debug(
    state: web::Data<AppState>,
    caller: Caller,
    user: User,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    const PREFIX_CHARS: usize = 8;
    let header_token = req
        .headers()
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty());
    let show = state.config.server.debug_tokens;
    let (length, prefix) = match header_token {
        None => (json!(0), json!("none")),
        // A short token would be shown whole: its length only.
        Some(t) if show && t.chars().count() > 4 * PREFIX_CHARS => (
            json!(t.len()),
            json!(format!(
                "{}...",
                t.chars().take(PREFIX_CHARS).collect::<String>()
            )),
        ),
        Some(t) if show => (json!(t.len()), json!("hidden (too short to show a part)")),
        Some(_) => (json!(null), json!("hidden (server.debug_tokens is off)")),
    };
    let mut headers: Vec<String> = req
        .headers()
        .keys()
        .map(|k| k.as_str().to_string())
        .collect();
    headers.sort();
    headers.dedup();
    Ok(HttpResponse::Ok().json(json!({
        "hasOidcToken": header_token.is_some(),
        "tokenLength": length,
        "tokenPrefix": prefix,
        "headers": headers,
        "caller": caller,
        "paletteUser": {
            // The email Palette verified for the token in use; the claimed one is unverified.
            "email": user.0.email,
            "claimedEmail": user.0.claimed_email,
            "userUid": user.0.verified_uid(),
            "hasToken": user.0.has_token(),
            "tokenSource": user.0.source,
            "reauthRequired": user.0.needs_reauth(),
        },
        // Sizes of the bounded user caches (how forged tokens are seen not to pile up).
        "userCaches": {
            "tokens": state.tokens.len(),
            "verifiedTokens": state.scopes.len(),
            "capacity": state.config.auth.user_cache_capacity,
            "verifications": state.scopes.verifications(),
        },
    })))
}
