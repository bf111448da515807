//! The two SQL dialects of the store. Queries are written once, in SQLite's spelling with `?`
//! placeholders; [`postgres`] turns that text into PostgreSQL's, once per query (see `sql!`).
//! What the translation cannot express is written twice at its call site
//! (`sql!(d, sqlite: "…", postgres: "…")`), so every dialect difference is either here or
//! visibly side by side.

/// Which backend a query is about to run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// A query built at run time (not a constant): the backend's text of it.
    pub fn text(self, sql: &str) -> String {
        match self {
            Dialect::Sqlite => sql.to_owned(),
            Dialect::Postgres => postgres(sql),
        }
    }

    /// `LIMIT` for "no limit": SQLite takes -1, PostgreSQL NULL.
    pub fn limit(self, limit: i64) -> Option<i64> {
        match self {
            Dialect::Postgres if limit < 0 => None,
            _ => Some(limit),
        }
    }
}

/// PostgreSQL's text of a query written for SQLite:
/// - `?` placeholders become `$1`, `$2`, … (not inside quotes);
/// - `json_each(?)` (a JSON array parameter as rows named `value`) becomes
///   `jsonb_array_elements_text(CAST($n AS jsonb))`, whose rows are named `value` too;
/// - `group_concat(` becomes `string_agg(` (same arguments, `ORDER BY` inside included).
pub fn postgres(sql: &str) -> String {
    let sql = sql
        .replace(
            "json_each(?)",
            "jsonb_array_elements_text(CAST(? AS jsonb))",
        )
        .replace("group_concat(", "string_agg(");
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    let mut quote: Option<char> = None;
    for ch in sql.chars() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(ch),
            (None, '?') => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
                continue;
            }
            _ => {}
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_quotes() {
        assert_eq!(
            postgres("SELECT a FROM t WHERE b = ? AND c = '?' AND d = ?"),
            "SELECT a FROM t WHERE b = $1 AND c = '?' AND d = $2"
        );
        assert_eq!(postgres(r#"SELECT "?", ?"#), r#"SELECT "?", $1"#);
    }

    #[test]
    fn json_arrays_and_aggregates_are_spelled_for_postgres() {
        assert_eq!(
            postgres("x IN (SELECT value FROM json_each(?)) AND y = ?"),
            "x IN (SELECT value FROM jsonb_array_elements_text(CAST($1 AS jsonb))) AND y = $2"
        );
        assert_eq!(
            postgres("group_concat(j, ',' ORDER BY n)"),
            "string_agg(j, ',' ORDER BY n)"
        );
    }

    #[test]
    fn no_limit_is_null_on_postgres() {
        assert_eq!(Dialect::Sqlite.limit(-1), Some(-1));
        assert_eq!(Dialect::Postgres.limit(-1), None);
        assert_eq!(Dialect::Postgres.limit(50), Some(50));
    }
}
