//! `sqlx::migrate!` embeds the migration files at compile time; make Cargo rebuild this crate when
//! they change (the macro alone does not reliably tell Cargo about new or edited files).

fn main() {
    println!("cargo:rerun-if-changed=../../migrations/sqlite");
    println!("cargo:rerun-if-changed=../../migrations/postgres");
}
