//! Criterion benchmarks of prompt-manager live in `benches/` of this package.
