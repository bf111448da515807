//! A scratch database on a PostgreSQL server: created empty for one benchmark run, dropped
//! after it (unless kept for a look at its plans).

use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;

pub struct Scratch {
    /// The server's URL, as given (the admin connection goes to its database).
    server: String,
    pub name: String,
    /// The URL of the new database.
    pub url: String,
}

impl Scratch {
    /// A new, empty database with a unique name on `server`.
    pub async fn create(server: &str) -> anyhow::Result<Scratch> {
        let n: u64 = rand::random();
        // Lower-case letters and digits only: a valid identifier without quoting.
        let name = format!("bench_{n:016x}");
        admin(server, &format!("CREATE DATABASE {name}")).await?;
        let mut url = url::Url::parse(server)?;
        url.set_path(&name);
        Ok(Scratch {
            server: server.to_string(),
            name,
            url: url.to_string(),
        })
    }

    /// Drops the database; `FORCE` ends a connection a killed server child may have left.
    pub async fn drop(self) -> anyhow::Result<()> {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        admin(&self.server, &sql).await
    }
}

/// Runs one statement on the server's own database.
async fn admin(server: &str, sql: &str) -> anyhow::Result<()> {
    let mut conn = server.parse::<PgConnectOptions>()?.connect().await?;
    sqlx::Executor::execute(&mut conn, sqlx::AssertSqlSafe(sql.to_string())).await?;
    sqlx::Connection::close(conn).await?;
    Ok(())
}
