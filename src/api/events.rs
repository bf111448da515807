//! `/events`: the change history of the fleet, newest first.

use actix_web::{HttpRequest, HttpResponse};

use super::extract::{Context, query_param};
use super::respond::json;
use crate::error::{AppError, AppResult};
use crate::service::events::{self, MAX_LIMIT, RawFilter};

/// `{events, nextCursor}`; `since`, `type` (comma-separated), `clusterUid`, `projectUid`,
/// `limit`, `cursor` narrow it.
pub async fn list(Context(ctx): Context, req: HttpRequest) -> AppResult<HttpResponse> {
    let limit = match query_param(&req, "limit").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(v.parse::<i64>().map_err(|_| {
            AppError::bad_request(format!("limit must be an integer from 1 to {MAX_LIMIT}"))
        })?),
    };
    let (since, types) = (query_param(&req, "since"), query_param(&req, "type"));
    let (cluster, project) = (
        query_param(&req, "clusterUid"),
        query_param(&req, "projectUid"),
    );
    let cursor = query_param(&req, "cursor");
    let filter = events::filter_from_args(&RawFilter {
        since: since.as_deref(),
        types: types.as_deref(),
        cluster_uid: cluster.as_deref(),
        project_uid: project.as_deref(),
        limit,
        cursor: cursor.as_deref(),
    })?;
    Ok(json(events::events(&ctx, &filter).await?))
}
