//! What a caller may see, as the three parameters of the `visible!()` SQL predicate. The
//! auth layer decides them (`auth::scope::Visibility::filter`); the store only binds them.

use sqlx::postgres::PgArguments;
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::sqlite::SqliteArguments;
use sqlx::{Postgres, Sqlite};

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

/// The impls of [`Visible`] for one backend's query types.
macro_rules! visible_impls {
    ($db:ty, $args:ty) => {
        impl<'q> Visible for Query<'q, $db, $args> {
            fn visible_to(self, f: &Filter) -> Self {
                self.bind(f.all)
                    .bind(f.projects_json.clone())
                    .bind(f.tenant)
            }
        }

        impl<'q, O> Visible for QueryAs<'q, $db, O, $args> {
            fn visible_to(self, f: &Filter) -> Self {
                self.bind(f.all)
                    .bind(f.projects_json.clone())
                    .bind(f.tenant)
            }
        }

        impl<'q, T> Visible for QueryScalar<'q, $db, T, $args> {
            fn visible_to(self, f: &Filter) -> Self {
                self.bind(f.all)
                    .bind(f.projects_json.clone())
                    .bind(f.tenant)
            }
        }
    };
}

visible_impls!(Sqlite, SqliteArguments);
visible_impls!(Postgres, PgArguments);
