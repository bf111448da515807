//! The change history as callers read it: events newest first with a cursor, scoped like every
//! mirror read, and the daily trend of the fleet.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Answer, Ctx};
use crate::auth::scope::Kind;
use crate::domain::Uid;
use crate::error::{AppError, AppResult};
use crate::store::events::{self, Event, EventQuery};
use crate::sync::Freshness;

/// Events per page when no `limit` is given, and the most a page may hold.
pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;

/// Narrowing of an event listing, parsed at the edge.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Known event types; empty = every type.
    pub types: Vec<String>,
    pub cluster_uid: Option<Uid>,
    pub project_uid: Option<Uid>,
    pub limit: Option<i64>,
    /// From a previous page's `nextCursor`.
    pub cursor: Option<Cursor>,
}

/// Where the next page starts: events older than this id. Opaque to callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(i64);

impl Cursor {
    pub fn parse(raw: &str) -> Result<Cursor, AppError> {
        match raw.parse::<i64>() {
            Ok(n) if n > 0 => Ok(Cursor(n)),
            _ => Err(AppError::bad_request(
                "`cursor` must be a nextCursor of an earlier answer",
            )),
        }
    }
}

/// Parses `type=a,b` against the known types.
pub fn parse_types(raw: Option<&str>) -> Result<Vec<String>, AppError> {
    let mut out = Vec::new();
    for t in raw
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        if !crate::config::EVENT_TYPES.contains(&t) {
            return Err(AppError::bad_request(format!(
                "unknown event type `{}`: use {}",
                t.chars().take(64).collect::<String>(),
                crate::config::EVENT_TYPES.join(", ")
            )));
        }
        out.push(t.to_string());
    }
    Ok(out)
}

/// The filter as an edge receives it (query string, tool arguments), before parsing.
#[derive(Debug, Default)]
pub struct RawFilter<'a> {
    pub since: Option<&'a str>,
    pub types: Option<&'a str>,
    pub cluster_uid: Option<&'a str>,
    pub project_uid: Option<&'a str>,
    pub limit: Option<i64>,
    pub cursor: Option<&'a str>,
}

/// Parses a raw filter: the same rules for the HTTP route and the MCP tool.
pub fn filter_from_args(r: &RawFilter<'_>) -> Result<EventFilter, AppError> {
    fn given(v: Option<&str>) -> Option<&str> {
        v.filter(|s| !s.is_empty())
    }
    let since = match given(r.since) {
        None => None,
        Some(s) => Some(
            chrono::DateTime::parse_from_rfc3339(s)
                .map_err(|_| AppError::bad_request("since must be an RFC 3339 time"))?
                .with_timezone(&chrono::Utc),
        ),
    };
    if let Some(n) = r.limit
        && !(1..=MAX_LIMIT).contains(&n)
    {
        return Err(AppError::bad_request(format!(
            "limit must be an integer from 1 to {MAX_LIMIT}"
        )));
    }
    Ok(EventFilter {
        since,
        types: parse_types(r.types)?,
        cluster_uid: Uid::optional("clusterUid", r.cluster_uid)?,
        project_uid: Uid::optional("projectUid", r.project_uid)?,
        limit: r.limit,
        cursor: given(r.cursor).map(Cursor::parse).transpose()?,
    })
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventPage {
    pub events: Vec<Event>,
    /// Pass as `cursor` for older events; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// One page of the caller's events, newest first.
pub async fn list_events(ctx: &Ctx, filter: &EventFilter) -> AppResult<(Freshness, EventPage)> {
    let m = ctx.mirror().await?;
    let limit = filter.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let since = filter
        .since
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    let q = EventQuery {
        env: m.env(),
        since: since.as_deref(),
        types_json: serde_json::to_string(&filter.types).unwrap_or_else(|_| "[]".into()),
        cluster_uid: filter.cluster_uid.as_ref().map(Uid::as_str),
        project_uid: filter.project_uid.as_ref().map(Uid::as_str),
        before: filter.cursor.map(|c| c.0),
        // One more than asked tells whether another page follows.
        limit: limit + 1,
    };
    let (cf, pf) = (m.filter(Kind::Cluster), m.filter(Kind::Profile));
    let mut events = events::list(m.db(), &q, &cf, &pf).await?;
    let more = events.len() as i64 > limit;
    events.truncate(limit as usize);
    let next_cursor = more
        .then(|| events.last().map(|e| e.id.to_string()))
        .flatten();
    Ok((
        m.freshness,
        EventPage {
            events,
            next_cursor,
        },
    ))
}

pub async fn events(ctx: &Ctx, filter: &EventFilter) -> AppResult<Answer> {
    let (fresh, page) = list_events(ctx, filter).await?;
    Ok(Answer::mirror(fresh, super::to_text(&page)?))
}

/// One day of the fleet: clusters by state and by kubernetes version.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TrendDay {
    pub day: String,
    pub by_state: BTreeMap<String, i64>,
    pub by_kubernetes_version: BTreeMap<String, i64>,
}

#[derive(Debug, Serialize)]
pub struct Trend {
    pub environment: String,
    /// Oldest first; days without a snapshot are left out. Today is live from the mirror.
    pub days: Vec<TrendDay>,
}

/// The last `days` days (today included) of the caller's part of the fleet.
pub async fn fleet_trend(ctx: &Ctx, days: u32) -> AppResult<(Freshness, Trend)> {
    let m = ctx.mirror().await?;
    let today = chrono::Utc::now().date_naive();
    let first = today - chrono::Days::new(u64::from(days.max(1)) - 1);
    let rows = events::trend(
        m.db(),
        m.env(),
        &first.to_string(),
        &today.to_string(),
        &m.filter(Kind::Cluster),
    )
    .await?;
    let mut out: Vec<TrendDay> = Vec::new();
    for r in rows {
        if out.last().is_none_or(|d| d.day != r.day) {
            out.push(TrendDay {
                day: r.day.clone(),
                ..TrendDay::default()
            });
        }
        if let Some(d) = out.last_mut() {
            let map = match r.dimension.as_str() {
                "state" => &mut d.by_state,
                _ => &mut d.by_kubernetes_version,
            };
            let key = crate::domain::vocab::word(Some(&r.value)).into_owned();
            *map.entry(key).or_default() += r.clusters;
        }
    }
    let trend = Trend {
        environment: m.env().to_string(),
        days: out,
    };
    Ok((m.freshness, trend))
}
