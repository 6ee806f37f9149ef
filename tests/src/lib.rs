//! Integration tests of prompt-manager live in `tests/` of this package. This library holds what
//! the `store-worker` helper process (`src/bin/store-worker.rs`) and the tests that drive it must
//! agree on: the content it writes and the lines it prints; and a fresh PostgreSQL schema per test.

pub mod postgres;
pub mod worker;
