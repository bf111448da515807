//! The change history: events written by the mirror's triggers (see the `history` migration),
//! read newest first with filters and a cursor, tailed by the notifier, pruned by age; and the
//! daily fleet aggregates behind the trends.

use serde::Serialize;

use super::Db;
use super::visibility::{Filter, Visible};

/// What an event is about.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EventObject {
    /// `cluster` or `profile`.
    pub kind: String,
    pub uid: String,
    pub name: String,
    pub project_uid: Option<String>,
}

/// One change, as `/events` answers it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Event {
    pub id: i64,
    pub at: String,
    pub environment: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub object: EventObject,
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    env: String,
    at: String,
    #[sqlx(rename = "type")]
    event_type: String,
    kind: String,
    object_uid: String,
    object_name: String,
    project_uid: Option<String>,
    from_value: Option<String>,
    to_value: Option<String>,
}

impl From<EventRow> for Event {
    fn from(r: EventRow) -> Event {
        Event {
            id: r.id,
            at: r.at,
            environment: r.env,
            event_type: r.event_type,
            object: EventObject {
                kind: r.kind,
                uid: r.object_uid,
                name: r.object_name,
                project_uid: r.project_uid,
            },
            from: r.from_value,
            to: r.to_value,
        }
    }
}

/// Narrowing of an event listing; `before` is the cursor (events with a smaller id).
#[derive(Debug, Default)]
pub struct EventQuery<'a> {
    pub env: &'a str,
    /// RFC 3339, inclusive.
    pub since: Option<&'a str>,
    /// JSON array of types; `[]` = every type.
    pub types_json: String,
    pub cluster_uid: Option<&'a str>,
    pub project_uid: Option<&'a str>,
    pub before: Option<i64>,
    pub limit: i64,
}

