//! Domain types and pure logic shared by every crate.
