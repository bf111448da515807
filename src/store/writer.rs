//! Write transactions on the single writer connection that survive a failed commit.
//!
//! sqlx counts transaction depth itself: when `COMMIT` fails (disk full) SQLite may already
//! have rolled the transaction back, the `ROLLBACK` on drop then fails too, and the pooled
//! connection keeps a depth of 1 for ever — every later `begin_with` fails with "attempted to
//! call begin_with at non-zero transaction depth" until a restart. Here the transaction is
//! plain SQL on a pooled connection, and a transaction that does not end in a successful
//! commit closes its connection: SQLite rolls back whatever is open, and the pool opens a
//! fresh, correctly configured connection for the next writer.

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, Postgres, Sqlite, SqliteConnection};

use super::{Db, Pools};

/// The connection a write transaction holds, of either backend.
enum TxConn {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

/// A write transaction's connection, as `on!` runs a statement on it.
pub enum ConnRef<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

pub struct WriteTx {
    conn: TxConn,
    committed: bool,
    db: Db,
    /// Whether the commit raises the mirror's generation (see [`begin_bookkeeping`]).
    bumps: bool,
}

/// A write transaction: `BEGIN IMMEDIATE` on SQLite's writer connection (the write lock at
/// once, so it never fails half-way on a busy file), `BEGIN` on PostgreSQL.
pub async fn begin(db: &Db) -> Result<WriteTx, sqlx::Error> {
    begin_with(db, true).await
}

/// A write transaction for rows no mirror answer is built from (the webhook outbox, fleet page
/// sessions, idempotency keys): committing leaves the mirror's generation, and so the response cache, alone.
pub async fn begin_bookkeeping(db: &Db) -> Result<WriteTx, sqlx::Error> {
    begin_with(db, false).await
}

async fn begin_with(db: &Db, bumps: bool) -> Result<WriteTx, sqlx::Error> {
    let conn = match &db.pools {
        Pools::Sqlite { writer, .. } => TxConn::Sqlite(writer.acquire().await?),
        Pools::Postgres { pool } => TxConn::Postgres(pool.acquire().await?),
    };
    let mut tx = WriteTx {
        conn,
        committed: false,
        db: db.clone(),
        bumps,
    };
    let begun = match &mut tx.conn {
        TxConn::Sqlite(c) => sqlx::raw_sql("BEGIN IMMEDIATE")
            .execute(&mut **c)
            .await
            .map(drop),
        TxConn::Postgres(c) => sqlx::raw_sql("BEGIN").execute(&mut **c).await.map(drop),
    };
    // On failure the connection may be in any state: dropping `tx` closes it.
    begun.map(|_| tx)
}

impl WriteTx {
    /// Commits; a mirror write raises the generation in the same transaction, last (see
    /// [`super::generation::raise`]), and this process takes the new value on at once.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        let raised = if self.bumps {
            Some(super::generation::raise(&mut self).await?)
        } else {
            None
        };
        match &mut self.conn {
            TxConn::Sqlite(c) => {
                sqlx::raw_sql("COMMIT").execute(&mut **c).await?;
            }
            TxConn::Postgres(c) => {
                sqlx::raw_sql("COMMIT").execute(&mut **c).await?;
            }
        }
        self.committed = true;
        if let Some(value) = raised {
            self.db.observe_generation(value);
        }
        Ok(())
    }

    /// The connection, for `on!`.
    pub fn conn(&mut self) -> ConnRef<'_> {
        match &mut self.conn {
            TxConn::Sqlite(c) => ConnRef::Sqlite(c),
            TxConn::Postgres(c) => ConnRef::Postgres(c),
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if !self.committed {
            // Closing rolls back; the pool replaces the connection.
            match &mut self.conn {
                TxConn::Sqlite(c) => c.close_on_drop(),
                TxConn::Postgres(c) => c.close_on_drop(),
            }
        }
    }
}