pub const LIST_SQL: &str = concat!(
    "SELECT id, env, at, type, kind, object_uid, object_name, project_uid, from_value, to_value
     FROM events
     WHERE env = ? AND (? IS NULL OR id < ?) AND (? IS NULL OR at >= ?)
       AND (? = '[]' OR type IN (SELECT value FROM json_each(?)))
       AND (? IS NULL OR (kind = 'cluster' AND object_uid = ?))
       AND (? IS NULL OR project_uid = ?)
       AND ((kind = 'cluster' AND ",
    visible!(),
    ") OR (kind = 'profile' AND ",
    visible!(),
    "))
     ORDER BY id DESC LIMIT ?"
);

/// Events newest first, as the caller may see them (clusters and profiles by their project).
pub async fn list(
    db: &Db,
    q: &EventQuery<'_>,
    clusters: &Filter,
    profiles: &Filter,
) -> Result<Vec<Event>, sqlx::Error> {
    let rows: Vec<EventRow> = read!(db, |p, d| {
        sqlx::query_as(sql!(d, LIST_SQL))
            .bind(q.env)
            .bind(q.before)
            .bind(q.before)
            .bind(q.since)
            .bind(q.since)
            .bind(&q.types_json)
            .bind(&q.types_json)
            .bind(q.cluster_uid)
            .bind(q.cluster_uid)
            .bind(q.project_uid)
            .bind(q.project_uid)
            .visible_to(clusters)
            .visible_to(profiles)
            .bind(d.limit(q.limit))
            .fetch_all(p)
            .await
    })?;
    Ok(rows.into_iter().map(Event::from).collect())
}

/// Events after `after` (every environment), oldest first: what the notifier has not seen.
pub async fn after(db: &Db, after: i64, limit: i64) -> Result<Vec<Event>, sqlx::Error> {
    let rows: Vec<EventRow> = read!(db, |p, d| {
        sqlx::query_as(sql!(
            d,
            "SELECT id, env, at, type, kind, object_uid, object_name, project_uid, from_value, to_value
             FROM events WHERE id > ? ORDER BY id LIMIT ?"
        ))
        .bind(after)
        .bind(d.limit(limit))
        .fetch_all(p)
        .await
    })?;
    Ok(rows.into_iter().map(Event::from).collect())
}

/// The newest event id (0 without events).
pub async fn last_id(db: &Db) -> Result<i64, sqlx::Error> {
    read!(db, |p, d| {
        sqlx::query_scalar(sql!(d, "SELECT coalesce(max(id), 0) FROM events"))
            .fetch_one(p)
            .await
    })
}

/// Drops events from before `at` and aggregates from before `day`, and the stash of profile
/// references (only ever meaningful inside the transaction that wrote it). Returns the number
/// of events dropped.
pub async fn prune(db: &Db, at: &str, day: &str) -> Result<u64, sqlx::Error> {
    let mut tx = super::writer::begin(db).await?;
    let n = on!(&mut tx, |c, d| {
        let n = sqlx::query(sql!(d, "DELETE FROM events WHERE at < ?"))
            .bind(at)
            .execute(&mut *c)
            .await?
            .rows_affected();
        sqlx::query(sql!(d, "DELETE FROM fleet_daily WHERE day < ?"))
            .bind(day)
            .execute(&mut *c)
            .await?;
        sqlx::query(sql!(d, "DELETE FROM event_ref_stash"))
            .execute(&mut *c)
            .await?;
        n
    });
    tx.commit().await?;
    Ok(n)
}

/// Replaces `day`'s aggregates of `env` with the mirror's numbers now.
pub async fn record_day(db: &Db, env: &str, day: &str) -> Result<(), sqlx::Error> {
    let mut tx = super::writer::begin(db).await?;
    on!(&mut tx, |c, d| {
        sqlx::query(sql!(d, "DELETE FROM fleet_daily WHERE env = ? AND day = ?"))
            .bind(env)
            .bind(day)
            .execute(&mut *c)
            .await?;
        // `env` is grouped on although the WHERE fixes it: PostgreSQL selects no column that is
        // neither grouped nor aggregated.
        sqlx::query(sql!(
            d,
            "INSERT INTO fleet_daily (env, day, project_uid, dimension, value, clusters)
             SELECT env, ?, project_uid, 'state', state, count(*) FROM clusters WHERE env = ?
             GROUP BY env, project_uid, state
             UNION ALL
             SELECT env, ?, project_uid, 'kubernetesVersion', coalesce(kubernetes_version, ''), count(*)
             FROM clusters WHERE env = ? GROUP BY env, project_uid, coalesce(kubernetes_version, '')"
        ))
        .bind(day)
        .bind(env)
        .bind(day)
        .bind(env)
        .execute(&mut *c)
        .await?;
    });
    tx.commit().await
}

/// Clusters of one dimension value on one day.
#[derive(Debug, Clone, sqlx::FromRow, PartialEq, Eq)]
pub struct TrendRow {
    pub day: String,
    pub dimension: String,
    pub value: String,
    pub clusters: i64,
}

// The sum is cast back to BIGINT: PostgreSQL's sum of BIGINT is NUMERIC.
pub const TREND_SQL: &str = concat!(
    "SELECT day, dimension, value, CAST(sum(clusters) AS BIGINT) AS clusters FROM fleet_daily
     WHERE env = ? AND day >= ? AND day < ? AND ",
    visible!(),
    " GROUP BY day, dimension, value
     UNION ALL
     SELECT ?, 'state', state, count(*) FROM clusters WHERE env = ? AND ",
    visible!(),
    " GROUP BY state
     UNION ALL
     SELECT ?, 'kubernetesVersion', coalesce(kubernetes_version, ''), count(*) FROM clusters
     WHERE env = ? AND ",
    visible!(),
    " GROUP BY coalesce(kubernetes_version, '')
     ORDER BY 1, 2, 3"
);

/// Stored days from `first` until before `today`, and `today` live from the mirror.
pub async fn trend(
    db: &Db,
    env: &str,
    first: &str,
    today: &str,
    f: &Filter,
) -> Result<Vec<TrendRow>, sqlx::Error> {
    read!(db, |p, d| {
        sqlx::query_as(sql!(d, TREND_SQL))
            .bind(env)
            .bind(first)
            .bind(today)
            .visible_to(f)
            .bind(today)
            .bind(env)
            .visible_to(f)
            .bind(today)
            .bind(env)
            .visible_to(f)
            .fetch_all(p)
            .await
    })
}
