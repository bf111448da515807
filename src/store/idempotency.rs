//! Idempotency keys of creation requests: claimed before Palette is called, completed with the
//! answer, released when the call fails, forgotten after their lifetime. A key is scoped to
//! (environment, bearer subject, Palette identity, project): the same key from another person
//! or for another project is another key.
//!
//! These rows are bookkeeping, never part of an answer: their writes leave the mirror's
//! generation (and so the response cache) alone.

use sqlx::query::Query;
use sqlx::{Database, Encode, Type};

use sqlx::{PgConnection, SqliteConnection};

use super::Db;
use super::writer::ConnRef;

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new: the caller goes ahead and later completes or releases the claim it
    /// holds.
    Claimed(Held),
    /// The key was used with the same body and answered: repeat `(status, answer)`.
    Answered(u16, String),
    /// The key was used with the same body and that creation has not ended: claimed at
    /// `since` (unix seconds) by process instance `owner`.
    InFlight { since: i64, owner: String },
    /// The key was used with another body.
    OtherBody,
}

/// A claim as its holder wrote it: only the holder completes or releases it, so a process
/// whose claim was taken over (it was slow, not dead) cannot undo its successor's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub owner: String,
    pub at: i64,
}

/// One key in its scope.
pub struct KeyRef<'a> {
    pub env: &'a str,
    pub subject: &'a str,
    /// Who Palette sees: the verified user, a user token's digest, or the API key.
    pub identity: &'a str,
    /// The project uid, or "" for the tenant.
    pub project: &'a str,
    pub key: &'a str,
}

/// The SQL's tail that selects one key.
macro_rules! where_key {
    () => {
        "env = ? AND subject = ? AND identity = ? AND project = ? AND key = ?"
    };
}

impl KeyRef<'_> {
    /// Binds the key where the SQL ends in `where_key!()` (on either backend).
    fn bound<'q, DB>(
        &self,
        q: Query<'q, DB, <DB as Database>::Arguments>,
    ) -> Query<'q, DB, <DB as Database>::Arguments>
    where
        DB: Database,
        for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    {
        q.bind(self.env)
            .bind(self.subject)
            .bind(self.identity)
            .bind(self.project)
            .bind(self.key)
    }
}

/// What a claim records besides the key.
pub struct Claiming<'a> {
    pub body_hash: &'a str,
    /// The cluster's name (what a recovery looks for in Palette).
    pub name: &'a str,
    /// The claiming process instance.
    pub owner: &'a str,
}

/// A key on record.
#[derive(sqlx::FromRow)]
struct Stored {
    body_hash: String,
    status: Option<i64>,
    answer: Option<String>,
    owner: String,
    created_at: i64,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Claims `k`, first forgetting keys older than `ttl_seconds`.
pub async fn claim(
    db: &Db,
    k: &KeyRef<'_>,
    c: &Claiming<'_>,
    ttl_seconds: i64,
) -> Result<Claim, sqlx::Error> {
    let now = now();
    let mut tx = super::writer::begin_bookkeeping(db).await?;
    on!(&mut tx, |cn, d| {
        sqlx::query(sql!(d, "DELETE FROM idempotency_keys WHERE created_at < ?"))
            .bind(now - ttl_seconds)
            .execute(&mut *cn)
            .await
            .map(drop)
    })?;
    let claim = match tx.conn() {
        ConnRef::Sqlite(cn) => insert_then_look(cn, k, c, now).await?,
        ConnRef::Postgres(cn) => upsert(cn, k, c, now).await?,
    };
    tx.commit().await?;
    Ok(claim)
}

/// A claim's insert up to its conflict action (binds: [`Claiming::bound`]).
macro_rules! insert_claim {
    () => {
        "INSERT INTO idempotency_keys \
         (env, subject, identity, project, key, body_hash, name, owner, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (env, subject, identity, project, key) "
    };
}

/// SQLite: its write transaction excludes every other writer, so what the insert conflicted
/// with is still there for the lookup.
async fn insert_then_look(
    cn: &mut SqliteConnection,
    k: &KeyRef<'_>,
    c: &Claiming<'_>,
    now: i64,
) -> Result<Claim, sqlx::Error> {
    const INSERT: &str = concat!(insert_claim!(), "DO NOTHING");
    let inserted = c
        .bound(sqlx::query(INSERT), k, now)
        .execute(&mut *cn)
        .await?
        .rows_affected();
    if inserted > 0 {
        return Ok(Claim::Claimed(c.held(now)));
    }
    const LOOKUP: &str = concat!(
        "SELECT body_hash, status, answer, owner, created_at FROM idempotency_keys WHERE ",
        where_key!()
    );
    let row: Stored = k
        .bound(sqlx::query(LOOKUP))
        .try_map(|r| sqlx::FromRow::from_row(&r))
        .fetch_one(&mut *cn)
        .await?;
    Ok(found(row, c.body_hash))
}

/// PostgreSQL: one statement. There every statement sees the latest commits, so a key that
/// made an insert conflict could be released before a second statement looked it up; the
/// upsert locks the row it conflicts with and returns it (`xmax` is 0 only on a row this
/// statement inserted).
async fn upsert(
    cn: &mut PgConnection,
    k: &KeyRef<'_>,
    c: &Claiming<'_>,
    now: i64,
) -> Result<Claim, sqlx::Error> {
    let sql = sql!(
        super::dialect::Dialect::Postgres,
        concat!(
            insert_claim!(),
            "DO UPDATE SET owner = idempotency_keys.owner \
             RETURNING (xmax = 0) AS inserted, body_hash, status, answer, owner, created_at"
        )
    );
    let row: Upserted = c
        .bound(sqlx::query(sql), k, now)
        .try_map(|r| sqlx::FromRow::from_row(&r))
        .fetch_one(&mut *cn)
        .await?;
    Ok(if row.inserted {
        Claim::Claimed(c.held(now))
    } else {
        found(row.stored, c.body_hash)
    })
}

impl Claiming<'_> {
    /// Binds a claim of `k` at `now` where the SQL is [`insert_claim`]'s (on either backend).
    fn bound<'q, DB>(
        &self,
        q: Query<'q, DB, <DB as Database>::Arguments>,
        k: &KeyRef<'_>,
        now: i64,
    ) -> Query<'q, DB, <DB as Database>::Arguments>
    where
        DB: Database,
        for<'t> &'t str: Encode<'t, DB> + Type<DB>,
        i64: for<'t> Encode<'t, DB> + Type<DB>,
    {
        k.bound(q)
            .bind(self.body_hash)
            .bind(self.name)
            .bind(self.owner)
            .bind(now)
    }

    /// The claim this caller holds when its insert at `at` went in.
    fn held(&self, at: i64) -> Held {
        Held {
            owner: self.owner.to_string(),
            at,
        }
    }
}

