//! SQL store on SQLite and PostgreSQL.
