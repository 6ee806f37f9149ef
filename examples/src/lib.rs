//! Runnable examples of prompt-manager live in this package's `examples` (see `basic_usage.rs`).
