//! Integration tests of prompt-manager live in `tests/` of this package.
