//! Write transactions on the single writer connection that survive a failed commit.
//!
//! sqlx counts transaction depth itself: when `COMMIT` fails (disk full) SQLite may already
//! have rolled the transaction back, the `ROLLBACK` on drop then fails too, and the pooled
//! connection keeps a depth of 1 for ever — every later `begin_with` fails with "attempted to
//! call begin_with at non-zero transaction depth" until a restart. Here the transaction is
//! plain SQL on a pooled connection, and a transaction that does not end in a successful
//! commit closes its connection: SQLite rolls back whatever is open, and the pool opens a
//! fresh, correctly configured connection for the next writer.

use std::ops::{Deref, DerefMut};

use sqlx::pool::PoolConnection;
use sqlx::{Sqlite, SqliteConnection};

use super::Db;

pub struct WriteTx {
    conn: PoolConnection<Sqlite>,
    committed: bool,
    db: Db,
    /// Whether the commit moves the mirror's generation (see [`begin_bookkeeping`]).
    bumps: bool,
}

/// `BEGIN IMMEDIATE` on the writer connection.
pub async fn begin(db: &Db) -> Result<WriteTx, sqlx::Error> {
    begin_with(db, true).await
}

/// `BEGIN IMMEDIATE` for rows no mirror answer is built from (the webhook outbox, fleet page
/// sessions, idempotency keys): committing leaves the mirror's generation, and so the response cache, alone.
pub async fn begin_bookkeeping(db: &Db) -> Result<WriteTx, sqlx::Error> {
    begin_with(db, false).await
}

async fn begin_with(db: &Db, bumps: bool) -> Result<WriteTx, sqlx::Error> {
    let mut conn = db.writer.acquire().await?;
    if let Err(e) = sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut *conn).await {
        // The connection may be in any state now; never hand it out again.
        conn.close_on_drop();
        return Err(e);
    }
    Ok(WriteTx {
        conn,
        committed: false,
        db: db.clone(),
        bumps,
    })
}

impl WriteTx {
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        sqlx::raw_sql("COMMIT").execute(&mut *self.conn).await?;
        self.committed = true;
        if self.bumps {
            self.db.bump_generation();
        }
        Ok(())
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if !self.committed {
            // Closing rolls back; the pool replaces the connection.
            self.conn.close_on_drop();
        }
    }
}

impl Deref for WriteTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.conn
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }
}
