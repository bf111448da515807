// Re-embed migrations when a file under migrations/ changes (sqlx::migrate! reads them at compile
// time). Cargo scans a watched directory recursively, so this one line covers both backends'
// sets: migrations/sqlite and migrations/postgres.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
