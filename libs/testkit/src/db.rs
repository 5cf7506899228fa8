//! Fresh Postgres databases per test.