/// A claim's upsert on PostgreSQL: whether it inserted, and the key as it now stands.
#[derive(sqlx::FromRow)]
struct Upserted {
    inserted: bool,
    #[sqlx(flatten)]
    stored: Stored,
}

/// What a key already on record means for a claim of `body_hash`.
fn found(row: Stored, body_hash: &str) -> Claim {
    match (row.body_hash == body_hash, row.status, row.answer) {
        (false, _, _) => Claim::OtherBody,
        (true, Some(s), Some(a)) => Claim::Answered(u16::try_from(s).unwrap_or(201), a),
        (true, _, _) => Claim::InFlight {
            since: row.created_at,
            owner: row.owner,
        },
    }
}

/// Takes over an unanswered claim made at `since` (by a process that is gone): the claim this
/// caller now holds, or `None` when another retry took it first or it was answered meanwhile.
pub async fn take_over(
    db: &Db,
    k: &KeyRef<'_>,
    since: i64,
    owner: &str,
) -> Result<Option<Held>, sqlx::Error> {
    const SQL: &str = concat!(
        "UPDATE idempotency_keys SET owner = ?, created_at = ? \
         WHERE status IS NULL AND created_at = ? AND ",
        where_key!()
    );
    let at = now();
    let n = write!(db, |p, d| {
        let q = sqlx::query(sql!(d, SQL)).bind(owner).bind(at).bind(since);
        k.bound(q).execute(p).await.map(|r| r.rows_affected())
    })?;
    Ok((n == 1).then(|| Held {
        owner: owner.to_string(),
        at,
    }))
}

/// Records the answer of the claim `held`; false when it is no longer this holder's.
pub async fn complete(
    db: &Db,
    k: &KeyRef<'_>,
    held: &Held,
    status: u16,
    answer: &str,
) -> Result<bool, sqlx::Error> {
    const SQL: &str = concat!(
        "UPDATE idempotency_keys SET status = ?, answer = ? \
         WHERE status IS NULL AND owner = ? AND created_at = ? AND ",
        where_key!()
    );
    let n = write!(db, |p, d| {
        let q = sqlx::query(sql!(d, SQL))
            .bind(i64::from(status))
            .bind(answer);
        let q = q.bind(&held.owner).bind(held.at);
        k.bound(q).execute(p).await.map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Forgets the claim `held` whose creation failed, so a retry may try again; false when it
/// is no longer this holder's.
pub async fn release(db: &Db, k: &KeyRef<'_>, held: &Held) -> Result<bool, sqlx::Error> {
    const SQL: &str = concat!(
        "DELETE FROM idempotency_keys \
         WHERE status IS NULL AND owner = ? AND created_at = ? AND ",
        where_key!()
    );
    let n = write!(db, |p, d| {
        let q = sqlx::query(sql!(d, SQL)).bind(&held.owner).bind(held.at);
        k.bound(q).execute(p).await.map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}
