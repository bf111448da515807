//! `GET /audit`: the audit log, newest first, paged (default 50 entries).

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::extract::Paging;
use crate::auth::audit;
use crate::error::AppResult;
use crate::service::AppState;

pub async fn list(state: web::Data<AppState>, page: Paging) -> AppResult<HttpResponse> {
    let limit = if page.0.limit < 0 { 50 } else { page.0.limit };
    let (entries, total) = audit::list(&state.db, limit, page.0.offset).await?;
    Ok(HttpResponse::Ok().json(
        json!({ "entries": entries, "total": total, "limit": limit, "offset": page.0.offset }),
    ))
}
