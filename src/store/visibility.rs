//! What a caller may see, as the three parameters of the `visible!()` SQL predicate. The
//! auth layer decides them (`auth::scope::Visibility::filter`); the store only binds them.

use sqlx::Sqlite;
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::sqlite::SqliteArguments;

/// Everything?, the visible project uids as a JSON array, tenant objects too?
#[derive(Debug, Clone)]
pub struct Filter {
    pub all: bool,
    pub projects_json: String,
    /// The same projects, for rows tested in memory ([`Filter::admits`]).
    pub projects: Vec<String>,
    pub tenant: bool,
}

impl Filter {
    /// What `visible!()` decides, for an object of `project` (None: the tenant's) already read.
    pub fn admits(&self, project: Option<&str>) -> bool {
        self.all
            || match project {
                Some(p) => self.projects.iter().any(|v| v == p),
                None => self.tenant,
            }
    }
}

/// Binds a [`Filter`] where the query's SQL has `visible!()`.
pub trait Visible: Sized {
    fn visible_to(self, f: &Filter) -> Self;
}

impl<'q> Visible for Query<'q, Sqlite, SqliteArguments> {
    fn visible_to(self, f: &Filter) -> Self {
        self.bind(f.all)
            .bind(f.projects_json.clone())
            .bind(f.tenant)
    }
}

impl<'q, O> Visible for QueryAs<'q, Sqlite, O, SqliteArguments> {
    fn visible_to(self, f: &Filter) -> Self {
        self.bind(f.all)
            .bind(f.projects_json.clone())
            .bind(f.tenant)
    }
}

impl<'q, T> Visible for QueryScalar<'q, Sqlite, T, SqliteArguments> {
    fn visible_to(self, f: &Filter) -> Self {
        self.bind(f.all)
            .bind(f.projects_json.clone())
            .bind(f.tenant)
    }
}
